"""python -m core.predict: a whole file through a run's adapter, and bad input as messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import runs
from core.predict import main, predict_file
from core.settings import RunConfig
from tests.conftest import write_reviews

LABELS = ["negative", "positive"]


def word_tokenizer(folder):
    """A word-level tokenizer trained here on the review words (no download, no embedded model)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.conftest import FILLER, NEGATIVE, POSITIVE

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"])
    tokenizer.train_from_iterator([" ".join(FILLER + POSITIVE + NEGATIVE + ["long"])], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")
    fast.save_pretrained(folder)
    return fast


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A run folder: a tiny random Llama base (no head) and a classifier on it (it reads the last
    token, so answers differ from row to row) with a LoRA of random non-zero weights and its
    head, saved as core.train saves one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForSequenceClassification, LlamaModel

    root = tmp_path_factory.mktemp("predict")
    base_dir = root / "tiny-llama"
    tokenizer = word_tokenizer(base_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
    )
    LlamaModel(config).save_pretrained(base_dir)  # a base model has no head, as on the Hub
    run_config = RunConfig(name="quick").replace(
        model={"name_or_path": str(base_dir)}, training={"max_length": 32}
    )
    run_dir = runs.create_run(run_config, root=root / "runs")
    base = LlamaForSequenceClassification.from_pretrained(base_dir, num_labels=2)
    lora = LoraConfig(
        task_type="SEQ_CLS", r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    adapter = run_dir / runs.ADAPTER_DIR
    get_peft_model(base, lora).save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    meta = {
        "labels": LABELS,
        "base_model": str(base_dir),
        "method": "lora",
        "task": "classification",
    }
    (adapter / "labels.json").write_text(json.dumps(meta))
    runs.write_status(run_dir, state="completed")
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
    lora_run, tmp_path, capsys, caplog
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
    assert "1 row had no text: left unlabelled." in printed
    assert "On the 1 labelled row: accuracy" in printed
    # The head the base model "misses" is the trained one in the adapter: no banner saying
    # it was "newly initialized", consider training.
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]
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


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(cuda_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_where_there_is_none_gets_a_message(lora_run, tmp_path, capsys):
    data = write_reviews(tmp_path / "r.csv", rows=5)
    out = tmp_path / "o.csv"
    code, err = run_cli(capsys, "--run", lora_run, "--data", data, "--out", out, "--device", "cuda")
    assert code == 2 and "torch sees no GPU here. Use --device cpu." in err


@pytest.mark.skipif(not cuda_available(), reason="needs a GPU")
def test_the_gpu_gives_the_cpu_answers(lora_run, tmp_path):
    data = write_reviews(tmp_path / "new.csv", rows=300, seed=5)
    on_cpu = predict_file(lora_run, data, tmp_path / "cpu.csv", device="cpu", batch_size=16)
    on_gpu = predict_file(lora_run, data, tmp_path / "gpu.csv", device="cuda", batch_size=16)
    cpu, gpu = pd.read_csv(tmp_path / "cpu.csv"), pd.read_csv(tmp_path / "gpu.csv")
    assert list(gpu["predicted"]) == list(cpu["predicted"])
    np.testing.assert_allclose(gpu["probability"], cpu["probability"], atol=1e-3)
    assert on_gpu["accuracy"] == on_cpu["accuracy"]


@pytest.mark.slow
def test_a_run_trained_by_core_train_labels_a_new_file_well(tmp_path):
    """The whole path: core.train writes the adapter, core.predict reads it (embedded MiniLM)."""
    from core import jobs

    config = RunConfig(name="quick").replace(
        data={"path": str(write_reviews(tmp_path / "train.csv", rows=160))},
        training={"num_train_epochs": 2.0, "learning_rate": 2e-3, "max_length": 32},
        lora={"r": 4, "alpha": 8},
    )
    run_dir = jobs.start_job(config, root=tmp_path / "runs")
    status = jobs.wait_for(run_dir, timeout=300)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    fresh = write_reviews(tmp_path / "fresh.csv", rows=60, seed=11)
    summary = predict_file(run_dir, fresh, tmp_path / "out.csv")
    assert summary["labelled"] == 60 and summary["accuracy"] > 0.8, summary
