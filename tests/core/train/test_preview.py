"""The Data page's "as the model sees it" preview is training's own rendering."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from core.settings import RunConfig
from core.train.generative import build_examples, encode_example
from core.train.preview import PreviewUnavailable, preview_examples

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def chatml_model(tiny_llama, tmp_path_factory):
    """The tiny model with a ChatML template in its tokenizer."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("chatml") / "model"
    shutil.copytree(tiny_llama, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    return folder


def chat_table() -> pd.DataFrame:
    turns = [
        {"role": "user", "content": "red cat"},
        {"role": "assistant", "content": "blue dog"},
        {"role": "user", "content": "one two"},
        {"role": "assistant", "content": "three"},
    ]
    return pd.DataFrame({"messages": [json.dumps(turns), json.dumps(turns[:2])]})


def config_for(model, **data) -> RunConfig:
    return RunConfig().replace(model={"name_or_path": str(model), "task": "causal_lm"}, data=data)


def test_preview_renders_through_the_models_template_with_the_trained_replies(chatml_model):
    from transformers import AutoTokenizer

    config = config_for(chatml_model, messages_column="messages", text_column="messages")
    shown = preview_examples(config, chat_table(), count=2)
    tokenizer = AutoTokenizer.from_pretrained(chatml_model)
    examples = build_examples(config, chat_table())
    assert len(shown) == 2
    for pieces, example in zip(shown, examples, strict=True):
        assert "".join(t for t, _ in pieces) == tokenizer.apply_chat_template(
            example["turns"], tokenize=False
        )
        # the highlighted text is what training puts a loss on, token for token
        row = encode_example(tokenizer, example, 512, train_on_prompt=False)[0]
        trained_ids = [
            i for i, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100
        ]
        highlighted = "".join(t for t, trained in pieces if trained)
        assert tokenizer.decode(trained_ids) == highlighted
    assert [t for t, trained in shown[0] if trained] == ["blue dog<|im_end|>", "three<|im_end|>"]


def test_a_model_without_a_template_previews_the_default_one(tiny_llama):
    table = pd.DataFrame({"prompt": ["red cat"], "response": ["blue dog"]})
    config = config_for(tiny_llama, prompt_column="prompt", response_column="response")
    [pieces] = preview_examples(config, table, count=1)
    assert pieces[0] == ("### Instruction:\nred cat\n### Response:\n", False)
    assert pieces[1] == ("blue dog</s>", True)


def test_a_model_that_is_not_here_says_so(tmp_path):
    config = config_for(tmp_path / "nothing", prompt_column="p", response_column="r")
    with pytest.raises(PreviewUnavailable, match="not on this machine"):
        preview_examples(config, pd.DataFrame({"p": ["a"], "r": ["b"]}))
