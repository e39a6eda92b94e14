"""The reproducibility card: everything needed to run a training again and know why it differs.

The trainer writes `RUN_DIR/card.json` when a run starts (core.train.recipe), before any step:

    {"card_version", "created", "run", "model": {"name_or_path", "kind", "revision"},
     "data": {"path", "fingerprint", "recipe"}, "config": <the full resolved RunConfig>,
     "seeds": {"training", "split"}, "versions": {"python", "torch", ...}, "git": {"commit",
     "dirty"}, "hardware": {...}, "command": [...], "cwd"}

`revision` is the Hub commit sha for a Hub model (read from the local cache: the Hub is never
asked) or `sha256:<hex>` over every file of a local folder, so a changed checkpoint is caught.

    python -m core.card RUN_DIR             # print the card
    python -m core.reproduce RUN_DIR        # a new run from the card alone, compared
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from core import runs
from core.settings import RunConfig

CARD_FILE = "card.json"
CARD_VERSION = 1
LIBRARIES = ("torch", "transformers", "peft", "datasets", "accelerate", "trl", "mlflow")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def library_versions() -> dict:
    """Installed versions of the libraries that decide a run's numbers (None: not installed)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(root: Path = PROJECT_ROOT) -> dict:
    """This app's git commit and whether tracked files differ from it; None outside a checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty) if commit else None}


def hardware_summary() -> dict:
    """What the run ran on: CPU model and cores, RAM, GPUs as torch sees them."""
    from core.hardware import detect_hardware

    hardware = detect_hardware()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    summary = {
        "system": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "ram_gb": round(hardware.ram_gb, 1),
        "gpus": [],
    }
    try:
        import torch

        if torch.cuda.is_available():
            summary["gpus"] = [
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            ]
            summary["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return summary


def folder_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes, in a fixed order (a model's content)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def model_revision(name_or_path: str, model_path: str) -> dict:
    """The model's exact revision: the Hub commit of the cached snapshot, or a content hash."""
    resolved = Path(model_path)
    parts = resolved.parts
    if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
        sha = parts[parts.index("snapshots") + 1]  # HF cache layout: .../snapshots/<commit sha>/
        return {"name_or_path": name_or_path, "kind": "hub", "revision": sha}
    if resolved.is_dir():
        kind = "embedded" if name_or_path.startswith("embedded:") else "local"
        return {"name_or_path": name_or_path, "kind": kind, "revision": folder_hash(resolved)}
    return {"name_or_path": name_or_path, "kind": "hub", "revision": None}


def start_adapter_section(config: RunConfig) -> dict:
    """{"start_adapter": {"path", "revision"}} for a run that starts from a saved adapter
    (lora.init_from; the revision is a content hash, so a changed adapter is caught), else {}."""
    folder = config.lora.init_from
    if not folder:
        return {}
    path = Path(folder).expanduser()
    revision = folder_hash(path) if path.is_dir() else None
    return {"start_adapter": {"path": folder, "revision": revision}}


def data_section(config: RunConfig) -> dict:
    """The data's path, fingerprint and, for a saved version, the recipe that made it."""
    section = {"path": config.data.path, "fingerprint": config.data.fingerprint, "recipe": None}
    try:
        from core.data.lineage import read_version

        record = read_version(config.data.path) if config.data.path else None
    except (OSError, ValueError):
        record = None
    if record is not None:
        section.update(recipe=record.recipe, source=record.source, source_hash=record.source_hash)
        section["fingerprint"] = section["fingerprint"] or record.fingerprint
    return section


def build_card(run_dir: Path, config: RunConfig, model_path: str) -> dict:
    """The card of a run about to start, from its config and the model folder it will load."""
    return {
        "card_version": CARD_VERSION,
        "created": time.time(),
        "run": Path(run_dir).name,
        "model": model_revision(config.model.name_or_path, model_path),
        **start_adapter_section(config),
        "data": data_section(config),
        "config": config.to_dict(),
        "seeds": {"training": config.training.seed, "split": config.data.split_seed},
        "versions": library_versions(),
        "git": git_state(),
        "hardware": hardware_summary(),
        "command": [sys.executable, "-m", "core.train", *sys.argv[1:]],
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "cwd": os.getcwd(),
    }


def write_card(run_dir: Path, config: RunConfig, model_path: str) -> dict:
    """Build the card and write RUN_DIR/card.json atomically; returns the card."""
    card = build_card(run_dir, config, model_path)
    runs.write_json_atomic(Path(run_dir) / CARD_FILE, card)
    return card


def read_card(run_dir: Path) -> dict:
    """The run's card; {} when it has none (a run from before cards) or it is damaged."""
    try:
        return json.loads((Path(run_dir) / CARD_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def environment_differences(card: dict, here: dict | None = None) -> list[str]:
    """What differs between the machine and versions in `card` and those here, one line each.

    Args:
        card: a run's card.
        here: the same fields for this machine (default: measured now).
    """
    here = here or {
        "versions": library_versions(),
        "git": git_state(),
        "hardware": hardware_summary(),
    }
    lines = []
    for name, then in card.get("versions", {}).items():
        now = here["versions"].get(name)
        if then != now:
            lines.append(
                f"{name}: {then or 'not installed'} in the card, {now or 'not installed'} here"
            )
    then_commit, now_commit = card.get("git", {}).get("commit"), here["git"].get("commit")
    if then_commit != now_commit:
        lines.append(
            f"app commit: {then_commit or 'unknown'} in the card, {now_commit or 'unknown'} here"
        )
    for key in ("cpu", "cpu_cores", "gpus", "machine"):
        then, now = card.get("hardware", {}).get(key), here["hardware"].get(key)
        if then != now:
            lines.append(f"hardware {key}: {then} in the card, {now} here")
    return lines


def card_markdown(card: dict) -> list[str]:
    """A "Reproducibility" section for the model card (README.md); empty without a card."""
    if not card:
        return []
    versions = ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items() if v)
    git = card.get("git", {})
    commit = (git.get("commit") or "unknown") + (
        " (with local changes)" if git.get("dirty") else ""
    )
    hardware = card.get("hardware", {})
    return [
        "",
        "## Reproducibility",
        f"- Model revision: `{card['model'].get('revision') or 'unknown'}`",
        f"- Data fingerprint: `{card['data'].get('fingerprint') or 'n/a'}`",
        f"- Seeds: training {card['seeds']['training']}, split {card['seeds']['split']}",
        f"- Versions: {versions}; app commit `{commit}`",
        f"- Hardware: {hardware.get('cpu')}, {hardware.get('cpu_cores')} cores, "
        f"GPUs: {', '.join(hardware.get('gpus') or []) or 'none'}",
        "- Everything (full config, command): `card.json`. Reproduce and compare: "
        "`python -m core.reproduce RUN_DIR`.",
    ]


def card_text(card: dict) -> str:
    """The card as indented JSON, for the model card and the CLI."""
    return json.dumps(card, indent=1, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.card", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a run directory holding card.json")
    args = parser.parse_args(argv)
    card = read_card(Path(args.run_dir))
    if not card:
        print(
            f"error: no card.json in {args.run_dir} (runs from before cards have none)",
            file=sys.stderr,
        )
        return 2
    print(card_text(card))
    return 0


if __name__ == "__main__":
    sys.exit(main())
