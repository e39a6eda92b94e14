"""lora.init_from: a run starts from a saved adapter's weights (LoRA and classifier head) instead of
fresh ones, and refuses one of another shape or other labels with a message that says what to do."""

from __future__ import annotations

import json

import pytest
import torch

from core.settings import ConfigError, RunConfig
from core.train.adapters import attach_adapter


def classifier(tiny_bert, **lora):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    config = RunConfig().replace(lora={"r": 4, "alpha": 8, **lora})
    return attach_adapter(model, config, "SEQ_CLS")


def trained(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def saved_adapter(tiny_bert, folder, labels=("neg", "pos")):
    torch.manual_seed(1)
    model = classifier(tiny_bert)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param))  # unlike any fresh adapter
    model.save_pretrained(folder)
    meta = {"labels": list(labels), "task": "classification", "pooling": "cls"}
    (folder / "labels.json").write_text(json.dumps(meta))
    return trained(model)


def test_a_run_starts_from_the_saved_adapter_and_head(tiny_bert, tmp_path):
    saved = saved_adapter(tiny_bert, tmp_path / "adapter")
    fresh = trained(classifier(tiny_bert))
    started = trained(classifier(tiny_bert, init_from=str(tmp_path / "adapter")))
    assert started.keys() == saved.keys() and any("classifier" in n for n in started)
    for name, value in started.items():
        assert torch.equal(value, saved[name]), name
        assert not torch.equal(value, fresh[name]), name


def test_an_adapter_of_another_shape_or_none_at_all_is_refused_with_the_fix(tiny_bert, tmp_path):
    adapter = tmp_path / "adapter"
    saved_adapter(tiny_bert, adapter)
    with pytest.raises(ConfigError, match="trained with rank 4.*set lora.r to 4"):
        classifier(tiny_bert, r=8, alpha=16, init_from=str(adapter))
    with pytest.raises(ConfigError, match="target layers query, value.*lora.target_modules"):
        classifier(tiny_bert, target_modules=["query", "value", "key"], init_from=str(adapter))
    with pytest.raises(ConfigError, match="holds no adapter.*adapter/ folder"):
        classifier(tiny_bert, init_from=str(tmp_path))
    with pytest.raises(ConfigError, match="method full"):
        classifier(tiny_bert, method="full", init_from=str(adapter))
    (adapter / "labels.json").unlink()  # not this app's adapter: the weights' shapes decide
    from transformers import AutoModelForSequenceClassification

    three = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=3, ignore_mismatched_sizes=True
    )
    config = RunConfig().replace(lora={"r": 4, "alpha": 8, "init_from": str(adapter)})
    with pytest.raises(ConfigError, match="does not fit this run.*use the rank, target layers"):
        attach_adapter(three, config, "SEQ_CLS")


def test_an_adapter_trained_on_other_labels_task_base_or_pooling_is_refused(tiny_bert, tmp_path):
    from core.train.adapters import check_start_adapter

    adapter = tmp_path / "adapter"
    saved_adapter(tiny_bert, adapter, labels=("a", "b"))
    config = RunConfig().replace(lora={"r": 4, "alpha": 8, "init_from": str(adapter)})
    check_start_adapter(config, ["a", "b"], pooling="cls")  # the same: accepted
    with pytest.raises(
        ConfigError, match="learned 2 labels \\(a, b\\) and this data has 2 \\(neg, pos\\)"
    ):
        check_start_adapter(config, ["neg", "pos"], pooling="cls")
    with pytest.raises(ConfigError, match="pools tokens by cls.*set model.pooling to cls"):
        check_start_adapter(config, ["a", "b"], pooling="mean")
    with pytest.raises(ConfigError, match="pools tokens by cls"):  # the setting, when not auto
        check_start_adapter(config.replace(model={"pooling": "mean"}), ["a", "b"])
    with pytest.raises(ConfigError, match="task classification.*set model.task"):
        check_start_adapter(config.replace(model={"task": "causal_lm"}))
    meta = json.loads((adapter / "labels.json").read_text())
    (adapter / "labels.json").write_text(json.dumps({**meta, "base_model": "other/model"}))
    with pytest.raises(ConfigError, match="base model other/model.*model.name_or_path"):
        check_start_adapter(config)


def test_the_data_labels_are_checked_before_start(tiny_bert, tmp_path):
    """start_adapter_problem reads the data's labels, so the pages and core.fit refuse before
    Start what the job would refuse after loading the model."""
    from core.train.preflight import start_adapter_problem

    adapter = tmp_path / "adapter"
    saved_adapter(tiny_bert, adapter, labels=("neg", "pos"))
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20)))
    config = RunConfig().replace(
        data={"path": str(data), "text_column": "text", "label_column": "label"},
        lora={"r": 4, "alpha": 8, "init_from": str(adapter)},
    )
    assert "learned 2 labels (neg, pos) and this data has 2 (a, b)" in start_adapter_problem(config)
    meta = json.loads((adapter / "labels.json").read_text())
    (adapter / "labels.json").write_text(json.dumps({**meta, "labels": ["a", "b"]}))
    assert start_adapter_problem(config) == ""
    assert start_adapter_problem(config.replace(lora={"init_from": ""})) == ""


def test_the_data_labels_are_read_once_per_version_of_the_file(tmp_path, monkeypatch):
    """The pages ask on every rerun: the file is read again only when it (or the settings) change."""
    import os

    import core.data.load
    from core.train.preflight import data_labels

    reads = []
    real = core.data.load.load_table
    monkeypatch.setattr(
        core.data.load, "load_table", lambda *a, **k: reads.append(1) or real(*a, **k)
    )
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20)))
    settings = RunConfig().data.model_copy(
        update={"path": str(data), "text_column": "text", "label_column": "label"}
    )
    assert data_labels(settings) == ["a", "b"] == data_labels(settings)
    assert len(reads) == 1
    data.write_text(data.read_text() + "row 20,c\n")
    os.utime(data, ns=(1, 1))  # a new version, even within the file system's time resolution
    assert data_labels(settings) == ["a", "b", "c"] and len(reads) == 2
    assert data_labels(settings.model_copy(update={"path": str(tmp_path / "gone.csv")})) is None
