"""The app's Trainer: transformers' Trainer with two savings that leave the result unchanged.

- Batching: "group_by_length" batches come from core.train.sampler (length-bucketed, shuffled,
  drawn from (seed, epoch) so resumes and DDP ranks agree).
- Checkpoints: each is marked complete once every rank has written its files
  (core.train.checkpoints), so a kill during a save never leaves a folder that resume picks.
- Causal-LM loss: the output head runs only at positions whose next token is trained. With the
  loss on responses only, a chat's prompt tokens need no logits: for the benchmark's instructions
  that halves the head's work, and for real vocabularies (Qwen2.5: 151k tokens) the head is a large
  share of each step and of its memory. The model gets `logits_to_keep` as a boolean mask and
  the matching targets as `shift_labels`, so its own loss function computes the same sum / count as
  on full logits.

The mask relies on how transformers' causal-LM classes treat `logits_to_keep` and pass keyword
arguments on to their loss, so it is guarded three ways, and a transformers upgrade that changed
either falls back to full logits instead of changing results:
1. only the architecture families in `MASK_FAMILIES`, each held by a test to the full-logits loss
   and gradients (tests/core/train/test_trainer.py);
2. only classes whose `forward` takes `logits_to_keep` and passes `**kwargs` on;
3. on the first training batch the masked loss is computed beside the full one (eval mode, no
   gradient, once per run); a mismatch or an error turns the mask off for the run, with a warning.
"""

from __future__ import annotations

import functools
import inspect
import logging
from pathlib import Path

from transformers import Trainer

from core.train import checkpoints
from core.train.sampler import LengthBucketedSampler

IGNORE = -100
# Families whose masked loss and gradients a test holds to the full-logits ones.
MASK_FAMILIES = ("llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2")
# Largest relative gap between the masked and the full loss the first-batch check accepts: fp32
# agrees to ~1e-6; bf16 autocast rounds each logit to ~4e-3, which averages out in the loss.
PROBE_RTOL = 5e-3
log = logging.getLogger(__name__)


class StudioTrainer(Trainer):
    """`Trainer` with length-bucketed batches and logits only where the loss needs them."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        lengths = row_lengths(dataset)
        if self.args.train_sampling_strategy == "group_by_length" and lengths is not None:
            seed = self.args.seed if self.args.data_seed is None else self.args.data_seed
            return LengthBucketedSampler(lengths, self.args.train_batch_size, seed=seed)
        return super()._get_train_sampler(train_dataset)

    head_lr_scale = 1.0  # set by core.train.recipe from training.head_lr_scale

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.head_lr_scale != 1.0:
            head = head_parameters(self.model if model is None else model)
            scale_head_learning_rate(optimizer, head, self.head_lr_scale)
            print(
                f"head learning rate: {self.head_lr_scale:g} × {self.args.learning_rate:.1e} "
                f"for {sum(p.numel() for p in head):,} head parameters",
                flush=True,
            )
        return optimizer

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        self.accelerator.wait_for_everyone()  # every rank's RNG state is on disk
        if self.args.should_save:
            folder = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
            checkpoints.mark_complete(folder, self.state.global_step)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not return_outputs and self._sparse_logits(model, inputs):
            inputs = {**inputs, **trained_positions(inputs["labels"])}
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def _sparse_logits(self, model, inputs) -> bool:
        if self.label_smoother is not None or self.compute_loss_func is not None:
            return False
        labels = inputs.get("labels")
        if labels is None or labels.ndim != 2 or "logits_to_keep" in inputs:
            return False
        if not takes_logit_mask(type(_innermost(self.accelerator.unwrap_model(model)))):
            return False
        if getattr(self, "_mask_checked", None) is None:
            self._mask_checked = mask_matches_full_loss(model, inputs)
        return self._mask_checked


def mask_matches_full_loss(model, inputs) -> bool:
    """Whether the masked loss equals the full-logits loss on this batch (eval mode, no gradient).

    Returns False, with a warning, on a mismatch or an error (a transformers version that no longer
    takes a boolean `logits_to_keep`, or no longer passes `shift_labels` to its loss)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            full = float(model(**inputs).loss)
            masked = float(model(**inputs, **trained_positions(inputs["labels"])).loss)
    except Exception as err:  # noqa: BLE001 - any failure means: do not use the mask
        log.warning("Logits mask off for this run: the model rejected it (%s).", err)
        return False
    finally:
        model.train(was_training)
    if abs(masked - full) > PROBE_RTOL * max(1.0, abs(full)):
        log.warning(
            "Logits mask off for this run: masked loss %.6g != full loss %.6g.", masked, full
        )
        return False
    return True


def trained_positions(labels) -> dict:
    """{"logits_to_keep": bool mask of positions whose next label is trained, "shift_labels": those
    labels in the same (row-major) order}: what ForCausalLMLoss needs to skip the other logits."""
    import torch

    following = labels[:, 1:]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = following != IGNORE
    return {"logits_to_keep": keep, "shift_labels": following[keep[:, :-1]]}


def sparse_logits_apply(model, task: str) -> bool:
    """Whether training this model for this task computes logits only at trained positions."""
    return task == "causal_lm" and takes_logit_mask(type(_innermost(model)))


def _innermost(model):
    """The transformers model under peft's wrappers."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@functools.cache
def takes_logit_mask(model_class) -> bool:
    """Whether the class is a causal LM of a family in `MASK_FAMILIES` whose `forward` takes
    `logits_to_keep` (sliced by transformers' `slice_logits_to_keep`, which takes a boolean mask)
    and passes its other keyword arguments on to the loss (where `shift_labels` is read)."""
    family = getattr(getattr(model_class, "config_class", None), "model_type", "")
    if family not in MASK_FAMILIES or not model_class.__name__.endswith("ForCausalLM"):
        return False
    try:
        params = inspect.signature(model_class.forward).parameters
    except (TypeError, ValueError):
        return False
    passes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return "logits_to_keep" in params and passes_kwargs


def row_lengths(dataset) -> list[int] | None:
    """Token count of each row: the "length" column, or counted from input_ids (the Trainer drops
    columns the model does not take before it asks for a sampler); None for other datasets."""
    columns = getattr(dataset, "column_names", None) or []
    if "length" in columns:
        return list(dataset["length"])
    if "input_ids" in columns:
        return [len(ids) for ids in dataset["input_ids"]]
    return None


def head_parameters(model) -> list:
    """The trainable parameters of a classifier's head (`classifier` or `score`, peft's
    modules_to_save copy included), or [] for a model without one."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(inner, "classifier", None)
    head = getattr(inner, "score", None) if head is None else head
    if head is None:
        return []
    return [p for p in head.parameters() if p.requires_grad]


def scale_head_learning_rate(optimizer, head: list, scale: float) -> None:
    """Move `head` into parameter groups of their own, at `scale` × their group's learning rate.

    Done before the scheduler is built, which then scales every group's own rate over time.
    """
    ids = {id(p) for p in head}
    if not ids:
        return
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in ids]
        if not moved:
            continue
        group["params"] = [p for p in group["params"] if id(p) not in ids]
        optimizer.add_param_group({**group, "params": moved, "lr": group["lr"] * scale})
    optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
