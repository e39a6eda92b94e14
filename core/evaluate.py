"""Use a trained adapter: load it once, then predict labels with probabilities ("try it")."""

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
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    adapter_dir, meta = adapter_meta(run_dir)
    labels = meta["labels"]
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    if meta.get("method") == "full":
        model = AutoModelForSequenceClassification.from_pretrained(str(adapter_dir))
    else:
        from peft import PeftModel

        base = AutoModelForSequenceClassification.from_pretrained(
            resolve_model_path(meta["base_model"]),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={n: i for i, n in enumerate(labels)},
        )
        base.config.pad_token_id = tokenizer.pad_token_id
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
