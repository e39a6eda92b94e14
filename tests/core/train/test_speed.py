"""Padding-free packing is exact, the token cache is reused, speed features are reported."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorWithFlattening,
)

from core.settings import RunConfig
from core.train import cache, speed
from core.train.generative import load_model, tokenize_examples


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_llama):
    """The model as the app loads it for training (LoRA attached, train mode: dropout off)."""
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"}, lora={"dropout": 0.0}
    )
    model, tokenizer = load_model(config, str(tiny_llama))
    return model.train(), tokenizer


def rows(tokenizer):
    texts = ["red cat runs fast", "blue dog sleeps slow and big one two three", "green bird"]
    return [
        {"input_ids": ids, "labels": list(ids)}
        for ids in (tokenizer(t)["input_ids"] for t in texts)
    ]


def test_packed_batch_gives_the_same_loss_as_a_padded_one(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    features = rows(tokenizer)
    padded = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)(features)
    packed = DataCollatorWithFlattening(return_position_ids=True)(features)
    assert packed["input_ids"].shape == (1, sum(len(f["input_ids"]) for f in features))
    starts = (packed["position_ids"][0] == 0).nonzero().flatten().tolist()
    lengths = [len(f["input_ids"]) for f in features]
    assert starts == [0, lengths[0], lengths[0] + lengths[1]]  # positions restart per example
    with torch.no_grad():
        reference = model(**padded).loss
        flat = model(**packed).loss
        # With a KV cache (the model's default) transformers skips the per-example mask.
        leaking = model(**packed, use_cache=True).loss
    assert flat == pytest.approx(float(reference), abs=1e-4)
    # Without position ids the examples attend to each other, and the loss changes: the test bites.
    assert abs(float(leaking) - float(reference)) > 1e-3


def test_packing_is_chosen_only_for_causal_lm():
    causal = RunConfig().replace(model={"task": "causal_lm"})
    assert not speed.use_packing(RunConfig())
    assert not speed.use_packing(causal)  # auto: off without a variable-length attention kernel
    causal.training.packing = "off"
    assert not speed.use_packing(causal)
    causal.training.packing = True  # the setting, where the settings module has it
    assert speed.use_packing(causal)


def test_tokens_are_cached_by_data_tokenizer_and_length(model_and_tokenizer, tmp_path, data_root):
    _, tokenizer = model_and_tokenizer
    data = tmp_path / "t.jsonl"
    data.write_text('{"text": "red cat"}\n')
    config = RunConfig().replace(model={"task": "causal_lm"}, data={"path": str(data)})
    calls = []

    def build():
        calls.append(1)
        return {"train": tokenize_examples(tokenizer, [{"text": "red cat"}], 32, False)}

    key = cache.cache_key(config, tokenizer)
    first, hit_first = cache.cached_datasets(key, build)
    second, hit_second = cache.cached_datasets(key, build)
    assert (hit_first, hit_second, len(calls)) == (False, True, 1)
    assert second["train"]["input_ids"] == first["train"]["input_ids"]
    assert (data_root / "cache" / "tokens" / key).is_dir()
    longer = config.replace(training={"max_length": 64})
    assert cache.cache_key(longer, tokenizer) != key
    data.write_text('{"text": "blue dog"}\n')  # new content, same file name
    assert cache.cache_key(config, tokenizer) != key


@pytest.mark.parametrize(
    ("cores", "load", "world", "expected"),
    [
        (2, 0.1, 1, 2),
        (2, 1.6, 1, 2),  # our own server and previous run: not a reason to back off
        (2, 7.8, 1, 1),
        (16, 4.0, 1, 16),
        (16, 20.0, 1, 12),
        (16, 0.0, 2, 8),
        (1, 0.0, 4, 1),
    ],
)
def test_cpu_threads_leave_busy_cores_alone(cores, load, world, expected):
    assert speed.cpu_threads(cores, load, world) == expected
