"""python -m core.predict: a whole file through a run's adapter, and bad input as messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import runs
from core.predict import main, predict_file
from core.settings import RunConfig
from tests.conftest import write_reviews

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A run trained by core.train on the embedded MiniLM (a random tiny BERT answers one label)."""
    from core import jobs

    root = tmp_path_factory.mktemp("runs")
    config = RunConfig(name="quick").replace(
        data={"path": str(write_reviews(root / "reviews.csv", rows=160))},
        training={
            "num_train_epochs": 2.0,
            "learning_rate": 2e-3,
            "per_device_train_batch_size": 8,
            "max_length": 32,
        },
        lora={"r": 4, "alpha": 8},
    )
    run_dir = jobs.start_job(config, root=root)
    status = jobs.wait_for(run_dir, timeout=300)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    return run_dir


def test_every_row_is_labelled_in_input_order_as_the_unmerged_model_does(lora_run, tmp_path):
    from core.evaluate import load_classifier, predict

    data = write_reviews(tmp_path / "new.csv", rows=37, seed=3)
    table = pd.read_csv(data)
    table.loc[5, "text"] = " ".join(["long"] * 60)  # truncated at max_length, sorted last
    table.to_csv(data, index=False)
    summary = predict_file(lora_run, data, tmp_path / "out.csv", batch_size=4)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["text", "label", "predicted", "probability"]
    assert list(out["text"]) == list(table["text"])
    expected = predict(load_classifier(lora_run), table["text"].tolist())
    assert list(out["predicted"]) == [e["label"] for e in expected]
    np.testing.assert_allclose(out["probability"], [e["probability"] for e in expected], atol=2e-4)
    # Different rows get different answers, so a row out of place would show.
    assert len(set(out["predicted"])) == 2 and np.ptp(out["probability"]) > 0.05
    assert summary["rows"] == summary["predicted"] == 37 and summary["rows_per_s"] > 0
    assert summary["accuracy"] == pytest.approx((out["predicted"] == out["label"]).mean())


def test_the_cli_reports_accuracy_and_leaves_rows_without_text_unlabelled(
    lora_run, tmp_path, capsys
):
    data = tmp_path / "reviews.csv"
    pd.DataFrame(
        {"review": ["great product really", "", "awful service broken"], "label": LABELS + [""]}
    ).to_csv(data, index=False)
    assert (
        main(["--run", str(lora_run), "--data", str(data), "--out", str(tmp_path / "o.csv")]) == 0
    )
    printed = capsys.readouterr().out
    assert "Labelled 2 of 3 rows (column 'review')" in printed
    assert "1 rows had no text: left unlabelled." in printed
    assert "On the 1 labelled rows: accuracy" in printed
    out = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert out["predicted"][1] == "" and out["predicted"][0] in LABELS


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_a_file_without_text_or_with_a_wrong_column_gets_a_message(lora_run, tmp_path, capsys):
    numbers = tmp_path / "numbers.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}).to_csv(numbers, index=False)
    out = tmp_path / "out.csv"
    code, err = run_cli(capsys, "--run", lora_run, "--data", numbers, "--out", out)
    assert code == 2 and "No column looks like text" in err and "--text" in err
    reviews = write_reviews(tmp_path / "r.csv", rows=5)
    code, err = run_cli(
        capsys, "--run", lora_run, "--data", reviews, "--out", out, "--text", "body"
    )
    assert code == 2 and "No column 'body' in the file; it has text, label" in err
    code, err = run_cli(capsys, "--run", lora_run, "--data", reviews, "--out", reviews)
    assert code == 2 and "--out is the input file" in err
    assert not out.exists() and len(pd.read_csv(reviews)) == 5


def test_a_run_without_a_complete_adapter_gets_a_message(lora_run, tmp_path, capsys):
    import shutil

    data = write_reviews(tmp_path / "r.csv", rows=5)
    partial = tmp_path / "partial"
    shutil.copytree(lora_run, partial)
    (partial / runs.ADAPTER_DIR / "adapter_model.safetensors").unlink()
    code, err = run_cli(capsys, "--run", partial, "--data", data, "--out", tmp_path / "o.csv")
    assert code == 2 and "is incomplete: the weights missing" in err and "resume" in err
    shutil.rmtree(partial / runs.ADAPTER_DIR)
    code, err = run_cli(capsys, "--run", partial, "--data", data, "--out", tmp_path / "o.csv")
    assert code == 2 and "No trained adapter" in err
    code, err = run_cli(capsys, "--run", tmp_path, "--data", data, "--out", tmp_path / "o.csv")
    assert code == 2 and "is not a run folder" in err
