"""Is training still healthy? A NaN or infinite loss, or a loss that climbs back above where it
started, stops the run with advice and names the last checkpoint saved before it went wrong.

The rising rule reads the training loss as logged (one value per logging interval), smoothed by an
exponential moving average so one noisy batch never stops a run: the run has diverged when the
smoothed loss has been, for PATIENCE logs in a row, above its starting value, more than RISE x its
best value so far and more than MIN_RISE above it. Ordinary noise stays far below that; a learning
rate that is too high (the usual cause) crosses it within a few logs. MIN_RISE matters where
training starts near its floor: a classifier whose head was fitted before the first step (the
probe head start) logs 0.06 for a lucky first batch and then wobbles around 0.2-0.3, three times
its best but a fraction of a nat, which is not divergence.

DivergenceGuard is the Trainer callback around the watch. Its state travels in every checkpoint
(transformers' ExportableState, restored with `restore_callback_states_from_checkpoint`), so a
resumed run judges its losses against the baseline and best loss of the whole run, not against the
first loss after the resume (which made healthy replayed losses look like a climb).
"""

from __future__ import annotations

import math
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

SMOOTHING = 0.3  # weight of the newest log in the moving average
RISE = 2.0  # smoothed loss above RISE x the best smoothed loss ...
MIN_RISE = 0.5  # ... and more than this many nats above it ...
PATIENCE = 3  # ... (and above the first) for this many logs in a row
WARMUP_LOGS = 3  # logs before the rule applies (the first losses set the baseline)

DIVERGED = "training diverged"  # in every reason the watch gives (core.search_trials reads it)
ADVICE = (
    "Lower the learning rate (e.g. by 10×) and start again, or resume from that checkpoint with a "
    "lower learning rate."
)


class LossWatch:
    """Feed it each logged training loss; it returns a plain-words reason once training has gone
    wrong, None while it is healthy."""

    def __init__(self):
        self.smoothed: float | None = None
        self.first: float | None = None
        self.best = math.inf
        self.best_step = 0
        self.logs = 0
        self.rising = 0

    def update(self, step: int, loss: float, checkpoints: Path | None = None) -> str | None:
        """Record the loss logged at `step`; `checkpoints` is the folder to name the last good one."""
        if not math.isfinite(loss):
            return non_finite(step, loss, checkpoints)
        self.logs += 1
        self.smoothed = (
            loss if self.smoothed is None else SMOOTHING * loss + (1 - SMOOTHING) * self.smoothed
        )
        if self.first is None:
            self.first = loss
        if self.smoothed < self.best:
            self.best, self.best_step = self.smoothed, step
        climbing = (
            self.smoothed > self.first
            and self.smoothed > RISE * self.best
            and self.smoothed - self.best > MIN_RISE
        )
        self.rising = self.rising + 1 if climbing and self.logs > WARMUP_LOGS else 0
        if self.rising < PATIENCE:
            return None
        return (
            f"The loss rose from {self.best:.3g} (step {self.best_step}) to {self.smoothed:.3g} at "
            f"step {step}, above where training started ({self.first:.3g}): {DIVERGED}. "
            + _last_good(checkpoints, self.best_step)
            + ADVICE
        )


class DivergenceGuard(LossWatch, TrainerCallback, ExportableState):
    """Stops training (without saving the diverged weights) once the loss watch sees a NaN, an
    infinite evaluation loss or a climb; `failure` then holds the reason."""

    STATE = ("smoothed", "first", "best", "best_step", "logs", "rising")

    def __init__(self):
        super().__init__()
        self.failure: str | None = None

    def state(self) -> dict:
        """What a checkpoint keeps: the watch's running values (JSON numbers)."""
        return {"args": {}, "attributes": {name: getattr(self, name) for name in self.STATE}}

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        checkpoints = Path(args.output_dir)
        reason = None
        if "loss" in logs:
            reason = self.update(state.global_step, logs["loss"], checkpoints)
        elif "eval_loss" in logs and not math.isfinite(logs["eval_loss"]):
            reason = non_finite(state.global_step, logs["eval_loss"], checkpoints)
        if reason and not self.failure:
            self.failure = reason
            control.should_training_stop = True
            # No checkpoint of the diverged weights: it would rotate out the last good one.
            control.should_save = False
            control.should_evaluate = False
        return control


def guard_failure(trainer) -> str | None:
    """The reason the trainer's DivergenceGuard stopped the run, or None. (After a resume the
    Trainer replaces the guard with one rebuilt from the checkpoint, so look it up here.)"""
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, DivergenceGuard) and callback.failure:
            return callback.failure
    return None


def non_finite(step: int, loss: float, checkpoints: Path | None = None) -> str:
    """The reason for stopping when a (training or evaluation) loss is NaN or infinite."""
    return (
        f"The loss became {loss} at step {step}: {DIVERGED}. "
        + _last_good(checkpoints, step - 1)
        + ADVICE
    )


def _last_good(checkpoints: Path | None, step: int) -> str:
    """'The last checkpoint before that is checkpoint-N. ' or a note that none was saved yet."""
    from core.train.checkpoints import checkpoint_step, complete_checkpoints

    steps = [
        checkpoint_step(path)
        for path in complete_checkpoints(checkpoints or Path("/nonexistent"))
        if checkpoint_step(path) <= step
    ]
    if not steps:
        return "No checkpoint was saved before that. "
    return f"The last checkpoint before that is checkpoint-{max(steps)} (step {max(steps)}). "
