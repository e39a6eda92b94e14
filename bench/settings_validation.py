"""Cost of checking a run config: the pydantic schema against the dataclasses it replaced.

    git show bf4c7fc:core/settings.py > /tmp/old_settings.py
    .venv/bin/python bench/settings_validation.py /tmp/old_settings.py

`RunConfig.replace` rebuilds and re-checks the whole config; the pages call it on every rerun and
the estimator once per candidate fix, so its cost is the one that matters. Both versions run in
one process, interleaved (old, new, old, new ...); the best round of each is reported, and the
ratio new / old is what to read on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core.settings as new  # noqa: E402


def load_module(path: str, name: str = "old_settings"):
    """Import a settings.py from a file (an older version from git)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def microseconds_per_replace(module, n: int) -> float:
    config = module.RunConfig()
    start = time.perf_counter()
    for i in range(n):
        config = config.replace(training={"learning_rate": 1e-3 + i * 1e-9}, lora={"r": 8})
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old_settings", help="path of the dataclass settings.py to compare")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    old = load_module(args.old_settings)
    times = {"old": [], "new": []}
    for _ in range(args.rounds):
        times["old"].append(microseconds_per_replace(old, args.calls))
        times["new"].append(microseconds_per_replace(new, args.calls))
    best_old, best_new = min(times["old"]), min(times["new"])
    print(f"RunConfig.replace: dataclasses {best_old:.0f} µs, pydantic {best_new:.0f} µs")
    print(f"ratio pydantic / dataclasses: {best_new / best_old:.2f} (best of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
