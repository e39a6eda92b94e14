"""Fingerprints and version records; drift between two datasets."""

import json

import numpy as np
import pandas as pd

from core.data.clean import Recipe, Step, apply_recipe
from core.data.drift import compare, label_check, length_check
from core.data.lineage import data_fingerprint, fingerprint, read_version, save_version
from core.data.load import load_table

TABLE = pd.DataFrame({"text": ["a b", "", "c d", "a b"], "label": ["x", "y", "x", "x"]})
MAPPING = {"task": "classification", "text": "text", "label": "label"}


def test_fingerprint_depends_on_content_and_recipe_only():
    recipe = Recipe([Step("drop_empty")])
    assert fingerprint(TABLE, recipe) == fingerprint(
        TABLE.copy().set_index(TABLE.index + 5), recipe
    )
    assert fingerprint(TABLE, recipe) != fingerprint(TABLE)
    changed = TABLE.copy()
    changed.loc[0, "label"] = "y"
    assert fingerprint(changed, recipe) != fingerprint(TABLE, recipe)
    chat = pd.DataFrame({"messages": [[{"role": "user", "content": "hi"}]]})
    assert len(fingerprint(chat)) == 16


def test_saved_version_has_a_record_and_the_same_fingerprint_for_a_run(tmp_path):
    source = tmp_path / "raw.csv"
    TABLE.to_csv(source, index=False)
    raw = load_table(source)
    recipe = Recipe([Step("drop_empty"), Step("drop_duplicates")])
    cleaned = apply_recipe(raw, MAPPING, recipe)
    record = save_version(
        cleaned, tmp_path / "studio", source, recipe, rows_before=len(raw), split_seed=7
    )
    stored = json.loads(
        (tmp_path / "studio" / "datasets" / record.fingerprint / "version.json").read_text()
    )
    assert stored["rows_before"] == 4 and stored["rows_after"] == 2 and stored["split_seed"] == 7
    assert stored["recipe"][1] == {"step": "drop_duplicates", "params": {}}
    assert len(stored["source_hash"]) == 64
    assert (
        data_fingerprint(record.path)
        == record.fingerprint
        == fingerprint(load_table(record.path), recipe)
    )
    assert read_version(record.path) == record
    again = save_version(
        cleaned, tmp_path / "studio", source, recipe, rows_before=len(raw), split_seed=7
    )
    assert again == record  # two runs on the same data show the same fingerprint
    assert data_fingerprint(source) == fingerprint(raw)
    assert source.read_text() == TABLE.to_csv(index=False)  # the original is untouched


def test_length_and_label_checks_state_their_verdicts():
    rng = np.random.default_rng(0)
    same = length_check(rng.poisson(20, 2000), rng.poisson(20, 2000))
    moved = length_check(rng.poisson(20, 2000), rng.poisson(40, 2000))
    assert not same.drifted and moved.drifted and "p <" in moved.message
    assert label_check({"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1}).drifted
    assert not label_check({"a": 0.5, "b": 0.5}, {"a": 0.52, "b": 0.48}).drifted


def test_compare_with_embeddings_spots_a_new_topic():
    rng = np.random.default_rng(1)
    films = [
        f"the film was {w} and the actors were {v}"
        for w, v in zip(
            rng.choice(["great", "dull", "fun", "long"], 60),
            rng.choice(["good", "bad", "fine"], 60),
            strict=False,
        )
    ]
    code = [
        f"the python function raises {e} when the {v} is missing"
        for e, v in zip(
            rng.choice(["KeyError", "ValueError", "TypeError"], 60),
            rng.choice(["key", "file", "arg"], 60),
            strict=False,
        )
    ]
    reference = pd.DataFrame({"text": films[:30], "label": ["pos", "neg"] * 15})
    same = pd.DataFrame({"text": films[30:], "label": ["pos", "neg"] * 15})
    new = pd.DataFrame({"text": code, "label": ["pos"] * 60})
    calm = compare(reference, same, MAPPING, sample=30)
    drift = compare(reference, new, MAPPING, sample=30)
    assert calm.verdict == "no drift", [c.message for c in calm.checks]
    assert drift.verdict == "strong drift"
    embedding = next(c for c in drift.checks if c.name == "embedding")
    assert embedding.drifted and "drift above" in embedding.message
