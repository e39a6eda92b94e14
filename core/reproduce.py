"""Reproduce a run from its card alone and say whether the result matches.

    python -m core.reproduce RUN_DIR     # starts a new run, waits, compares; exit 0 = match

Before anything starts, the differences between the card and this machine (library versions,
app commit, hardware, the model's content) are listed: they are the likely cause of any mismatch.
Data that no longer has the card's fingerprint is refused, because no result could match.
A match means, for classification, eval loss within 1e-4 and identical predictions on every row
of the data file (the first MAX_ROWS); for generation, eval loss within 1e-4.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core import runs
from core.card import (
    environment_differences,
    model_revision,
    read_card,
    start_adapter_section,
)
from core.settings import RunConfig

LOSS_TOLERANCE = 1e-4
MAX_ROWS = 2000  # predictions compared on at most this many rows of the data file
REPRODUCTION_FILE = "reproduction.json"


class ReproduceError(ValueError):
    """The card cannot be reproduced here; the message says why and what to do."""


def check_card(run_dir: Path) -> tuple[RunConfig, list[str]]:
    """The config to rerun and the differences to expect, checked before anything starts.

    Raises:
        ReproduceError: no card, a damaged card, data gone or changed.
    """
    card = read_card(run_dir)
    if not card:
        raise ReproduceError(
            f"{run_dir} has no readable card.json (runs from before cards have none): rerun its "
            "config with `python -m core.train --config config.yaml` instead."
        )
    try:
        config = RunConfig.from_dict(card["config"])
    except (KeyError, ValueError) as err:
        raise ReproduceError(f"The card in {run_dir} holds no usable config: {err}") from err
    _check_data(config, card)
    differences = environment_differences(card)
    differences += _model_differences(config, card)
    return config, differences


def _check_data(config: RunConfig, card: dict) -> None:
    path = Path(config.data.path)
    if not path.exists():
        raise ReproduceError(
            f"The run's data {path} is not on this machine: copy it to that path (its "
            f"fingerprint must be {card['data']['fingerprint']}), then reproduce again."
        )
    from core.data.lineage import data_fingerprint

    then, now = card["data"].get("fingerprint"), data_fingerprint(path)
    if then and then != now:
        raise ReproduceError(
            f"The data at {path} changed since the run (fingerprint {now}, the card says "
            f"{then}); no rerun on it can match. Restore the original file."
        )


def _model_differences(config: RunConfig, card: dict) -> list[str]:
    from core.models import ModelError, resolve_model_path

    then = card.get("model", {}).get("revision")
    try:
        now = model_revision(
            config.model.name_or_path, resolve_model_path(config.model.name_or_path)
        )
    except ModelError as err:
        return [f"model: {err}"]
    lines = []
    if then and now["revision"] and then != now["revision"]:
        lines.append(
            f"model {config.model.name_or_path}: revision {then} in the card, {now['revision']} here"
        )
    start = card.get("start_adapter")
    if start and start.get("revision"):
        here = start_adapter_section(config).get("start_adapter", {}).get("revision")
        if here != start["revision"]:
            lines.append(
                f"adapter started from ({start['path']}): revision {start['revision']} in the "
                f"card, {here or 'missing'} here"
            )
    return lines


def start_reproduction(run_dir: Path, root: Path | None = None) -> tuple[Path, list[str]]:
    """Start a new run from the card of `run_dir`; returns the new run directory and the
    differences listed before it started (also saved in its reproduction.json)."""
    from core import jobs

    run_dir = Path(run_dir)
    config, differences = check_card(run_dir)
    config = config.replace(name=f"reproduce-{config.name or 'run'}")
    new_dir = jobs.start_job(config, root=root or run_dir.parent)
    record = {"of": str(run_dir), "differences": differences}
    runs.write_json_atomic(new_dir / REPRODUCTION_FILE, record)
    return new_dir, differences


def read_reproduction(run_dir: Path) -> dict:
    """RUN_DIR/reproduction.json ({"of", "differences"[, "result"]}); {} for an ordinary run."""
    try:
        return json.loads((Path(run_dir) / REPRODUCTION_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def compare_runs(
    original: Path, new: Path, differences: list[str] | None = None, predictions: bool = True
) -> dict:
    """Whether `new` reproduces `original`: eval losses, predictions (unless `predictions` is
    False: it loads both models), verdict and likely causes."""
    first, second = runs.read_eval(original), runs.read_eval(new)
    if "eval_loss" not in first or "eval_loss" not in second:
        missing = original if "eval_loss" not in first else new
        return {"match": False, "reason": f"{missing} has no final evaluation (eval.json)"}
    delta = abs(first["eval_loss"] - second["eval_loss"])
    result = {
        "eval_loss": [first["eval_loss"], second["eval_loss"]],
        "eval_loss_delta": delta,
        "loss_within_tolerance": delta <= LOSS_TOLERANCE,
    }
    if "labels" in first and predictions:
        changed = changed_predictions(original, new)
        result["predictions_compared"] = changed["compared"]
        result["predictions_differing"] = changed["differing"]
        result["confusion_equal"] = first.get("confusion") == second.get("confusion")
    result["predictions_skipped"] = "labels" in first and not predictions
    result["match"] = result["loss_within_tolerance"] and not result.get("predictions_differing")
    result["likely_causes"] = [] if result["match"] else list(differences or [])
    return result


def changed_predictions(original: Path, new: Path) -> dict:
    """Predict the data file's rows with both adapters; how many were compared and differ."""
    from core.data.load import load_table
    from core.evaluate import load_classifier, predict

    config = runs.read_config(original)
    table = load_table(config.data.path)
    texts = [str(t) for t in table[config.data.text_column].head(MAX_ROWS)]
    if config.data.text_pair_column:  # the try-it classifier takes single texts only
        return {"compared": 0, "differing": 0}
    labels = []
    for run_dir in (original, new):
        classifier = load_classifier(run_dir)
        labels.append(
            [
                r["label"]
                for i in range(0, len(texts), 64)
                for r in predict(classifier, texts[i : i + 64])
            ]
        )
    differing = sum(a != b for a, b in zip(*labels, strict=True))
    return {"compared": len(texts), "differing": differing}


def summary_lines(result: dict) -> list[str]:
    """The comparison in words, for the CLI and the Runs page."""
    if "reason" in result:
        return [f"Not compared: {result['reason']}."]
    a, b = result["eval_loss"]
    lines = [
        f"eval loss {a:.6f} then, {b:.6f} now (difference {result['eval_loss_delta']:.2e}, "
        f"tolerance {LOSS_TOLERANCE:g})"
    ]
    if "predictions_compared" in result:
        lines.append(
            f"predictions: {result['predictions_differing']} of "
            f"{result['predictions_compared']} rows differ"
        )
    verdict = "REPRODUCED: the result matches." if result["match"] else "NOT reproduced."
    if result.get("predictions_skipped") and result["match"]:
        verdict = "REPRODUCED as far as eval loss shows (predictions not compared)."
    lines.append(verdict)
    if not result["match"]:
        causes = result["likely_causes"] or ["none found: same versions, commit and hardware"]
        lines += ["Likely causes:"] + [f"  - {c}" for c in causes]
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core import jobs

    parser = argparse.ArgumentParser(
        prog="python -m core.reproduce", description=__doc__.split("\n")[0]
    )
    parser.add_argument("run_dir", help="the run directory whose card.json to reproduce")
    run_dir = Path(parser.parse_args(argv).run_dir)
    try:
        new_dir, differences = start_reproduction(run_dir)
    except ReproduceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("Differences from the card:" if differences else "No differences from the card.")
    for line in differences:
        print(f"  - {line}")
    print(f"Reproducing into {new_dir}", flush=True)
    status = jobs.wait_for(new_dir, timeout=7 * 24 * 3600)
    if status.get("state") != "completed":
        print(f"The reproduction ended {status.get('state')}: {status.get('message')}")
        return 1
    result = compare_runs(run_dir, new_dir, differences)
    runs.write_json_atomic(
        new_dir / REPRODUCTION_FILE,
        {"of": str(run_dir), "differences": differences, "result": result},
    )
    print("\n".join(summary_lines(result)))
    print(json.dumps({k: v for k, v in result.items() if k != "likely_causes"}))
    return 0 if result["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
