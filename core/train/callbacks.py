"""Trainer callbacks that make a run observable and stoppable through its run directory.

Only the main process (rank 0) writes; every process honours a stop request.
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

from transformers import TrainerCallback

from core import runs


class StopRequest:
    """Set by SIGTERM/SIGINT (the Stop button); the callback ends training at the next step."""

    def __init__(self):
        self.requested = False

    def install(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True


class StudioCallback(TrainerCallback):
    """Append metrics to metrics.jsonl, keep status.json current, stop on request or on NaN."""

    def __init__(self, run_dir: Path, stop: StopRequest, is_main: bool):
        self.run_dir = Path(run_dir)
        self.stop = stop
        self.is_main = is_main
        self.started = time.time()
        self.first_step_at: float | None = None
        self.failure: str | None = None

    def _status(self, **fields):
        if self.is_main:
            runs.write_status(self.run_dir, **fields)

    def on_train_begin(self, args, state, control, **kwargs):
        # Every rank says it is here, so a distributed run shows that all of them trained.
        print(f"rank {args.process_index} of {args.world_size} starts training", flush=True)
        self.started = time.time()
        self._status(
            state="running",
            step=state.global_step,
            total_steps=state.max_steps,
            message="Training",
            train_started=self.started,
        )

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        if self.first_step_at is None:
            self.first_step_at = now
        if self.stop.requested:
            control.should_training_stop = True
            self._status(state="stopping", message="Stopping: saving the adapter as of this step")
            return control
        done = state.global_step / max(1, state.max_steps)
        eta = (now - self.started) / done * (1 - done) if done > 0 else None
        self._status(
            step=state.global_step,
            total_steps=state.max_steps,
            eta_s=eta,
            elapsed_s=now - self.started,
        )
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        loss = logs.get("loss", logs.get("eval_loss"))
        if loss is not None and not math.isfinite(loss):
            self.failure = (
                f"The loss became {loss} at step {state.global_step}: training diverged. "
                "Lower the learning rate (e.g. by 10×) and start again."
            )
            control.should_training_stop = True
        elapsed = time.time() - self.started
        record = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0, 4),
            "time_s": round(elapsed, 2),
            **logs,
        }
        tokens = getattr(state, "num_input_tokens_seen", 0)
        if tokens:
            record["tokens_seen"] = int(tokens)
            record["tokens_per_s"] = round(tokens / max(elapsed, 1e-6), 1)
        if self.is_main:
            runs.append_metrics(self.run_dir, record)
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}
            print(f"[step {state.global_step}/{state.max_steps}] {shown}", flush=True)
        return control
