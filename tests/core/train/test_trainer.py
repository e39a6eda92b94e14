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
    MASK_FAMILIES,
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
    # the first-batch check (full, then masked), the masked training loss, the full eval loss
    assert seen == [False, True, True, False]
    assert trainer._mask_checked is True
    assert float(loss) == pytest.approx(float(eval_loss), abs=1e-5)


def test_models_without_the_mask_support_keep_full_logits():
    assert not takes_logit_mask(LlamaForSequenceClassification)
    assert not takes_logit_mask(T5ForConditionalGeneration)


def test_the_speed_feature_is_reported_only_where_it_applies(lora_llama):
    assert sparse_logits_apply(lora_llama, "causal_lm")
    assert not sparse_logits_apply(lora_llama, "classification")


TINY_SHAPES = dict(
    vocab_size=97,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    max_position_embeddings=64,
    pad_token_id=0,
)


def family_model(family: str):
    """A tiny LoRA-wrapped causal LM of this family, in training mode, dropout off."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.for_model(family, **TINY_SHAPES)
    model = AutoModelForCausalLM.from_config(config)
    lora = LoraConfig(task_type="CAUSAL_LM", r=4, lora_dropout=0.0, target_modules="all-linear")
    model = get_peft_model(model, lora)
    for name, param in model.named_parameters():  # B = 0 would hide a wrong gradient
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.1)
    return model.train()


@pytest.mark.parametrize("family", MASK_FAMILIES)
def test_every_supported_family_gives_the_full_logits_loss_and_gradients(family):
    model = family_model(family)
    assert takes_logit_mask(type(model.get_base_model()))
    inputs = batch()
    inputs = {**inputs, "input_ids": inputs["input_ids"] % 90 + 3}
    full = model(**inputs).loss
    full.backward()
    reference = grads(model)
    model.zero_grad()
    sparse = model(**inputs, **trained_positions(inputs["labels"]))
    sparse.loss.backward()
    assert sparse.logits.shape[0] < inputs["labels"].numel()
    assert sparse.loss.item() == pytest.approx(full.item(), abs=1e-5)
    for name, grad in grads(model).items():
        assert torch.allclose(grad, reference[name], atol=1e-6), name


def test_families_outside_the_tested_list_keep_full_logits():
    from transformers import GPTNeoXForCausalLM, OlmoForCausalLM

    assert not takes_logit_mask(OlmoForCausalLM)  # takes logits_to_keep, but is not tested here
    assert not takes_logit_mask(GPTNeoXForCausalLM)


def test_a_model_that_rejects_the_mask_trains_on_full_logits(lora_llama, tmp_path, monkeypatch):
    trainer = StudioTrainer(
        model=lora_llama,
        args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]),
    )
    forward = lora_llama.forward

    def no_bool_masks(**kw):  # what a transformers upgrade might do
        if isinstance(kw.get("logits_to_keep"), torch.Tensor):
            raise TypeError("logits_to_keep must be an int")
        return forward(**kw)

    monkeypatch.setattr(lora_llama, "forward", no_bool_masks)
    inputs = batch()
    loss = trainer.compute_loss(lora_llama, dict(inputs))
    assert trainer._mask_checked is False
    assert float(loss) == pytest.approx(float(forward(**inputs).loss), abs=1e-5)
    assert lora_llama.training  # the check left the model in training mode


def test_a_mask_that_changes_the_loss_is_turned_off(lora_llama, tmp_path, monkeypatch):
    trainer = StudioTrainer(
        model=lora_llama,
        args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]),
    )
    forward = lora_llama.forward

    def shifted(**kw):  # silently ignores shift_labels: a different loss
        kw.pop("shift_labels", None)
        if isinstance(kw.get("logits_to_keep"), torch.Tensor):
            kw["logits_to_keep"] = 0
            out = forward(**kw)
            out.loss = out.loss * 1.5
            return out
        return forward(**kw)

    monkeypatch.setattr(lora_llama, "forward", shifted)
    trainer.compute_loss(lora_llama, dict(batch()))
    assert trainer._mask_checked is False


def test_the_head_learning_rate_scale_moves_only_the_head_and_follows_the_schedule(
    tiny_bert, tmp_path
):
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from core.train.trainer import StudioTrainer, head_parameters

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8))
    args = TrainingArguments(
        output_dir=str(tmp_path), learning_rate=2e-3, max_steps=10, warmup_steps=0, report_to=[]
    )
    trainer = StudioTrainer(model=model, args=args)
    trainer.head_lr_scale = 0.1
    optimizer = trainer.create_optimizer()
    head = {id(p) for p in head_parameters(model)}
    assert head and len(head) == 2  # the trainable copy's weight and bias
    trained = {id(p) for p in model.parameters() if p.requires_grad}
    in_groups = [id(p) for g in optimizer.param_groups for p in g["params"]]
    assert sorted(in_groups) == sorted(trained)  # every trainable parameter once, nothing else
    for group in optimizer.param_groups:
        ids = {id(p) for p in group["params"]}
        assert ids <= head or not ids & head  # no group mixes head and adapter
        assert group["lr"] == pytest.approx(2e-4 if ids <= head else 2e-3)
    scheduler = trainer.create_scheduler(10, optimizer)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    rates = {
        ids <= head: g["lr"]
        for g in optimizer.param_groups
        if (ids := {id(p) for p in g["params"]})
    }
    assert rates[True] == pytest.approx(0.1 * rates[False]) and rates[False] < 2e-3


def test_label_smoothing_reaches_the_classifier_loss(tiny_bert, tmp_path):
    """training.label_smoothing_factor is the loss the Trainer computes: the smoothed
    cross-entropy of the model's logits, not the plain one."""
    import torch.nn.functional as F
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    from core.train.recipe import build_training_args

    config = RunConfig().replace(training={"label_smoothing_factor": 0.2})
    args = build_training_args(config, tmp_path, n_train=64)
    assert args.label_smoothing_factor == 0.2
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    with torch.no_grad():  # confident logits, where smoothing changes the loss
        model.classifier.weight.mul_(200.0)
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8))
    model.eval()
    trainer = StudioTrainer(model=model, args=args, eval_dataset=[{"input_ids": [5]}])
    ids = torch.randint(5, 90, (4, 12))
    labels = torch.tensor([0, 1, 1, 0])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    loss = trainer.compute_loss(model, dict(inputs))
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=inputs["attention_mask"]).logits
    smoothed = F.cross_entropy(logits, labels, label_smoothing=0.2)
    plain = F.cross_entropy(logits, labels)
    assert float(loss) == pytest.approx(float(smoothed), rel=1e-5)
    assert abs(float(smoothed) - float(plain)) > 1e-4  # the check can tell the two apart
