"""Train from a run directory's config file, headless or under a distributed launcher.

    python -m core.train --config studio-data/runs/<run>/config.yaml
    python -m core.train --config .../config.yaml --resume            # latest checkpoint
    torchrun --standalone --nproc_per_node 2 -m core.train --config .../config.yaml

Everything goes to the config's directory: metrics.jsonl, status.json, train.log, adapter/.
A config that cannot be used stops the command before anything there is written: one line per
problem (the setting, the value, what is allowed) on stderr and exit code 2, like a bad option.
"""

from __future__ import annotations

import argparse
import sys

from core.train.stop import STOP

STOP.install()  # before the heavy imports below: a Stop during loading is honoured

from core.settings import ConfigError, RunConfig  # noqa: E402
from core.train.recipe import run_training  # noqa: E402

BAD_CONFIG_EXIT = 2  # what argparse returns for a bad option; a bad config is one too


def config_problems(path: str) -> list[str]:
    """Why the config file at `path` cannot be run, one line each; empty when it can."""
    try:
        RunConfig.load(path)
    except ConfigError as err:
        return [line if line.startswith(path) else f"{path}: {line}" for line in err.problems]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", required=True, help="path to RUN_DIR/config.yaml")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="resume from the latest checkpoint in the run directory, or from the given one",
    )
    args = parser.parse_args(argv)
    problems = config_problems(args.config)
    if problems:
        print("\n".join(f"error: {line}" for line in problems), file=sys.stderr)
        return BAD_CONFIG_EXIT
    return run_training(args.config, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
