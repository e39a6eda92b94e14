"""Read a classifier's results honestly, and use a trained adapter ("try it").

The report half works on eval.json alone (confusion matrix, labels, chance accuracy, a few
mistakes): per-class precision and recall, a verdict against guessing, mistakes grouped by the
confusion. The "try it" half loads base model + adapter once and predicts with probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core import runs
from core.models import resolve_model_path


@dataclass
class Classifier:
    model: object
    tokenizer: object
    labels: list[str]
    max_length: int


def adapter_meta(run_dir: Path) -> tuple[Path, dict]:
    """The run's adapter folder and its labels.json (labels, base model, method, task).

    Raises:
        FileNotFoundError: the run has no saved adapter yet.
    """
    adapter_dir = Path(run_dir) / runs.ADAPTER_DIR
    meta_file = adapter_dir / "labels.json"
    if not meta_file.exists():
        raise FileNotFoundError(
            f"No trained adapter in {adapter_dir}: the run has not saved one yet."
        )
    return adapter_dir, json.loads(meta_file.read_text())


def load_classifier(run_dir: Path) -> Classifier:
    """Rebuild base model + adapter from a finished run directory.

    Raises:
        FileNotFoundError: the run has no saved adapter yet.
    """
    from transformers import AutoConfig, AutoTokenizer

    from core.train.heads import classifier_class

    adapter_dir, meta = adapter_meta(run_dir)
    labels = meta["labels"]
    pooling = meta.get("pooling", "cls")  # runs saved before pooling was recorded read CLS
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    if meta.get("method") == "full":
        model_class = classifier_class(AutoConfig.from_pretrained(str(adapter_dir)), pooling)
        model = model_class.from_pretrained(str(adapter_dir))
    else:
        from peft import PeftModel

        from core.train.classification import plain_load_report

        base_path = resolve_model_path(meta["base_model"])
        model_class = classifier_class(AutoConfig.from_pretrained(base_path), pooling)
        with plain_load_report():  # the head it calls missing is the adapter's, loaded below
            base = model_class.from_pretrained(
                base_path,
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={n: i for i, n in enumerate(labels)},
            )
        base.config.pad_token_id = tokenizer.pad_token_id
        base.config.classifier_pooling = pooling
        model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    config = runs.read_config(run_dir)
    return Classifier(model, tokenizer, labels, config.training.max_length)


def predict(classifier: Classifier, texts: list[str]) -> list[dict]:
    """For each text: the predicted label, its probability and every label's probability."""
    import torch

    batch = classifier.tokenizer(
        texts, truncation=True, max_length=classifier.max_length, padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        probs = torch.softmax(classifier.model(**batch).logits.float(), dim=-1)
    results = []
    for row in probs.tolist():
        best = max(range(len(row)), key=row.__getitem__)
        results.append(
            {
                "label": classifier.labels[best],
                "probability": row[best],
                "probabilities": dict(zip(classifier.labels, row, strict=True)),
            }
        )
    return results


@dataclass
class Generator:
    model: object
    tokenizer: object
    task: str  # "causal_lm" or "seq2seq"


def load_generator(run_dir: Path) -> Generator:
    """Rebuild a text-generation model (base + adapter) from a finished causal-LM or seq2seq run.

    Raises:
        FileNotFoundError: the run has no saved adapter yet.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    adapter_dir, meta = adapter_meta(run_dir)
    task = meta.get("task", "causal_lm")
    auto = AutoModelForSeq2SeqLM if task == "seq2seq" else AutoModelForCausalLM
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    if meta.get("method") == "full":
        model = auto.from_pretrained(str(adapter_dir))
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(
            auto.from_pretrained(resolve_model_path(meta["base_model"])), str(adapter_dir)
        )
    model.eval()
    return Generator(model, tokenizer, task)


def generate(generator: Generator, prompt: str, max_new_tokens: int = 64) -> str:
    """Greedy answer to one prompt; chat models get their chat template around it."""
    import torch

    tokenizer = generator.tokenizer
    chat = generator.task == "causal_lm" and getattr(tokenizer, "chat_template", None)
    text = (
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        if chat
        else prompt
    )
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=not chat)
    with torch.inference_mode():
        output = generator.model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    new = output[0] if generator.task == "seq2seq" else output[0, encoded["input_ids"].shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True).strip()


def per_class_report(confusion: list[list[int]], labels: list[str]) -> list[dict]:
    """Per label: its rows (support), rows predicted as it, precision, recall and F1.

    Precision of a label the model never predicts, and recall of a label with no validation rows,
    are None (undefined), not 0: as scikit-learn's `zero_division=np.nan`.
    """
    report = []
    for i, label in enumerate(labels):
        hits = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(row[i] for row in confusion)
        report.append(
            {
                "label": str(label),
                "support": support,
                "predicted": predicted,
                "precision": hits / predicted if predicted else None,
                "recall": hits / support if support else None,
                "f1": 2 * hits / (support + predicted) if support + predicted else None,
            }
        )
    return report


@dataclass
class Verdict:
    """How the model compares with always guessing the commonest label, in plain words."""

    level: str  # "good", "weak" (may be luck), "chance" (at or below guessing), "collapsed"
    headline: str
    advice: str
    lift: float  # accuracy minus chance accuracy
    p_value: float  # one-sided binomial test of "better than guessing"


WHAT_TO_TRY = (
    "Try a longer run or a search over settings: Auto tries several learning rates and epoch "
    "counts within a time budget (the Quick preset's single epoch is often too little for a few "
    "hundred rows). More examples of the rarer labels help too, and check on the Data page that "
    "the labels mean what you think (conflicting labels, imbalance)."
)


def judge(evaluation: dict) -> Verdict:
    """A verdict on a classification eval.json: good, weak, at chance, or collapsed to one label.

    "Weak" means above guessing but by under 5 points, or not significantly (one-sided binomial
    test, p >= 0.05) on this many validation rows.
    """
    confusion, labels = evaluation["confusion"], [str(x) for x in evaluation["labels"]]
    accuracy, chance = evaluation["accuracy"], evaluation["chance_accuracy"]
    n_rows = sum(map(sum, confusion))
    lift, p_value = accuracy - chance, better_than_guessing_p(accuracy, chance, n_rows)
    commonest = labels[max(range(len(labels)), key=lambda i: sum(confusion[i]))]
    used = [labels[j] for j in range(len(labels)) if any(row[j] for row in confusion)]
    guess = f"always guessing '{commonest}' ({chance:.1%})"
    points = f"{100 * lift:.1f} percentage points"
    if len(labels) > 1 and len(used) == 1:
        outcome = (
            "that is what guessing the commonest label gives"
            if used[0] == commonest
            else f"that scores {accuracy:.1%}, below {guess}"
        )
        headline = (
            f"It predicts '{used[0]}' for every row: {outcome}. "
            "It has not learned to tell the labels apart."
        )
        return Verdict("collapsed", headline, WHAT_TO_TRY, lift, p_value)
    if lift < 5e-4:  # rounds to +0.0% or below
        word = "the same as" if lift > -5e-4 else "less than"
        return Verdict(
            "chance", f"It scores {accuracy:.1%}: {word} {guess}.", WHAT_TO_TRY, lift, p_value
        )
    if lift < 0.05 or p_value >= 0.05:
        only = "only " if lift < 0.05 else ""
        luck = f" on {n_rows} rows, which could be luck" if p_value >= 0.05 else ""
        headline = f"It beats {guess} by {only}{points}{luck}."
        return Verdict("weak", headline, WHAT_TO_TRY, lift, p_value)
    return Verdict("good", f"It beats {guess} by {points}.", "", lift, p_value)


def better_than_guessing_p(accuracy: float, chance: float, n_rows: int) -> float:
    """One-sided binomial p-value that `accuracy` on `n_rows` beats a guesser scoring `chance`."""
    if n_rows < 1 or chance >= 1.0:
        return 1.0
    from scipy.stats import binomtest

    hits = round(accuracy * n_rows)
    return float(binomtest(hits, n_rows, chance, alternative="greater").pvalue)


def suggest_next_run(preset_used: str | None) -> dict:
    """The one-click next try after a weak run: Auto at its default budget, or 15 minutes after
    an Auto run."""
    from core.search import DEFAULT_BUDGET_MINUTES

    minutes = 15 if (preset_used or "").lower() == "auto" else round(DEFAULT_BUDGET_MINUTES)
    return {"preset": "Auto", "minutes": minutes, "label": f"Run Auto for {minutes} minutes"}


def group_mistakes(evaluation: dict) -> list[dict]:
    """The wrong answers grouped by (true label, predicted label), biggest confusion first.

    Each group: true, predicted, count (all such rows, from the confusion matrix) and examples
    (the saved mistakes of that pair, most confident first when eval.json has confidences).
    """
    confusion, labels = evaluation["confusion"], [str(x) for x in evaluation["labels"]]
    saved: dict[tuple[str, str], list[dict]] = {}
    for mistake in evaluation.get("mistakes", []):
        key = (str(mistake["label"]), str(mistake["predicted"]))
        saved.setdefault(key, []).append(mistake)
    groups = [
        {
            "true": labels[i],
            "predicted": labels[j],
            "count": confusion[i][j],
            "examples": sorted(
                saved.get((labels[i], labels[j]), []),
                key=lambda m: -m.get("confidence", 0.0),
            ),
        }
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and confusion[i][j]
    ]
    return sorted(groups, key=lambda g: -g["count"])


def mistake_rows(label_ids, predicted, confidence, per_pair: int = 5, limit: int = 100) -> list:
    """Indices of wrong rows to save: up to `per_pair` per (true, predicted), most confident first.

    Spreading the examples over the pairs lets every confusion show some rows; the most confident
    mistakes are the likeliest mislabelled rows.
    """
    import numpy as np

    label_ids, predicted = np.asarray(label_ids), np.asarray(predicted)
    wrong = np.flatnonzero(label_ids != predicted)
    wrong = wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")]
    taken: dict[tuple[int, int], int] = {}
    chosen = []
    for row in wrong.tolist():
        pair = (int(label_ids[row]), int(predicted[row]))
        if taken.get(pair, 0) < per_pair and len(chosen) < limit:
            taken[pair] = taken.get(pair, 0) + 1
            chosen.append(row)
    return chosen
