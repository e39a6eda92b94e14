"""Which checkpoints are complete: a checkpoint counts only once every file of it is on disk.

transformers' Trainer writes `checkpoint-N/` file by file (weights, optimizer, scheduler, RNG state
of each rank, trainer state); a process killed part-way leaves a folder that looks like a checkpoint
and cannot be resumed from. StudioTrainer writes MARKER into the folder last, after every rank has
finished its files, and resume takes the newest folder that has it. Folders without it are partial
saves and are removed when a run resumes.

Checkpoints written before the marker existed count as complete when their trainer_state.json (the
last file the Trainer writes) reads as JSON.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

MARKER = "studio-checkpoint-complete.json"
PATTERN = re.compile(r"checkpoint-(\d+)")


def mark_complete(folder: Path, step: int) -> None:
    """Record that the checkpoint in `folder` is whole (call after every file is written)."""
    tmp = Path(folder) / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"step": step}))
    tmp.replace(Path(folder) / MARKER)


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds a whole checkpoint (see the module docstring)."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    try:
        json.loads((folder / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def checkpoint_folders(root: Path) -> list[Path]:
    """Every `checkpoint-N` folder under `root`, complete or not, by step."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and PATTERN.fullmatch(p.name)]
    return sorted(found, key=lambda p: int(PATTERN.fullmatch(p.name).group(1)))


def complete_checkpoints(root: Path) -> list[Path]:
    """The complete checkpoints under `root`, oldest step first."""
    return [p for p in checkpoint_folders(root) if is_complete(p)]


def checkpoint_step(folder: Path) -> int:
    """N of `checkpoint-N`."""
    return int(PATTERN.fullmatch(Path(folder).name).group(1))


def remove_partial(root: Path) -> list[str]:
    """Delete the incomplete checkpoint folders under `root`; return their names."""
    removed = []
    for folder in checkpoint_folders(root):
        if not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
