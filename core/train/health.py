"""Is training still healthy? A NaN or infinite loss, or a loss that climbs back above where it
started, stops the run with advice and names the last checkpoint saved before it went wrong.

The rising rule reads the training loss as logged (one value per logging interval), smoothed by an
exponential moving average so one noisy batch never stops a run: the run has diverged when the
smoothed loss has been, for PATIENCE logs in a row, both above its starting value and more than
RISE x its best value so far. Ordinary noise stays far below that; a learning rate that is too
high (the usual cause) crosses it within a few logs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

SMOOTHING = 0.3  # weight of the newest log in the moving average
RISE = 2.0  # smoothed loss above RISE x the best smoothed loss ...
PATIENCE = 3  # ... (and above the first) for this many logs in a row
WARMUP_LOGS = 3  # logs before the rule applies (the first losses set the baseline)

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
        climbing = self.smoothed > self.first and self.smoothed > RISE * self.best
        self.rising = self.rising + 1 if climbing and self.logs > WARMUP_LOGS else 0
        if self.rising < PATIENCE:
            return None
        return (
            f"The loss rose from {self.best:.3g} (step {self.best_step}) to {self.smoothed:.3g} at "
            f"step {step}, above where training started ({self.first:.3g}): training diverged. "
            + _last_good(checkpoints, self.best_step)
            + ADVICE
        )


def non_finite(step: int, loss: float, checkpoints: Path | None = None) -> str:
    """The reason for stopping when a (training or evaluation) loss is NaN or infinite."""
    return (
        f"The loss became {loss} at step {step}: training diverged. "
        + _last_good(checkpoints, step - 1)
        + ADVICE
    )


def _last_good(checkpoints: Path | None, step: int) -> str:
    """'The last checkpoint before that is checkpoint-N. ' or a note that none was saved yet."""
    steps = []
    if checkpoints is not None and checkpoints.is_dir():
        for path in checkpoints.iterdir():
            match = re.fullmatch(r"checkpoint-(\d+)", path.name)
            if match and int(match.group(1)) <= step:
                steps.append(int(match.group(1)))
    if not steps:
        return "No checkpoint was saved before that. "
    return f"The last checkpoint before that is checkpoint-{max(steps)} (step {max(steps)}). "
