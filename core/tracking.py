"""Tracking in MLflow: every run's params, metrics as they come, its card, energy and adapter
as artifacts, tagged with the data fingerprint.

Where runs go, first found: `MLFLOW_TRACKING_URI`; the URI saved on the Runs page
(WORKSPACE/tracking-settings.json); else a local store that needs no server, WORKSPACE/mlflow/
(runs in mlflow.db, SQLite: MLflow 3 keeps its file store in maintenance mode only; artifacts
in artifacts/). WORKSPACE is the data root on a single-user install and each signed-in user's own
folder when shared (core.runs.workspace_root / workspace_of): one user cannot point another's
runs (their params, card and adapter) at a server of their choosing, nor read their entries.

    mlflow ui --backend-store-uri sqlite:///studio-data/mlflow/mlflow.db   # http://127.0.0.1:5000

TensorBoard is the second option (the run config's `tracking.tensorboard`): the trainer's own
`report_to="tensorboard"` writes RUN_DIR/tensorboard/; without the tensorboard package the run
goes on without it and tracking.json's "tensorboard" entry says why.

mlflow is imported only here and only when a run starts. Tracking never stops a run: without
mlflow, with a server that cannot be reached, or when a call fails mid-run, tracking turns off,
and RUN_DIR/tracking.json says so and why (the Runs page shows it).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from core import runs

SETTINGS_FILE = "tracking-settings.json"  # in a workspace (see above): {"uri": ...}
RUN_FILE = "tracking.json"  # in a run directory: {"enabled", "uri", "run_id", "reason",
# "tensorboard": {"enabled", "logdir", "reason"}}
TENSORBOARD_DIR = "tensorboard"  # in a run directory
EXPERIMENT = "Finetune Studio"
MLFLOW_STATUS = {"completed": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def local_store(workspace: Path | None = None) -> Path:
    """The embedded store's folder: WORKSPACE/mlflow (mlflow.db and artifacts/); WORKSPACE
    defaults to this session's (core.runs.workspace_root)."""
    folder = (workspace or runs.workspace_root()) / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_store_uri(workspace: Path | None = None) -> str:
    return f"sqlite:///{local_store(workspace) / 'mlflow.db'}"


def tracking_uri(workspace: Path | None = None) -> tuple[str, str]:
    """The URI runs of `workspace` (default: this session's) are tracked at, and where that
    choice came from."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI"
    saved = read_settings(workspace).get("uri")
    if saved:
        return saved, "the Runs page setting"
    return local_store_uri(workspace), "the local store (default)"


def read_settings(workspace: Path | None = None) -> dict:
    try:
        return json.loads(((workspace or runs.workspace_root()) / SETTINGS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_uri(uri: str) -> None:
    """Save this user's tracking URI (empty: back to their local store)."""
    root = runs.workspace_root()
    root.mkdir(parents=True, exist_ok=True)
    runs.write_json_atomic(root / SETTINGS_FILE, {"uri": uri.strip()})


def unreachable_reason(uri: str, timeout: float = 3.0) -> str | None:
    """Why an http(s) tracking server cannot be used right now; None when it answers."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered: a server that has no /health route is still a server
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return f"the MLflow server at {uri} cannot be reached ({reason})"


def flat_params(tree: dict, prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow params: dotted names, values as text (MLflow's limit: 6000)."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)[:6000]
    return flat


def tensorboard_available() -> bool:
    """Whether the trainer's TensorBoard writer can load (tensorboard, or tensorboardX)."""
    from importlib.util import find_spec

    return find_spec("tensorboard") is not None or find_spec("tensorboardX") is not None


def tensorboard_report_to(enabled: bool, run_dir: Path, is_main: bool = True) -> list[str]:
    """The trainer's `report_to` for TensorBoard: ["tensorboard"] with logs in RUN_DIR/tensorboard/,
    or [] when not asked for or the package is missing (said once, in the log and tracking.json).

    transformers 5 takes the folder from TENSORBOARD_LOGGING_DIR (TrainingArguments has no
    logging_dir any more), read when the Trainer is built; each run sets it to its own folder.
    """
    if not enabled:
        return []
    logdir = Path(run_dir) / TENSORBOARD_DIR
    if tensorboard_available():
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(logdir)
        state = {"enabled": True, "logdir": str(logdir), "reason": ""}
    else:
        reason = (
            "the tensorboard package is not installed, so this run writes no TensorBoard logs "
            '(install it with `pip install -e ".[tracking]"` or `pip install tensorboard`)'
        )
        state = {"enabled": False, "logdir": None, "reason": reason}
    if is_main:
        if not state["enabled"]:
            print(f"TensorBoard is off: {state['reason']}", flush=True)
        record = read_tracking(run_dir)
        runs.write_json_atomic(Path(run_dir) / RUN_FILE, {**record, "tensorboard": state})
    return ["tensorboard"] if state["enabled"] else []


class Tracker:
    """One MLflow run, through MlflowClient (no global state); any failure turns it off."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.client, self.run_id = Path(run_dir), None, None
        self.workspace = runs.workspace_of(self.run_dir)
        self.state = {"enabled": False, "uri": None, "run_id": None, "reason": ""}
        tensorboard = read_tracking(run_dir).get("tensorboard")  # kept when MLflow's state is saved
        if tensorboard:
            self.state["tensorboard"] = tensorboard

    def start(self, config_dict: dict, fingerprint: str) -> None:
        uri, source = tracking_uri(self.workspace)
        self.state.update(uri=uri, source=source)
        try:
            import mlflow  # noqa: F401 - optional: tracking is off without it
            from mlflow.tracking import MlflowClient
        except ImportError:
            return self._off("mlflow is not installed (add it with `pip install mlflow`)")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # never stall a run
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        reason = unreachable_reason(uri)
        if reason:
            return self._off(reason)
        self._call(self._create_run, MlflowClient, uri, config_dict, fingerprint)

    def _create_run(self, client_class, uri: str, config_dict: dict, fingerprint: str) -> None:
        from mlflow.entities import Param

        self.client = client_class(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment:
            experiment_id = experiment.experiment_id
        else:  # the local store keeps artifacts beside its database, not in the working folder
            local = uri == local_store_uri(self.workspace)
            where = (local_store(self.workspace) / "artifacts").as_uri() if local else None
            experiment_id = self.client.create_experiment(EXPERIMENT, artifact_location=where)
        tags = {"data_fingerprint": fingerprint or "n/a", "studio.run_dir": str(self.run_dir)}
        run = self.client.create_run(experiment_id, run_name=self.run_dir.name, tags=tags)
        self.run_id = run.info.run_id
        params = [Param(k, v) for k, v in flat_params(config_dict).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])
        self.state.update(enabled=True, run_id=self.run_id, experiment_id=experiment_id)
        self._save()

    def log_metrics(self, logs: dict, step: int) -> None:
        if not self.state["enabled"]:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now, step)
            for key, value in logs.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        if metrics:  # one call a record: a local SQLite write costs ~30 ms each (BENCHMARKS.md)
            self._call(self.client.log_batch, self.run_id, metrics=metrics)

    def finish(self, state: str) -> None:
        """Final metrics, the card, energy and the adapter as artifacts; the run closed."""
        if not self.state["enabled"]:
            return
        evaluation = runs.read_eval(self.run_dir)
        final = {f"final_{k}": v for k, v in evaluation.items() if isinstance(v, (int, float))}
        self.log_metrics(final, step=0)
        for name in ("card.json", "energy.json", runs.EVAL_FILE, runs.CONFIG_FILE):
            if (self.run_dir / name).is_file():
                self._call(self.client.log_artifact, self.run_id, str(self.run_dir / name))
        adapter = self.run_dir / runs.ADAPTER_DIR
        if adapter.is_dir():
            self._call(self.client.log_artifacts, self.run_id, str(adapter), "adapter")
        status = MLFLOW_STATUS.get(state, "FINISHED")
        self._call(self.client.set_terminated, self.run_id, status)

    def _call(self, function, *args, **kwargs) -> None:
        if self.client is None and function != self._create_run:
            return
        try:
            function(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - any tracking failure: the run goes on
            self.client = None
            self._off(f"an MLflow call failed: {type(err).__name__}: {str(err)[:300]}")

    def _off(self, reason: str) -> None:
        self.state.update(enabled=False, reason=reason)
        print(f"Tracking is off: {reason}", flush=True)
        self._save()

    def _save(self) -> None:
        runs.write_json_atomic(self.run_dir / RUN_FILE, self.state)


def read_tracking(run_dir: Path) -> dict:
    """The run's tracking.json; {} for a run from before tracking."""
    try:
        return json.loads((Path(run_dir) / RUN_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
