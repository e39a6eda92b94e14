"""Text generation tasks: instruction / chat tuning and plain-text pre-training (causal LM), and
input → output text (seq2seq, Flan-T5 style).

The data becomes a list of examples, each one of:

    {"turns": [{"role", "content"}, ...]}   instruction or chat (causal_lm)
    {"text": str}                            continued pre-training (causal_lm, text column only)
    {"source": str, "target": str}           seq2seq
"""

from __future__ import annotations

import numpy as np

from core.data.load import DataError, load_table
from core.settings import RunConfig
from core.train.chat import (
    encode_segments,
    normalise_turns,
    prompt_response_turns,
    render_segments,
)

ALPACA = ("instruction", "output")


def _cell(value) -> str:
    return "" if value is None or value != value else str(value).strip()


def _require(table, columns: list[str]) -> None:
    missing = [col for col in columns if col not in table.columns]
    if missing:
        raise DataError(
            f"The data has no column(s) {missing}; it has {list(table.columns)}. "
            "Map the columns again on the Data page."
        )


def build_examples(config: RunConfig, table) -> list[dict]:
    """Rows → examples for the config's task and column mapping (see the module docstring).

    Raises:
        DataError: a mapped column is missing, or seq2seq has no output column.
    """
    data = config.data
    rows = table.to_dict("records")
    if config.model.task == "seq2seq":
        source = data.prompt_column or data.text_column
        target = data.response_column
        if not target:
            raise DataError("seq2seq needs an output column: choose the response column.")
        _require(table, [source, target])
        return [{"source": _cell(r[source]), "target": _cell(r[target])} for r in rows]
    if data.messages_column:
        _require(table, [data.messages_column])
        return [{"turns": normalise_turns(r[data.messages_column])} for r in rows]
    prompt, response = data.prompt_column, data.response_column
    if not (prompt and response) and set(ALPACA) <= set(table.columns):
        prompt, response = ALPACA
    if prompt and response:
        _require(table, [prompt, response])
        extra = "input" if prompt == "instruction" and "input" in table.columns else None
        return [
            {
                "turns": prompt_response_turns(
                    _cell(r[prompt]), _cell(r[response]), _cell(r[extra]) if extra else ""
                )
            }
            for r in rows
        ]
    _require(table, [data.text_column])
    return [{"text": _cell(r[data.text_column])} for r in rows]


def _usable(example: dict) -> bool:
    if "turns" in example:
        return any(t["role"] == "assistant" and t["content"] for t in example["turns"])
    if "text" in example:
        return bool(example["text"])
    return bool(example["source"] and example["target"])


def prepare_examples(config: RunConfig) -> tuple[list[dict], list[dict]]:
    """Load the data file, build examples and split them at random (seeded) into train/validation.

    Raises:
        DataError: a column is missing, or too few usable rows remain.
    """
    examples = [e for e in build_examples(config, load_table(config.data.path)) if _usable(e)]
    if len(examples) < 3:
        raise DataError(
            f"Only {len(examples)} usable rows (with a non-empty response): add more examples "
            "(at least 10)."
        )
    order = np.random.default_rng(config.data.split_seed).permutation(len(examples))
    n_val = max(1, int(round(len(examples) * config.data.validation_fraction)))
    val = [examples[i] for i in sorted(order[:n_val])]
    train = [examples[i] for i in sorted(order[n_val:])]
    return train, val


def encode_example(tokenizer, example: dict, max_length: int, train_on_prompt: bool) -> list[dict]:
    """One example → zero or more token rows {"input_ids", "labels", "length"}.

    Plain text longer than max_length is cut into consecutive blocks, so no text is thrown away;
    a chat is cut at max_length (rows with no response token left are dropped).
    """
    if "turns" in example:
        if train_on_prompt:  # every token is trained: no need to find the replies
            text = tokenizer.apply_chat_template(example["turns"], tokenize=False)
            segments = [(text, True)]
        else:
            segments = render_segments(tokenizer, example["turns"])
        row = encode_segments(tokenizer, segments, max_length, train_on_prompt)
        return [row] if row else []
    if "text" in example:
        ids = tokenizer(example["text"], add_special_tokens=True)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids = ids + [tokenizer.eos_token_id]
        blocks = [ids[i : i + max_length] for i in range(0, len(ids), max_length)]
        return [{"input_ids": b, "labels": list(b), "length": len(b)} for b in blocks if len(b) > 1]
    enc = tokenizer(
        example["source"], text_target=example["target"], truncation=True, max_length=max_length
    )
    return [
        {"input_ids": enc["input_ids"], "labels": enc["labels"], "length": len(enc["input_ids"])}
    ]


def tokenize_examples(tokenizer, examples: list[dict], max_length: int, train_on_prompt: bool):
    """A `datasets.Dataset` of token rows for every example (no padding: collators pad per batch)."""
    from datasets import Dataset

    rows = [
        row
        for example in examples
        for row in encode_example(tokenizer, example, max_length, train_on_prompt)
    ]
    if not rows:
        raise DataError(
            f"No example has a response inside the first {max_length} tokens. Raise the max length."
        )
    return Dataset.from_dict({key: [row[key] for row in rows] for key in rows[0]})


def load_model(config: RunConfig, model_path: str, precision: str = "fp32"):
    """The causal-LM or seq2seq base model with its adapter, and the tokenizer (with a pad token
    and, for causal LM, a chat template); loaded in the dtype of the resolved `precision`."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from core.train.adapters import attach_adapter, load_arguments
    from core.train.chat import ensure_chat_template

    loading = load_arguments(config, precision)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    seq2seq = config.model.task == "seq2seq"
    if not seq2seq:
        ensure_chat_template(tokenizer)
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    model = auto.from_pretrained(model_path, **loading)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    # With a KV cache the model ignores packed position ids and lets packed examples attend to
    # each other (transformers only builds the per-example mask when there is no cache); a
    # training step never needs the cache anyway. Generation turns it back on by itself.
    model.config.use_cache = False
    model = attach_adapter(model, config, "SEQ_2_SEQ_LM" if seq2seq else "CAUSAL_LM")
    return model, tokenizer


def generation_prompt(tokenizer, example: dict) -> tuple[str, str]:
    """(prompt text, reference text) for showing what the model generates for an example."""
    if "turns" in example:
        turns = example["turns"]
        last = max(i for i, t in enumerate(turns) if t["role"] == "assistant")
        prompt = tokenizer.apply_chat_template(
            turns[:last], tokenize=False, add_generation_prompt=True
        )
        return prompt, turns[last]["content"]
    if "text" in example:
        words = example["text"].split()
        cut = max(1, min(len(words) // 2, 24))
        return " ".join(words[:cut]), " ".join(words[cut : cut + 24])
    return example["source"], example["target"]
