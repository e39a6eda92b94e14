"""python -m core.fit: the wizard's path in one line, and its messages for bad input."""

import math

import pandas as pd
import pytest

from core import runs
from core.fit import data_settings, fit, parse_args


def test_without_columns_it_takes_the_data_pages_suggestion():
    table = pd.DataFrame(
        {"id": [1, 2], "review": ["a long enough text here", "x" * 30], "sentiment": ["pos", "neg"]}
    )
    task, columns = data_settings(table, "", "", "")
    assert task == "classification"
    assert (columns["text_column"], columns["label_column"]) == ("review", "sentiment")


def test_named_columns_win_and_a_missing_one_is_named(tmp_path):
    table = pd.DataFrame({"a": ["some text here"] * 2, "b": ["x", "y"]})
    assert data_settings(table, "a", "b", "")[1]["label_column"] == "b"
    with pytest.raises(ValueError, match="no column 'c'.*--text / --label"):
        data_settings(table, "c", "b", "")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--label", "nope"], "no column 'nope'"),
        (["--preset", "auto", "--budget-minutes", "0.01"], "smallest that works"),
    ],
)
def test_bad_input_exits_2_with_a_message_not_a_traceback(
    reviews_csv, data_root, capsys, extra, message
):
    assert fit(parse_args(["--data", str(reviews_csv), *extra])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_adapter_of_other_labels_is_refused_before_a_run_is_made(
    reviews_csv, tmp_path, data_root, capsys
):
    import json

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16, "peft_type": "LORA"}))
    meta = {"labels": ["sports", "world"], "task": "classification"}
    (adapter / "labels.json").write_text(json.dumps(meta))
    out = tmp_path / "run"
    argv = ["--data", str(reviews_csv), "--preset", "quick", "--out", str(out)]
    assert fit(parse_args([*argv, "--set", f"lora.init_from={adapter}", "--set", "lora.r=16"])) == 2
    err = capsys.readouterr().err
    assert "learned 2 labels (sports, world)" in err and "Traceback" not in err
    assert not out.exists()


def test_a_missing_file_and_a_used_out_folder_are_refused(reviews_csv, tmp_path, data_root, capsys):
    assert fit(parse_args(["--data", str(tmp_path / "none.csv")])) == 2
    assert "No file at" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    assert fit(parse_args(["--data", str(reviews_csv), "--out", str(used)])) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (used / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_quick_writes_the_run_directory_the_results_page_reads(
    tiny_bert, reviews_csv, tmp_path, data_root, capsys
):
    out = tmp_path / "run"
    args = ["--data", str(reviews_csv), "--model", str(tiny_bert), "--preset", "quick"]
    assert fit(parse_args([*args, "--out", str(out)])) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"run directory: {out}"
    assert printed[-2].startswith("validation accuracy ")
    result = runs.read_eval(out)
    assert {"accuracy", "macro_f1"} <= set(result)
    config = runs.read_config(out)
    assert config.training.max_steps >= 150 and config.data.label_column == "label"
    assert (out / runs.ADAPTER_DIR).is_dir() and runs.read_metrics(out)
    assert runs.read_status(out)["state"] == "completed"


def test_a_budget_short_of_autos_plan_is_said_with_the_budget_it_needs(reviews_csv, capsys):
    from core.fit import build_config, say_if_budget_short
    from core.search import suggested_budget_s

    config, _, _ = build_config(parse_args(["--data", str(reviews_csv), "--preset", "auto"]))
    needed = suggested_budget_s(config) / 60
    say_if_budget_short(config, needed / 2)
    assert f"Auto needs about {math.ceil(needed)} minutes here" in capsys.readouterr().out
    say_if_budget_short(config, needed + 1)
    assert capsys.readouterr().out == ""


def test_it_says_how_it_read_the_file_before_training(tmp_path):
    """A headerless TSV with one broken line: the header guess, the line left out (by number) and
    the columns and task are printed, as the Data page shows them."""
    from core.fit import build_config

    rows = [f"a sentence number {i} that reads like a review\t{i % 2}" for i in range(40)]
    rows.insert(5, 'a broken "quote\tx\ty')
    data = tmp_path / "sentences.tsv"
    data.write_text("\n".join(rows) + "\n")
    _, _, reading = build_config(parse_args(["--data", str(data), "--preset", "quick"]))
    text = "\n".join(reading)
    assert reading[0] == "Read sentences.tsv: 40 rows."
    assert "No header row found: columns named text, label" in text
    assert "Lines that could not be read: 1 (line 6)" in text and "the first few are listed" in text
    assert '  line 6: 3 fields where the others have 2: a broken "quote|x|y' in reading
    assert reading[-1] == (
        "Task classification: text column 'text', label column 'label' (2 labels). "
        "Change it with --text, --label or --task."
    )
