"""Tiny generative models built from a config (2 layers, 64 wide) with a locally trained tokenizer,
and instruction / chat / text / seq2seq data files that a few steps can partly memorise."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

WORDS = "red green blue cat dog bird runs sleeps eats fast slow big small one two three".split()


def write_tokenizer(folder: Path, corpus: list[str]):
    """A byte-level BPE tokenizer (vocabulary 400) trained on `corpus`, saved as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def corpus() -> list[str]:
    rng = random.Random(0)
    lines = [" ".join(rng.choices(WORDS, k=12)) for _ in range(300)]
    return lines + ["### Instruction:\n", "### Response:\n", "### System:\n"]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = write_tokenizer(folder, corpus())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = write_tokenizer(folder, corpus())
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def write_pairs(path: Path, rows: int = 48, seed: int = 0) -> Path:
    """prompt → response where the response repeats the prompt's colour word (learnable)."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        for _ in range(rows):
            colour = rng.choice(WORDS[:3])
            prompt = f"{' '.join(rng.choices(WORDS[3:], k=rng.randint(2, 9)))} {colour}"
            out.write(json.dumps({"prompt": prompt, "response": f"{colour} {colour}"}) + "\n")
    return path


@pytest.fixture
def pairs_jsonl(tmp_path) -> Path:
    return write_pairs(tmp_path / "pairs.jsonl")
