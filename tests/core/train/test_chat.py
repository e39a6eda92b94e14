"""Rows → chat turns → tokens with the prompt masked; every supported layout of instruction data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from transformers import AutoTokenizer

from core.data.load import DataError
from core.settings import RunConfig
from core.train.batch_view import token_segments
from core.train.chat import encode_segments, ensure_chat_template, normalise_turns, render_segments
from core.train.generative import build_examples, encode_example


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    ensure_chat_template(tok)
    return tok


def test_sharegpt_and_openai_turns_become_the_same_roles():
    openai = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    sharegpt = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]
    assert normalise_turns(sharegpt) == normalise_turns(openai) == openai
    assert normalise_turns(json.dumps(sharegpt)) == openai  # a CSV cell holds JSON text


def test_unknown_role_is_named_in_the_error():
    with pytest.raises(DataError, match="'wizard'"):
        normalise_turns([{"role": "wizard", "content": "x"}])


def test_only_response_tokens_are_trained_by_default(tokenizer):
    turns = [{"role": "user", "content": "red cat"}, {"role": "assistant", "content": "blue dog"}]
    row = encode_segments(tokenizer, render_segments(tokenizer, turns), 128, train_on_prompt=False)
    trained = [
        s for s in token_segments(tokenizer, row["input_ids"], row["labels"]) if s["trained"]
    ]
    assert [s["text"] for s in trained] == ["blue dog</s>"]  # not the newline after it
    assert row["labels"][0] == -100 and row["labels"][-2] != -100 and row["labels"][-1] == -100
    everything = encode_segments(tokenizer, render_segments(tokenizer, turns), 128, True)
    assert everything["labels"] == everything["input_ids"] == row["input_ids"]


def test_multi_turn_chat_trains_every_assistant_reply(tokenizer):
    turns = normalise_turns(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
            {"role": "assistant", "content": "four"},
        ]
    )
    segments = render_segments(tokenizer, turns)
    assert [text for text, trained in segments if trained] == ["two</s>", "four</s>"]
    assert "".join(text for text, _ in segments) == tokenizer.apply_chat_template(
        turns, tokenize=False
    )


def test_truncation_that_leaves_no_response_drops_the_row(tokenizer):
    turns = [{"role": "user", "content": "red " * 40}, {"role": "assistant", "content": "blue"}]
    assert encode_segments(tokenizer, render_segments(tokenizer, turns), 16, False) is None


def config_for(task="causal_lm", **data) -> RunConfig:
    return RunConfig().replace(model={"task": task}, data=data)


@pytest.mark.parametrize(
    ("table", "data", "expected"),
    [
        (
            {"prompt": ["p"], "response": ["r"]},
            {"prompt_column": "prompt", "response_column": "response"},
            {"turns": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "r"}]},
        ),
        (  # Alpaca, found without a mapping; the input follows the instruction
            {"instruction": ["do"], "input": ["this"], "output": ["done"]},
            {},
            {
                "turns": [
                    {"role": "user", "content": "do\n\nthis"},
                    {"role": "assistant", "content": "done"},
                ]
            },
        ),
        (
            {"conversations": [[{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]]},
            {"messages_column": "conversations"},
            {"turns": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        ),
        ({"text": ["plain words"]}, {}, {"text": "plain words"}),
    ],
)
def test_each_layout_becomes_examples(table, data, expected):
    assert build_examples(config_for(**data), pd.DataFrame(table)) == [expected]


def test_seq2seq_needs_an_output_column():
    with pytest.raises(DataError, match="output column"):
        build_examples(config_for("seq2seq"), pd.DataFrame({"text": ["a"]}))
    examples = build_examples(
        config_for("seq2seq", prompt_column="q", response_column="a"),
        pd.DataFrame({"q": ["x"], "a": ["y"]}),
    )
    assert examples == [{"source": "x", "target": "y"}]


def test_long_plain_text_is_cut_into_blocks_not_thrown_away(tokenizer):
    text = " ".join(["red cat"] * 60)
    rows = encode_example(tokenizer, {"text": text}, max_length=32, train_on_prompt=False)
    assert len(rows) > 2 and all(r["length"] <= 32 for r in rows)
    joined = [t for r in rows for t in r["input_ids"]]
    assert joined[-1] == tokenizer.eos_token_id
    assert all(r["labels"] == r["input_ids"] for r in rows)
