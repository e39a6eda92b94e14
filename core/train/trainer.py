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
  on full logits (tests/core/train/test_trainer.py holds the two to 1e-5).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

from transformers import Trainer

from core.train import checkpoints
from core.train.sampler import LengthBucketedSampler

IGNORE = -100


class StudioTrainer(Trainer):
    """`Trainer` with length-bucketed batches and logits only where the loss needs them."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        lengths = row_lengths(dataset)
        if self.args.train_sampling_strategy == "group_by_length" and lengths is not None:
            seed = self.args.seed if self.args.data_seed is None else self.args.data_seed
            return LengthBucketedSampler(lengths, self.args.train_batch_size, seed=seed)
        return super()._get_train_sampler(train_dataset)

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
        return takes_logit_mask(type(_innermost(self.accelerator.unwrap_model(model))))


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
    """Whether the class's forward slices its hidden states with transformers'
    `slice_logits_to_keep` (which takes a boolean mask) and passes its keyword arguments on to the
    loss function (where `shift_labels` is read); other classes keep the full logits."""
    try:
        source = inspect.getsource(model_class.forward)
    except (OSError, TypeError):
        return False
    return "slice_logits_to_keep(" in source and "self.loss_function(" in source


def row_lengths(dataset) -> list[int] | None:
    """Token count of each row: the "length" column, or counted from input_ids (the Trainer drops
    columns the model does not take before it asks for a sampler); None for other datasets."""
    columns = getattr(dataset, "column_names", None) or []
    if "length" in columns:
        return list(dataset["length"])
    if "input_ids" in columns:
        return [len(ids) for ids in dataset["input_ids"]]
    return None
