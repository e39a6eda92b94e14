"""core.newdata: a finished run scored on a new labelled batch, against its validation figures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core import runs
from core.data.drift import DriftCheck
from core.newdata import check_new_data, check_new_text_data, text_verdict, verdict_text
from core.predict import PredictError, predict_file
from tests.conftest import write_reviews
from tests.core.test_merge import make_run, tiny_base

VALIDATION = {"labels": ["negative", "positive"], "confusion": [[8, 2], [3, 7]],
              "accuracy": 0.75, "macro_f1": 0.75, "chance_accuracy": 0.5, "n_validation": 20,
              "eval_loss": 0.6}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished run of a tiny Llama classifier (random LoRA) trained "on" a reviews file."""
    root = tmp_path_factory.mktemp("newdata")
    base = root / "tiny-llama"
    run = make_run(root, str(base), base, "classification", tiny_base(base, "classification"))
    train = write_reviews(root / "train.csv", rows=160, seed=1)
    config = runs.read_config(run)
    config.replace(data={"path": str(train)}).save(run / runs.CONFIG_FILE)
    (run / runs.EVAL_FILE).write_text(json.dumps(VALIDATION))
    return run


@pytest.fixture
def batch(tmp_path):
    return write_reviews(tmp_path / "batch.csv", rows=60, seed=2)


def test_scores_match_the_predictions_and_validation_is_read_back(run_dir, batch, tmp_path):
    report = check_new_data(run_dir, batch, embed=False, device="cpu")
    labelled = predict_file(run_dir, batch, tmp_path / "out.csv", device="cpu")
    assert report["scored"] == report["rows"] == 60
    assert report["new"]["accuracy"] == pytest.approx(labelled["accuracy"])
    assert report["validation"]["accuracy"] == 0.75
    assert np.sum(report["confusion"]) == 60
    table = pd.read_csv(tmp_path / "out.csv")
    per_label = (table["label"] == table["predicted"]).groupby(table["label"]).mean()
    for row in report["per_class"]:
        assert row["new_recall"] == pytest.approx(per_label[row["label"]])
    assert [c.name for c in report["drift"].checks] == ["length", "labels", "vocabulary"]
    assert report["verdict"].endswith(".")


def test_labels_the_model_never_saw_are_named_and_left_out_of_the_scores(run_dir, batch, tmp_path):
    known = check_new_data(run_dir, batch, embed=False, device="cpu")
    table = pd.read_csv(batch)
    extra = pd.DataFrame({"text": ["good nice pleasant"] * 7, "label": ["neutral"] * 7})
    pd.concat([table, extra]).to_csv(tmp_path / "more.csv", index=False)
    report = check_new_data(run_dir, tmp_path / "more.csv", embed=False, device="cpu")
    assert report["unknown_labels"] == {"neutral": 7}
    assert report["rows"] == 67 and report["scored"] == 60
    assert report["new"] == known["new"]


def test_another_column_layout_is_mapped_as_the_data_page_does(run_dir, batch, tmp_path):
    known = check_new_data(run_dir, batch, embed=False, device="cpu")
    table = pd.read_csv(batch).rename(columns={"text": "review", "label": "sentiment"})
    table.insert(0, "id", range(len(table)))
    table[["sentiment", "id", "review"]].to_csv(tmp_path / "other.tsv", sep="\t", index=False)
    report = check_new_data(run_dir, tmp_path / "other.tsv", embed=False, device="cpu")
    assert (report["text_column"], report["label_column"]) == ("review", "sentiment")
    assert report["new"] == known["new"] and report["confusion"] == known["confusion"]


def test_a_batch_without_labels_or_with_no_known_label_says_what_to_do(run_dir, tmp_path):
    pd.DataFrame({"text": ["good day", "bad day"]}).to_csv(tmp_path / "nolabel.csv", index=False)
    with pytest.raises(PredictError, match="needs a label column"):
        check_new_data(run_dir, tmp_path / "nolabel.csv", embed=False)
    pd.DataFrame({"text": ["good day", "bad day"], "label": ["x", "y"]}).to_csv(
        tmp_path / "unknown.csv", index=False
    )
    with pytest.raises(PredictError, match="a label the model knows"):
        check_new_data(run_dir, tmp_path / "unknown.csv", embed=False)
    with pytest.raises(PredictError, match="No column 'body'"):
        check_new_data(run_dir, tmp_path / "unknown.csv", text_col="body", embed=False)


def test_longer_texts_are_reported_as_drift_in_the_verdict(run_dir, tmp_path):
    table = pd.read_csv(write_reviews(tmp_path / "b.csv", rows=60, seed=3))
    table["text"] = table["text"] + " " + table["text"] + " " + table["text"]
    table.to_csv(tmp_path / "long.csv", index=False)
    report = check_new_data(run_dir, tmp_path / "long.csv", embed=False, device="cpu")
    length = next(c for c in report["drift"].checks if c.name == "length")
    assert length.drifted
    assert "× as long" in report["verdict"]


def fake_drift(ratio: float, unseen: float):
    checks = [DriftCheck("length", 0.5, 0.1, ratio != 1, ""),
              DriftCheck("vocabulary", unseen, 0.1, unseen > 0.1, "")]  # fmt: skip
    return SimpleNamespace(checks=checks, reference_lengths=np.array([10]),
                           new_lengths=np.array([10 * ratio]))  # fmt: skip


def test_verdict_says_how_much_worse_why_and_what_to_do():
    text = verdict_text(-9.2, fake_drift(2.0, 0.14))
    assert text == (
        "9 points worse on the new data; the texts are 2.0× as long and 14% of words are "
        "unseen: retrain with some of the new data."
    )
    assert verdict_text(-1.0, fake_drift(1, 0.0)).startswith("About as good")
    assert "look at the per-class" in verdict_text(-12, fake_drift(1, 0.0))
    assert "keep using it" in verdict_text(-1.0, None)


def test_a_generative_run_is_refused_with_a_message(tmp_path):
    base = tmp_path / "tiny-lm"
    run = make_run(tmp_path, str(base), base, "causal_lm", tiny_base(base, "causal_lm"))
    write_reviews(tmp_path / "b.csv", rows=10)
    with pytest.raises(PredictError, match="classification run"):
        check_new_data(run, tmp_path / "b.csv", embed=False)


def test_a_generative_run_gets_loss_and_perplexity_in_either_column_layout(tmp_path):
    base = tmp_path / "tiny-lm"
    run = make_run(tmp_path, str(base), base, "causal_lm", tiny_base(base, "causal_lm"))
    validation = {"task": "causal_lm", "eval_loss": 2.0, "perplexity": float(np.exp(2.0)),
                  "n_validation": 10, "n_tokens": 100, "samples": []}  # fmt: skip
    (run / runs.EVAL_FILE).write_text(json.dumps(validation))
    table = pd.read_csv(write_reviews(tmp_path / "b.csv", rows=20))[["text"]]
    table.to_csv(tmp_path / "plain.csv", index=False)
    table.rename(columns={"text": "content"}).to_json(tmp_path / "other.jsonl", lines=True,
                                                     orient="records")  # fmt: skip
    report = check_new_text_data(run, tmp_path / "plain.csv", device="cpu")
    other = check_new_text_data(run, tmp_path / "other.jsonl", device="cpu")
    assert report["scored"] == 20 and report["n_tokens"] > 20
    assert report["new"]["perplexity"] == pytest.approx(np.exp(report["new"]["eval_loss"]))
    assert other["new"] == report["new"] and report["validation"]["eval_loss"] == 2.0
    ratio = report["new"]["perplexity"] / validation["perplexity"]
    assert f"{ratio:.1f}" in report["verdict"] or f"{ratio:.2f}" in report["verdict"]
    from core.newdata import main  # the terminal's check takes the generative path too

    assert main([str(run), "--data", str(tmp_path / "plain.csv"), "--device", "cpu"]) == 0


def test_text_verdict_follows_the_perplexity_ratio():
    assert "retrain" in text_verdict(1.5)
    assert "about the same" in text_verdict(1.05)
    assert "easier" in text_verdict(0.5)


def test_a_pair_run_needs_the_second_text_column_and_a_gone_training_file_skips_drift(
    run_dir, batch, tmp_path
):
    import shutil

    copy = shutil.copytree(run_dir, tmp_path / "run")
    config = runs.read_config(copy).replace(data={"text_pair_column": "title"})
    config.save(copy / runs.CONFIG_FILE)
    with pytest.raises(PredictError, match="no second text column 'title'"):
        check_new_data(copy, batch, embed=False)
    config.replace(data={"text_pair_column": "", "path": str(tmp_path / "gone.csv")}).save(
        copy / runs.CONFIG_FILE
    )
    report = check_new_data(copy, batch, embed=False, device="cpu")
    assert report["drift"] is None and report["scored"] == 60
    assert "keep using it." in report["verdict"] or "look at" in report["verdict"]
