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
    saved_adapter(tiny_bert, tmp_path / "adapter")
    with pytest.raises(ConfigError, match="does not fit this run.*use the rank, target layers"):
        classifier(tiny_bert, r=8, alpha=16, init_from=str(tmp_path / "adapter"))
    with pytest.raises(ConfigError, match="does not fit this run.*missing there"):
        classifier(
            tiny_bert, target_modules=["query", "value", "key"], init_from=str(tmp_path / "adapter")
        )
    with pytest.raises(ConfigError, match="holds no adapter.*adapter/ folder"):
        classifier(tiny_bert, init_from=str(tmp_path))
    with pytest.raises(ConfigError, match="method full"):
        classifier(tiny_bert, method="full", init_from=str(tmp_path / "adapter"))


def test_an_adapter_trained_on_other_labels_is_refused(tiny_bert, tmp_path):
    from core.train.classification import check_adapter_labels

    saved_adapter(tiny_bert, tmp_path / "adapter", labels=("a", "b"))
    model = classifier(tiny_bert)
    model.config.classifier_pooling = "cls"
    check_adapter_labels(str(tmp_path / "adapter"), ["a", "b"], model)  # the same: accepted
    with pytest.raises(
        ConfigError, match="learned 2 labels \\(a, b\\) and this data has 2 \\(neg, pos\\)"
    ):
        check_adapter_labels(str(tmp_path / "adapter"), ["neg", "pos"], model)
    model.config.classifier_pooling = "mean"
    with pytest.raises(ConfigError, match="pools tokens by cls.*set model.pooling to cls"):
        check_adapter_labels(str(tmp_path / "adapter"), ["a", "b"], model)
