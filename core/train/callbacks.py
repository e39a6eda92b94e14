"""Trainer callbacks that make a run observable and stoppable through its run directory.

Only the main process (rank 0) writes; every process honours a stop request.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from transformers import TrainerCallback

from core import runs
from core.train.stop import StopRequest


def memory_in_use_mb() -> float:
    """Peak GPU memory allocated by torch, or this process's resident memory on a CPU (MB)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StudioCallback(TrainerCallback):
    """Append metrics to metrics.jsonl, keep status.json current, stop on request (a loss gone
    wrong is core.train.health.DivergenceGuard's call).

    Each logged record holds the Trainer's loss, learning_rate and grad_norm plus, over the steps
    since the previous record, step_time_s and tokens_per_s (real, non-pad tokens), and memory_mb.
    status.json is rewritten at most every STATUS_EVERY_S seconds, so logging costs no step time.
    """

    STATUS_EVERY_S = 1.0

    def __init__(
        self, run_dir: Path, stop: StopRequest, is_main: bool, process_started: float | None = None
    ):
        self.run_dir = Path(run_dir)
        # first_step_s in status.json counts from here: the process start when known (the time a
        # user waits after Start), else the start of training.
        self.process_started = process_started
        self.stop = stop
        self.is_main = is_main
        self.started = time.time()
        self.first_step_at: float | None = None
        self.status_written = 0.0
        self.step_started = 0.0
        self.train_seconds = 0.0  # step time since the last log, evaluation excluded
        self.steps_since_log = 0
        self.tokens_at_log = 0
        # Steady-state speed for the estimator (core.timing.learn_from_run): steps after the
        # first (which pays for lazy initialisation), evaluation excluded.
        self.steady_seconds = 0.0
        self.tokens_after_first: int | None = None

    def _status(self, **fields):
        if self.is_main:
            runs.write_status(self.run_dir, **fields)
            self.status_written = time.time()

    def on_train_begin(self, args, state, control, **kwargs):
        # Every rank says it is here, so a distributed run shows that all of them trained.
        print(f"rank {args.process_index} of {args.world_size} starts training", flush=True)
        self.started = time.time()
        self.start_step = state.global_step  # > 0 when resumed from a checkpoint
        self.tokens_at_log = getattr(state, "num_input_tokens_seen", 0) or 0
        if self.is_main and state.global_step > 0:
            self._forget_metrics_after(state.global_step)
        self._status(
            state="running",
            step=state.global_step,
            total_steps=state.max_steps,
            message="Training",
            train_started=self.started,
        )

    def _forget_metrics_after(self, step: int) -> None:
        """On resume, drop records past the checkpoint: those steps are trained again."""
        kept = [m for m in runs.read_metrics(self.run_dir) if m.get("step", 0) <= step]
        path = self.run_dir / runs.METRICS_FILE
        tmp = path.with_suffix(".resume.tmp")
        tmp.write_text("".join(json.dumps(m) + "\n" for m in kept))
        os.replace(tmp, path)

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        step_seconds = time.perf_counter() - self.step_started
        self.train_seconds += step_seconds
        self.steps_since_log += 1
        if self.tokens_after_first is None:
            self.tokens_after_first = getattr(state, "num_input_tokens_seen", 0) or 0
        else:
            self.steady_seconds += step_seconds
        now = time.time()
        if self.first_step_at is None:
            self.first_step_at = now
            self._status(first_step_s=round(now - (self.process_started or self.started), 2))
        if self.stop.agreed():
            control.should_training_stop = True
            control.should_save = True  # a checkpoint to resume from, as of this step
            self._status(state="stopping", message="Stopping: saving the adapter as of this step")
            return control
        last = state.global_step >= state.max_steps
        if now - self.status_written >= self.STATUS_EVERY_S or last:
            # Only the steps of this process count: a resumed run started part-way.
            ran = state.global_step - self.start_step
            left = state.max_steps - state.global_step
            eta = (now - self.started) / ran * left if ran > 0 else None
            self._status(
                step=state.global_step,
                total_steps=state.max_steps,
                eta_s=eta,
                elapsed_s=now - self.started,
            )
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        record = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0, 4),
            "time_s": round(time.time() - self.started, 2),
            **logs,
        }
        if "loss" in logs:
            record.update(self._interval_speed(state))
        if self.is_main:
            runs.append_metrics(self.run_dir, record)
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}
            print(f"[step {state.global_step}/{state.max_steps}] {shown}", flush=True)
        return control

    def steady_speed(self, state) -> tuple[float, int]:
        """(seconds, real tokens) of this process's training steps after the first."""
        tokens = (getattr(state, "num_input_tokens_seen", 0) or 0) - (self.tokens_after_first or 0)
        return self.steady_seconds, max(0, tokens)

    def _interval_speed(self, state) -> dict:
        """Step time, tokens/s and memory over the steps since the previous training log."""
        speed = {"memory_mb": round(memory_in_use_mb(), 1)}
        if self.steps_since_log:
            speed["step_time_s"] = round(self.train_seconds / self.steps_since_log, 4)
        tokens = getattr(state, "num_input_tokens_seen", 0) or 0
        if tokens:
            speed["tokens_seen"] = int(tokens)
            if self.train_seconds > 0:
                speed["tokens_per_s"] = round((tokens - self.tokens_at_log) / self.train_seconds, 1)
        self.tokens_at_log, self.train_seconds, self.steps_since_log = tokens, 0.0, 0
        return speed
