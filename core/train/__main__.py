"""Train from a run directory's config file, headless or under a distributed launcher.

    python -m core.train --config studio-data/runs/<run>/config.yaml
    python -m core.train --config .../config.yaml --resume            # latest checkpoint
    torchrun --standalone --nproc_per_node 2 -m core.train --config .../config.yaml

Everything goes to the config's directory: metrics.jsonl, status.json, train.log, adapter/.
"""

from __future__ import annotations

import argparse
import sys

from core.train.stop import STOP

STOP.install()  # before the heavy imports below: a Stop during loading is honoured

from core.train.recipe import run_training  # noqa: E402


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
    return run_training(args.config, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
