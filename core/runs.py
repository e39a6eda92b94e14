"""A run is a directory; this module is the one place that knows its layout.

    <data root>/runs/<run id>/
        config.yaml     the RunConfig the trainer reads (and nothing else)
        status.json     {"state", "step", "total_steps", "message", "pid", ...}, replaced atomically
        metrics.jsonl   one JSON object per logged step / evaluation, appended
        train.log       everything the training process printed
        eval.json       final validation metrics, confusion matrix and labels
        adapter/        the trained adapter (or full model), tokenizer and label map
        checkpoints/    Trainer checkpoints (resume from here)

The data root is `$STUDIO_DATA`, or `studio-data/` in the working directory (ignored by git).
On a server with sign-in each user's runs live apart, in `<data root>/users/<user>/runs/` (and
their uploads and dataset versions beside them, workspace_root()): the router names the session's
user (set_workspace) before any page runs, and runs_root() follows it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from core.settings import RunConfig

CONFIG_FILE = "config.yaml"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
EVAL_FILE = "eval.json"
ADAPTER_DIR = "adapter"
CHECKPOINT_DIR = "checkpoints"

ACTIVE_STATES = ("queued", "starting", "running", "stopping")
# "lost": a recorded process's pid now belongs to another program, so the job cannot be reached.
FINAL_STATES = ("completed", "stopped", "failed", "lost")


def data_root() -> Path:
    root = Path(os.environ.get("STUDIO_DATA", "studio-data")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


# The user whose workspace this thread serves: Streamlit runs each session's script in its own
# thread, and app.py sets it at the top of every run (None: the single local user).
_workspace = threading.local()


def set_workspace(user: str | None) -> None:
    """Serve `user`'s runs from this thread on (None: the shared runs folder of a local install)."""
    _workspace.user = user


def workspace_user() -> str | None:
    return getattr(_workspace, "user", None)


def user_folder(user: str) -> str:
    """A folder name for a user name or e-mail: readable, and distinct for distinct names."""
    readable = re.sub(r"[^a-z0-9._-]+", "_", user.lower()).strip("._")[:40] or "user"
    return f"{readable}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


def workspace_root() -> Path:
    """This thread's user's data folder: `<data root>/users/<user>/` when signed in, else the data
    root itself. Uploads, dataset versions and runs of a signed-in user live under it."""
    user = workspace_user()
    return data_root() / "users" / user_folder(user) if user else data_root()


def workspace_of(run_dir: Path) -> Path:
    """The workspace a run directory belongs to, at any depth (an Auto trial's too): its user's
    folder under `<data root>/users/`, else the data root. The trainer, which serves no session,
    finds its user's settings (tracking) this way."""
    users = data_root() / "users"
    for parent in Path(run_dir).resolve().parents:
        if parent.parent == users:
            return parent
    return data_root()


def runs_root() -> Path:
    """The runs folder of this thread's user (see set_workspace)."""
    path = workspace_root() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def all_runs_roots() -> list[Path]:
    """Every user's runs folder, and the shared one (for an admin)."""
    return [data_root() / "runs"] + sorted((data_root() / "users").glob("*/runs"))


def device_lock(run_dir: Path) -> Path:
    """The lock that lets one job at a time use the device: shared by every user's runs."""
    parent = Path(run_dir).resolve().parent
    users = data_root() / "users"
    return (data_root() / "runs" if users in parent.parents else parent) / ".device.lock"


def create_run(config: RunConfig, root: Path | None = None) -> Path:
    """Make a new run directory holding `config.yaml` and a 'queued' status.

    Returns:
        The run directory; its name is a sortable time stamp plus the config's name.
    """
    root = root or runs_root()
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", config.name or "run").strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    run_dir, suffix = root / f"{stamp}-{slug}", 1
    while True:  # mkdir is the claim: two sessions starting in the same second get two folders
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            suffix += 1
            run_dir = root / f"{stamp}-{slug}-{suffix}"
    config.save(run_dir / CONFIG_FILE)
    write_status(run_dir, state="queued", message="Waiting to start", step=0, total_steps=0)
    return run_dir


def write_status(run_dir: Path, **changes) -> dict:
    """Merge `changes` into status.json.

    The read-modify-write holds a lock (the trainer, the supervisor and every browser tab write
    here), and the file is replaced atomically so readers never see half of it.
    """
    run_dir = Path(run_dir)
    with open(run_dir / ".status.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = read_status(run_dir)
        status.update(changes, updated=time.time())
        try:
            write_json_atomic(run_dir / STATUS_FILE, status)
        except OSError as err:
            if err.errno != errno.ENOSPC or not _rewrite_in_place(run_dir / STATUS_FILE, status):
                raise
    return status


def _rewrite_in_place(path: Path, data) -> bool:
    """On a full disk, overwrite the file's own blocks (a new file needs new ones), so the final
    state still reaches status.json. One write of under a page; False when it would not fit."""
    text = json.dumps(data).encode()
    try:
        with open(path, "r+b") as out:
            allocated = os.fstat(out.fileno()).st_blocks * 512
            if len(text) > max(allocated, len(out.read())):
                return False
            out.seek(0)
            out.write(text)
            out.truncate()
        return True
    except OSError:
        return False


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to a unique temporary file beside `path`, then rename it over `path`.

    On failure (a full disk) the temporary file is removed and `path` keeps its old content.
    """
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_status(run_dir: Path) -> dict:
    path = Path(run_dir) / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(Path(run_dir) / METRICS_FILE, "a") as out:
        out.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    """All metric records so far; a half-written last line (the trainer is mid-write) is skipped."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def tail_log(run_dir: Path, lines: int = 30) -> str:
    path = Path(run_dir) / LOG_FILE
    if not path.exists():
        return ""
    with open(path, "rb") as log:
        log.seek(0, os.SEEK_END)
        size = log.tell()
        log.seek(max(0, size - 64_000))
        text = log.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def read_eval(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / EVAL_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_config(run_dir: Path) -> RunConfig:
    return RunConfig.load(Path(run_dir) / CONFIG_FILE)


def list_runs(root: Path | None = None) -> list[Path]:
    """Run directories, newest first."""
    root = root or runs_root()
    runs = [p for p in root.iterdir() if (p / CONFIG_FILE).exists()] if root.exists() else []
    return sorted(runs, key=lambda p: p.name, reverse=True)
