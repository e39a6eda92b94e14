"""Run heavy, pure work in a separate process, with progress, so the server stays responsive.

Streamlit serves every user from one Python process: a 20-second pandas job in one session's
thread holds the interpreter lock for much of that time and slows every other page, and its peak
memory stays with the server. A spawned worker has its own interpreter and gives its memory back
when it ends. Small inputs stay in-process (starting a worker costs about a second of imports).

    report = quality_report_for(path, mapping, max_length=128, progress=callback)
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue as queue_module
from collections.abc import Callable
from pathlib import Path

WORKER_MIN_BYTES = 5 * 2**20  # files above 5 MB (about 50k rows of reviews) get a worker
Progress = Callable[[float, str], None]


class WorkerError(RuntimeError):
    """The worker died without an answer (killed, or out of memory)."""


def _child(out, fn, args, kwargs) -> None:
    def progress(done: float, what: str) -> None:
        out.put(("progress", (done, what)))

    try:
        out.put(("result", fn(*args, progress=progress, **kwargs)))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the caller
        try:
            pickle.dumps(err)
        except Exception:  # noqa: BLE001 - an exception that cannot travel: send its words
            err = RuntimeError(f"{type(err).__name__}: {err}")
        out.put(("error", err))


def run_in_worker(fn: Callable, *args, progress: Progress | None = None, **kwargs):
    """`fn(*args, progress=..., **kwargs)` in a spawned process; its progress calls reach
    `progress` here. `fn` must be importable (module level) and its result picklable.

    Raises:
        whatever `fn` raised; WorkerError when the process died without an answer.
    """
    context = multiprocessing.get_context("spawn")  # never fork a threaded server
    out = context.Queue()
    process = context.Process(target=_child, args=(out, fn, args, kwargs), daemon=True)
    process.start()
    try:
        while True:
            try:
                kind, payload = out.get(timeout=0.5)
            except queue_module.Empty:
                if not process.is_alive():
                    raise WorkerError(
                        f"The background worker ended without an answer (exit code "
                        f"{process.exitcode}): killed, or out of memory."
                    ) from None
                continue
            if kind == "progress":
                if progress:
                    progress(*payload)
            elif kind == "error":
                raise payload
            else:
                return payload
    finally:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def _load_and_report(path: str, mapping: dict, progress: Progress | None = None, **options):
    from core.data.load import load_table
    from core.data.quality import quality_report

    return quality_report(load_table(path), mapping, progress=progress, **options)


def quality_report_for(path: str, mapping: dict, progress: Progress | None = None, **options):
    """The quality report of the file at `path`: in a worker process for a big file.

    Args:
        path: the data file; mapping and options: as core.data.quality.quality_report.
        progress: called with (fraction done, what) as the report goes.
    """
    try:
        big = Path(path).stat().st_size > WORKER_MIN_BYTES
    except OSError:
        big = False
    if big:
        return run_in_worker(_load_and_report, path, mapping, progress=progress, **options)
    return _load_and_report(path, mapping, progress=progress, **options)
