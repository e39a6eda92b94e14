"""StudioTrainer: logits only at trained positions give the same loss and gradients."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    LlamaForSequenceClassification,
    T5ForConditionalGeneration,
    TrainingArguments,
)

from core.settings import RunConfig
from core.train.generative import load_model
from core.train.trainer import (
    StudioTrainer,
    sparse_logits_apply,
    takes_logit_mask,
    trained_positions,
)


@pytest.fixture
def lora_llama(tiny_llama):
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        lora={"dropout": 0.0, "target_modules": ["all-linear"]},
    )
    model, _ = load_model(config, str(tiny_llama))
    return model.train()


def batch():
    torch.manual_seed(0)
    ids = torch.randint(3, 60, (3, 24))
    labels = ids.clone()
    labels[0, :10] = -100  # prompts
    labels[1, :4] = -100
    labels[2, 18:] = -100  # padding
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("num_items", [None, 101])
def test_sparse_logits_give_the_same_loss_and_gradients(lora_llama, num_items):
    inputs = batch()
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    full = lora_llama(**inputs, **extra).loss
    full.backward()
    reference = grads(lora_llama)
    lora_llama.zero_grad()
    sparse = lora_llama(**inputs, **extra, **trained_positions(inputs["labels"]))
    sparse.loss.backward()
    trained = int((inputs["labels"][:, 1:] != -100).sum())
    assert sparse.logits.shape[0] == trained < inputs["labels"].numel()
    assert sparse.loss.item() == pytest.approx(full.item(), abs=1e-5)
    for name, grad in grads(lora_llama).items():
        assert torch.allclose(grad, reference[name], atol=1e-6), name


def test_trainer_uses_sparse_logits_for_training_and_full_ones_for_evaluation(
    lora_llama, tmp_path, monkeypatch
):
    trainer = StudioTrainer(
        model=lora_llama,
        args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]),
    )
    seen = []
    forward = lora_llama.forward
    monkeypatch.setattr(
        lora_llama, "forward", lambda **kw: seen.append("logits_to_keep" in kw) or forward(**kw)
    )
    inputs = batch()
    loss = trainer.compute_loss(lora_llama, dict(inputs))
    eval_loss, _ = trainer.compute_loss(lora_llama, dict(inputs), return_outputs=True)
    assert seen == [True, False]
    assert float(loss) == pytest.approx(float(eval_loss), abs=1e-5)


def test_models_without_the_mask_support_keep_full_logits():
    assert not takes_logit_mask(LlamaForSequenceClassification)
    assert not takes_logit_mask(T5ForConditionalGeneration)


def test_the_speed_feature_is_reported_only_where_it_applies(lora_llama):
    assert sparse_logits_apply(lora_llama, "causal_lm")
    assert not sparse_logits_apply(lora_llama, "classification")
