"""Whole-file prediction speed: `core.predict` against transformers' `pipeline`, side by side.

    .venv/bin/python bench/predict_speed.py --rows 1000 --rounds 3

Model: the embedded MiniLM (22.7 M parameters) with a LoRA adapter (r 8 on query/value, random
non-zero weights: speed does not depend on what was learned) saved as a run folder, loaded back
the way a user would (`PeftModel.from_pretrained`). Data: the first --rows sentences of SUBJ's
test split (../shared/datasets/subj_test.tsv, real lengths), max length 128.

Paths, all in ONE process, alternating in each round, so load from other programs on a shared
machine hits them alike (read the ratios, not the absolute rows/s):

(a) loop: `pipeline("text-classification")` called once per row (the plain way);
(b) pipeline batched: the same pipeline given the whole list with `batch_size` (the library's flag);
(c) pipeline batched on the merged model (`merge_and_unload`), to separate the two effects;
(d) app: `core.predict.predict_probabilities` on `load_merged_classifier` (tokenised once,
    length-sorted batches, inference mode, merged LoRA).

Quality: every path must give the same labels; the share of rows where (b)-(d) agree with (a) and
the largest probability difference are printed. Model loading is outside the timed part.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SUBJ = ROOT.parent / "shared" / "datasets" / "subj_test.tsv"
LABELS = ["0", "1"]


def read_sentences(rows: int) -> list[str]:
    """The first `rows` SUBJ test sentences (headerless `sentence<TAB>label`)."""
    lines = SUBJ.read_text(encoding="utf-8").splitlines()
    return [line.rsplit("\t", 1)[0] for line in lines[:rows]]


def make_run(root: Path, max_length: int) -> Path:
    """A run folder holding config.yaml and a LoRA adapter on the embedded MiniLM."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core import runs
    from core.models import embedded_model_path
    from core.settings import EMBEDDED_MODEL, RunConfig

    run_dir = runs.create_run(
        RunConfig(name="bench").replace(training={"max_length": max_length}), root=root
    )
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(
        embedded_model_path(), num_labels=2, id2label=dict(enumerate(LABELS))
    )
    lora = LoraConfig(
        task_type="SEQ_CLS",
        r=8,
        lora_alpha=16,
        target_modules=["query", "value"],
        init_lora_weights=False,
    )
    adapter = run_dir / runs.ADAPTER_DIR
    get_peft_model(base, lora).save_pretrained(adapter)
    AutoTokenizer.from_pretrained(embedded_model_path()).save_pretrained(adapter)
    meta = {
        "labels": LABELS,
        "base_model": EMBEDDED_MODEL,
        "method": "lora",
        "task": "classification",
    }
    (adapter / "labels.json").write_text(json.dumps(meta))
    return run_dir


def pipeline_paths(run_dir: Path, max_length: int, batch_size: int) -> dict:
    """(a), (b), (c): functions texts -> [(label, probability)] over transformers' pipeline."""
    from transformers import pipeline

    from core.evaluate import load_classifier

    plain = load_classifier(run_dir)
    merged = load_classifier(run_dir)
    merged.model = merged.model.merge_and_unload()
    options = {"truncation": True, "max_length": max_length}
    pipe = pipeline("text-classification", model=plain.model, tokenizer=plain.tokenizer)
    pipe_merged = pipeline("text-classification", model=merged.model, tokenizer=merged.tokenizer)

    def answers(outputs):
        return [
            (
                LABELS[int(o["label"].split("_")[-1])]
                if o["label"].startswith("LABEL_")
                else o["label"],
                o["score"],
            )
            for o in outputs
        ]

    return {
        "a pipeline loop": lambda texts: answers([pipe(t, **options)[0] for t in texts]),
        "b pipeline batched": lambda texts: answers(pipe(texts, batch_size=batch_size, **options)),
        "c pipeline batched, merged": lambda texts: answers(
            pipe_merged(texts, batch_size=batch_size, **options)
        ),
    }


def app_path(run_dir: Path, batch_size: int):
    """(d): texts -> [(label, probability)] through core.predict."""
    from core.predict import load_merged_classifier, predict_probabilities

    classifier = load_merged_classifier(run_dir)

    def run(texts):
        probs = predict_probabilities(classifier, texts, batch_size=batch_size)
        return [(LABELS[j], float(probs[i, j])) for i, j in enumerate(probs.argmax(-1))]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    import torch

    texts = read_sentences(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = make_run(Path(tmp), args.max_length)
        paths = pipeline_paths(run_dir, args.max_length, args.batch_size)
        paths["d app (core.predict)"] = app_path(run_dir, args.batch_size)
        names = list(paths)
        rates: dict[str, list[float]] = {name: [] for name in names}
        answers = {}
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                started = time.perf_counter()
                answers[name] = paths[name](texts)
                rates[name].append(len(texts) / (time.perf_counter() - started))
    print(
        f"{len(texts)} SUBJ rows, batch {args.batch_size}, max length {args.max_length}, "
        f"{args.rounds} rounds, torch threads {torch.get_num_threads()}"
    )
    reference = answers[names[0]]
    counts = {label: sum(a[0] == label for a in reference) for label in LABELS}
    print(f"labels given by (a): {counts} (agreement means little if one label takes all)")
    for name in names:
        ratios = [r / a for r, a in zip(rates[name], rates[names[0]], strict=True)]
        agree = sum(x[0] == y[0] for x, y in zip(answers[name], reference, strict=True))
        gap = max(abs(x[1] - y[1]) for x, y in zip(answers[name], reference, strict=True))
        print(
            f"{name:28s} rows/s median {statistics.median(rates[name]):7.1f} "
            f"(rounds {', '.join(f'{r:.1f}' for r in rates[name])}); "
            f"× loop median {statistics.median(ratios):.2f} "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
            f"labels agree {agree}/{len(texts)}, max prob diff {gap:.1e}"
        )


if __name__ == "__main__":
    main()
