"""Package a finished run for download: adapter files, the run's config and a model card."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from core import runs
from core.card import card_markdown, read_card


def model_card(run_dir: Path) -> str:
    """A short README for the adapter: base model, data, settings, results, how to load it."""
    config = runs.read_config(run_dir)
    evaluation = runs.read_eval(run_dir)
    status = runs.read_status(run_dir)
    auto_class = {
        "classification": "AutoModelForSequenceClassification",
        "seq2seq": "AutoModelForSeq2SeqLM",
    }.get(config.model.task, "AutoModelForCausalLM")
    n_labels = len(evaluation.get("labels", []))
    extra = f", num_labels={n_labels}" if config.model.task == "classification" else ""
    lines = [
        f"# LoRA adapter: {config.name or Path(run_dir).name}",
        "",
        "Trained with Finetune Studio.",
        "",
        f"- Base model: `{config.model.name_or_path}` ({config.model.task})",
        f"- Data: `{Path(config.data.path).name}`, fingerprint `{config.data.fingerprint or 'n/a'}`, "
        f"text column `{config.data.text_column}`"
        + (f", label column `{config.data.label_column}`" if extra else ""),
        f"- LoRA: rank {config.lora.r}, alpha {config.lora.alpha}, dropout {config.lora.dropout}",
        f"- Training: {config.training.num_train_epochs:g} epoch(s), learning rate "
        f"{config.training.learning_rate:g}, batch {config.training.per_device_train_batch_size}, "
        f"max length {config.training.max_length}, seed {config.training.seed}",
        f"- Steps: {status.get('step', '?')}; outcome: {status.get('state', '?')}",
    ]
    if "accuracy" in evaluation:
        lines += [
            f"- Validation accuracy: {evaluation['accuracy']:.3f}, macro-F1 "
            f"{evaluation['macro_f1']:.3f} on {evaluation['n_validation']} rows "
            f"(always guessing the commonest label: {evaluation['chance_accuracy']:.3f})",
            f"- Labels: {', '.join(evaluation['labels'])}",
        ]
    elif "perplexity" in evaluation:
        lines.append(
            f"- Validation loss {evaluation['eval_loss']:.3f}, perplexity "
            f"{evaluation['perplexity']:.1f} on {evaluation['n_validation']} examples"
        )
    lines += [
        "",
        "## Load it",
        "```python",
        f"from transformers import {auto_class}",
        "from peft import PeftModel",
        f"base = {auto_class}.from_pretrained(BASE_MODEL{extra})",
        'model = PeftModel.from_pretrained(base, "adapter")',
        "```",
        "",
        "Retrain exactly: `python -m core.train --config config.yaml`.",
    ]
    lines += card_markdown(read_card(run_dir))
    return "\n".join(lines) + "\n"


def adapter_zip(run_dir: Path) -> bytes:
    """A zip holding adapter/ (weights, tokenizer, label map), config.yaml, eval.json and README.md.

    Raises:
        FileNotFoundError: the run saved no adapter.
    """
    run_dir = Path(run_dir)
    adapter_dir = run_dir / runs.ADAPTER_DIR
    if not adapter_dir.is_dir():
        raise FileNotFoundError(f"No adapter in {run_dir}: the run has not finished.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(adapter_dir.rglob("*")):
            if path.is_file() and path.name != "training_args.bin":  # a pickle: never shipped
                archive.write(path, f"adapter/{path.relative_to(adapter_dir)}")
        archive.write(run_dir / runs.CONFIG_FILE, "config.yaml")
        evaluation = runs.read_eval(run_dir)
        if evaluation:
            archive.writestr("eval.json", json.dumps(evaluation, indent=1))
        if (run_dir / "card.json").is_file():  # reproducibility card (core.card)
            archive.write(run_dir / "card.json", "card.json")
        archive.writestr("README.md", model_card(run_dir))
    return buffer.getvalue()
