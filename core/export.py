"""Package a finished run for download: adapter files, the run's config and a model card.

What leaves the server holds no raw data unless the user opts in (eval.json's misclassified
validation texts and sample generations are dropped by default), and no absolute server paths:
the base model is named by its public id or folder name, the data by its file name, and any other
server path in a text file (peft's adapter_config.json and README.md record the base model's
folder) is replaced by a placeholder.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from core import runs
from core.card import card_markdown, read_card
from core.models import EMBEDDED_MODEL, resolve_model_path

# The embedded model's public id, so a downloaded adapter loads against the Hub's copy.
EMBEDDED_PUBLIC_ID = "sentence-transformers/all-MiniLM-L6-v2"
RAW_EVAL_KEYS = ("mistakes", "samples")  # validation texts and generations from them
TEXT_SUFFIXES = {".json", ".md", ".txt", ".yaml", ".yml", ".jinja", ".model"}


def model_card(run_dir: Path) -> str:
    """A short README for the adapter (or, for a run that trained every weight, the whole model):
    base model, data, settings, results, how to load it."""
    config = runs.read_config(run_dir)
    full = config.lora.method == "full"
    evaluation = runs.read_eval(run_dir)
    status = runs.read_status(run_dir)
    auto_class = {
        "classification": "AutoModelForSequenceClassification",
        "seq2seq": "AutoModelForSeq2SeqLM",
    }.get(config.model.task, "AutoModelForCausalLM")
    n_labels = len(evaluation.get("labels", []))
    extra = f", num_labels={n_labels}" if config.model.task == "classification" else ""
    lines = [
        f"# {'Fine-tuned model' if full else 'LoRA adapter'}: {config.name or Path(run_dir).name}",
        "",
        "Trained with Finetune Studio.",
        "",
        f"- Base model: `{public_model_name(config.model.name_or_path)}` ({config.model.task})",
        f"- Data: `{Path(config.data.path).name or 'n/a'}`, fingerprint `{config.data.fingerprint or 'n/a'}`, "
        f"text column `{config.data.text_column}`"
        + (f", label column `{config.data.label_column}`" if extra else ""),
        "- Every weight trained (full fine-tuning): adapter/ holds the whole model"
        if full
        else f"- LoRA: rank {config.lora.r}, alpha {config.lora.alpha}, dropout {config.lora.dropout}",
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
    if saved_pooling(run_dir) == "mean":
        load = (
            (
                "from peft import PeftModel\n"
                f"base = {auto_class}.from_pretrained(BASE_MODEL{extra})\n"
                'model = PeftModel.from_pretrained(base, "adapter").merge_and_unload().eval()\n'
            )
            if not full
            else f'model = {auto_class}.from_pretrained("adapter").eval()\n'
        ) + 'tokenizer = AutoTokenizer.from_pretrained("adapter")'
        lines += ["", mean_pooling_snippet(load).rstrip()]
    elif full:
        lines += [
            "",
            "## Load it",
            "```python",
            f"from transformers import {auto_class}",
            f'model = {auto_class}.from_pretrained("adapter")',
            "```",
        ]
    else:
        lines += [
            "",
            "## Load it",
            "```python",
            f"from transformers import {auto_class}",
            "from peft import PeftModel",
            f"base = {auto_class}.from_pretrained(BASE_MODEL{extra})",
            'model = PeftModel.from_pretrained(base, "adapter")',
            "```",
        ]
    lines += ["", "Retrain exactly: `python -m core.train --config config.yaml`."]
    lines += card_markdown(read_card(run_dir))
    return "\n".join(lines) + "\n"


def saved_pooling(run_dir: Path) -> str:
    """How the run's saved classifier pools its tokens (adapter/labels.json; "cls" if unsaid)."""
    try:
        meta = json.loads((Path(run_dir) / runs.ADAPTER_DIR / "labels.json").read_text())
    except (OSError, ValueError):
        return "cls"
    return meta.get("pooling", "cls")


def mean_pooling_snippet(load: str, sequence_head: bool = False) -> str:
    """The card's "Load it" section for a mean-pooling classifier: `load` (lines that define
    `model` and `tokenizer`), then the mean of the kept token vectors through the head, since
    the stock forward of `model` would read the first token and answer wrongly."""
    head_input = "pooled[:, None, :]" if sequence_head else "pooled"
    return (
        "## Load it\n"
        "This classifier reads the **mean of the token vectors** (how its sentence-transformers "
        "base was trained), not the first token: `model(**inputs).logits` would read the first "
        "token and answer wrongly. Read it this way:\n"
        "```python\n"
        "import torch\n"
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
        f"{load}\n"
        'inputs = tokenizer(["some text"], padding=True, truncation=True, return_tensors="pt")\n'
        "with torch.no_grad():\n"
        "    hidden = model.base_model(**inputs).last_hidden_state\n"
        '    mask = inputs["attention_mask"].unsqueeze(-1).float()\n'
        "    pooled = (hidden * mask).sum(1) / mask.sum(1)\n"
        f"    logits = model.classifier({head_input})\n"
        "print([model.config.id2label[i] for i in logits.argmax(-1).tolist()])\n"
        "```\n"
    )


def public_model_name(name_or_path: str) -> str:
    """The base model as someone off this server can name it: a Hub id, or a folder's name."""
    if name_or_path == EMBEDDED_MODEL:
        return EMBEDDED_PUBLIC_ID
    if name_or_path.startswith(("/", ".", "~")) or Path(name_or_path).expanduser().exists():
        return Path(name_or_path).name
    return name_or_path


def path_replacements(run_dir: Path, config) -> list[tuple[str, str]]:
    """(server path, what to write instead), longest first, so nested paths go before parents."""
    model = config.model.name_or_path
    pairs = {
        str(Path(resolve_model_path(model)).resolve()): public_model_name(model),
        resolve_model_path(model): public_model_name(model),
        str(Path(run_dir).resolve()): ".",
        str(runs.data_root()): "<data>",
        str(Path(__file__).resolve().parent.parent): "<app>",
        sys.prefix: "<python>",
        str(Path.home()): "~",
    }
    if config.data.path:
        pairs[config.data.path] = Path(config.data.path).name
        pairs[str(Path(config.data.path).resolve())] = Path(config.data.path).name
    pairs = {k: v for k, v in pairs.items() if k and os.path.isabs(k) and k != "/"}
    return sorted(pairs.items(), key=lambda item: len(item[0]), reverse=True)


def scrub(text: str, replacements: list[tuple[str, str]]) -> str:
    """`text` with every server path in `replacements` replaced."""
    for server_path, public in replacements:
        text = text.replace(server_path, public)
    return text


def public_config(run_dir: Path) -> str:
    """config.yaml as it leaves the server: the data by file name, the model by public name."""
    config = runs.read_config(run_dir)
    config = config.replace(
        data={"path": Path(config.data.path).name if config.data.path else ""},
        model={"name_or_path": public_model_name(config.model.name_or_path)},
    )
    with tempfile.TemporaryDirectory() as folder:
        return config.save(Path(folder) / runs.CONFIG_FILE).read_text()


def adapter_zip(run_dir: Path, include_examples: bool = False) -> bytes:
    """A zip holding adapter/ (weights, tokenizer, label map), config.yaml, eval.json and README.md.

    Args:
        run_dir: the finished run.
        include_examples: keep eval.json's validation texts (mistakes) and sample generations.

    Raises:
        FileNotFoundError: the run saved no adapter.
    """
    run_dir = Path(run_dir)
    adapter_dir = run_dir / runs.ADAPTER_DIR
    if not adapter_dir.is_dir():
        raise FileNotFoundError(f"No adapter in run {run_dir.name}: the run has not finished.")
    replacements = path_replacements(run_dir, runs.read_config(run_dir))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(adapter_dir.rglob("*")):
            if not path.is_file() or path.name == "training_args.bin":  # a pickle: never shipped
                continue
            name = f"adapter/{path.relative_to(adapter_dir)}"
            if path.suffix in TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8", errors="surrogateescape")
                archive.writestr(name, scrub(text, replacements).encode("utf-8", "surrogateescape"))
            else:
                archive.write(path, name)
        archive.writestr("config.yaml", scrub(public_config(run_dir), replacements))
        evaluation = runs.read_eval(run_dir)
        if evaluation and not include_examples:
            evaluation = {k: v for k, v in evaluation.items() if k not in RAW_EVAL_KEYS}
        if evaluation:
            archive.writestr("eval.json", scrub(json.dumps(evaluation, indent=1), replacements))
        if (run_dir / "card.json").is_file():  # reproducibility card (core.card), paths scrubbed
            card = (run_dir / "card.json").read_text(encoding="utf-8")
            archive.writestr("card.json", scrub(card, replacements))
        archive.writestr("README.md", scrub(model_card(run_dir), replacements))
    return buffer.getvalue()
