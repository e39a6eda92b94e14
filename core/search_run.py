"""Auto's background process: wait for the device, run the trials, keep the winner.

    python -m core.search_run <parent run dir>   # started by core.search.start_search

Its own module so that core.search (settings, budget, start) does not import the trial loop
(core.search_trials), which imports core.search.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
from pathlib import Path

from core import runs
from core.search import read_search, write_search
from core.search_trials import finish_search, search_loop


class _Stopping:
    """Set by SIGTERM (the job system's Stop): the search ends its trial and keeps the best."""

    requested = False

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(cls, "requested", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(cls, "requested", True))


def _wait_for_lock(lock) -> bool:
    """Wait for the device lock; False when Stop came first (a cancelled queued search)."""
    while not _Stopping.requested:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(1)
    return False


def run_search(parent: Path, say=print) -> dict:
    """Run the search of `parent` to the end; return its final status.

    Holds the runs folder's device lock for the whole search, so other jobs queue behind it (the
    trials take their own lock under trials/).
    """
    parent = Path(parent)
    _Stopping.install()
    runs.write_status(parent, pid=os.getpid(), supervisor_pid=os.getpid())
    with open(parent.parent / ".device.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            runs.write_status(parent, message="Auto: queued behind the running job")
            say("queued: waiting for the running job to finish")
            if not _wait_for_lock(lock):
                return runs.write_status(
                    parent, state="stopped", message="Cancelled before it began"
                )
        search = read_search(parent)
        search["started"] = time.time()
        write_search(parent, search)
        runs.write_status(parent, state="running", message="Auto: starting", started=time.time())
        try:
            search_loop(parent, _Stopping, say)
            return finish_search(parent, _Stopping, say)
        except Exception as err:  # noqa: BLE001 - the log keeps the traceback, the page the reason
            import traceback

            traceback.print_exc()
            return runs.write_status(
                parent, state="failed", message=f"Auto stopped with an error: {err}"
            )


if __name__ == "__main__":
    status = run_search(Path(sys.argv[1]))
    sys.exit(0 if status.get("state") != "failed" else 1)
