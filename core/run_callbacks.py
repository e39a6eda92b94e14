"""The trainer's callbacks for experiments: energy (core.energy) and MLflow (core.tracking).

Apart from those modules so that the Runs page can read energy and tracking records without
loading transformers.
"""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

from core import runs
from core.energy import (
    ENERGY_FILE,
    EnergyMeter,
    assumed_power_w,
    energy_record,
    record_pre_run_estimate,
)
from core.tracking import Tracker


class EnergyCallback(TrainerCallback):
    """Measures (or estimates) the energy of training and writes RUN_DIR/energy.json at the end,
    beside the pre-run estimate it records before the first step."""

    def __init__(self, run_dir: Path, is_main: bool, meter: EnergyMeter | None = None):
        self.run_dir, self.is_main = Path(run_dir), is_main
        self.meter = meter
        self.pre_run, self.from_step = None, 0

    def on_train_begin(self, args, state, control, **kwargs):
        if self.is_main:
            from core.hardware import detect_hardware

            self.pre_run = record_pre_run_estimate(self.run_dir, detect_hardware())
            self.from_step = state.global_step  # > 0: resumed from a checkpoint
            self.meter = self.meter or EnergyMeter()
            self.meter.start()

    def on_train_end(self, args, state, control, **kwargs):
        if not self.is_main or self.meter is None:
            return
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        # stopped, early-stopped or pruned: compared with the estimate for the steps it ran
        steps = (getattr(state, "global_step", 0) or 0, getattr(state, "max_steps", 0) or 0)
        record = energy_record(
            self.meter.stop(),
            tokens,
            assumed_power_w(),
            self.meter.unavailable,
            self.pre_run,
            self.from_step,
            steps,
        )
        runs.write_json_atomic(self.run_dir / ENERGY_FILE, record)


class TrackingCallback(TrainerCallback):
    """Opens the MLflow run when training begins and logs every metric record as it comes."""

    def __init__(self, run_dir: Path, config_dict: dict, fingerprint: str, is_main: bool):
        self.tracker = Tracker(run_dir)
        self.config_dict, self.fingerprint, self.is_main = config_dict, fingerprint, is_main

    started = False

    def _start_once(self) -> None:
        # At the first log, after the first step: importing mlflow (seconds) never delays it.
        if not self.started:
            self.started = True
            self.tracker.start(self.config_dict, self.fingerprint)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.is_main:
            self._start_once()
            if self.tracker.state["enabled"]:
                self.tracker.log_metrics(dict(logs or {}), state.global_step)

    def finish(self, state: str) -> None:
        """Log the final metrics and artifacts (after the adapter is saved) and close the run."""
        if self.is_main:
            self._start_once()
            self.tracker.finish(state)
