"""Task detection, column mapping and rendering examples as the model sees them."""

import pandas as pd
import pytest

from core.data.detect import (
    check_labels,
    mapping_text,
    render_example,
    suggest_columns,
    suggest_mapping,
)
from core.data.load import DataError

CHAT = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello!"}]
SHAREGPT = [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello!"}]


@pytest.mark.parametrize(
    "table, task, roles",
    [
        (
            pd.DataFrame(
                {"review": ["a long enough review text"] * 4, "sentiment": ["p", "n"] * 2}
            ),
            "classification",
            {"text": "review", "label": "sentiment"},
        ),
        (
            pd.DataFrame(
                {
                    "sentence1": ["a b c"] * 2,
                    "sentence2": ["d e"] * 2,
                    "text": ["x y z w"] * 2,
                    "label": [0, 1],
                }
            ),
            "classification",
            {"text": "text", "text_pair": "sentence2"},
        ),
        (
            pd.DataFrame({"instruction": ["Add"], "input": ["2+2"], "output": ["4"]}),
            "instruction",
            {"instruction": "instruction", "input": "input", "output": "output"},
        ),
        (
            pd.DataFrame({"messages": [CHAT]}),
            "chat",
            {"messages": "messages", "chat_format": "openai"},
        ),
        (pd.DataFrame({"conversations": [SHAREGPT]}), "chat", {"chat_format": "sharegpt"}),
        (
            pd.DataFrame({"prompt": ["Q"], "chosen": ["good"], "rejected": ["bad"]}),
            "preference",
            {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
        ),
        (
            pd.DataFrame({"text": ["some plain text for pretraining", "more of it here"]}),
            "text",
            {"text": "text"},
        ),
    ],
)
def test_suggest_mapping_recognises_each_shape(table, task, roles):
    mapping = suggest_mapping(table)
    assert mapping["task"] == task
    assert roles.items() <= mapping.items()


def test_suggest_columns_keeps_its_contract():
    table = pd.DataFrame({"review": ["fine text here, long"] * 3, "stars": ["1", "2", "1"]})
    assert suggest_columns(table) == {"task": "classification", "text": "review", "label": "stars"}
    with pytest.raises(DataError, match="No column looks like text"):
        suggest_columns(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))


def test_one_valued_label_column_is_refused():
    with pytest.raises(DataError, match="only 'pos'"):
        check_labels(pd.DataFrame({"text": ["a", "b"], "label": ["pos", "pos"]}), "label")


def test_render_marks_what_is_trained_on():
    chat = render_example(
        {"conversations": SHAREGPT}, suggest_mapping(pd.DataFrame({"conversations": [SHAREGPT]}))
    )
    assert chat == [("<|user|>\nHi?\n", False), ("<|assistant|>\nHello!\n", True)]
    alpaca = pd.DataFrame({"instruction": ["Add"], "input": ["2+2"], "output": ["4"]})
    pieces = render_example(alpaca.iloc[0], suggest_mapping(alpaca))
    assert pieces[0][0].startswith("### Instruction:\nAdd") and "### Input:\n2+2" in pieces[0][0]
    assert pieces[1] == ("4", True)


def test_mapping_text_joins_the_text_roles():
    table = pd.DataFrame({"instruction": ["Add", None], "output": ["4", "5"]})
    mapping = suggest_mapping(table)
    assert mapping_text(table, mapping).tolist() == ["Add\n4", "\n5"]
