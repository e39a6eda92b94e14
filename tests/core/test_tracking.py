"""MLflow tracking: off with a reason when it cannot work; with mlflow, the real client against a
local store and against a real `mlflow server` on a free loopback port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from core import runs
from core.settings import RunConfig
from core.tracking import (
    RUN_FILE,
    Tracker,
    read_tracking,
    save_uri,
    tracking_uri,
    unreachable_reason,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def run_dir(data_root, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = RunConfig(name="tracked").replace(data={"fingerprint": "fp-123"})
    folder = runs.create_run(config)
    (folder / "card.json").write_text(json.dumps({"card_version": 1}))
    (folder / runs.EVAL_FILE).write_text(json.dumps({"accuracy": 0.75, "eval_loss": 0.5}))
    (folder / runs.ADAPTER_DIR).mkdir()
    (folder / runs.ADAPTER_DIR / "adapter_config.json").write_text("{}")
    return folder


def track_a_run(folder) -> str:
    tracker = Tracker(folder)
    config = runs.read_config(folder)
    tracker.start(config.to_dict(), config.data.fingerprint)
    assert tracker.state["enabled"], tracker.state["reason"]
    for step, loss in [(1, 0.9), (2, 0.7), (3, 0.6)]:
        tracker.log_metrics({"loss": loss, "epoch": step / 3, "note": "text is skipped"}, step)
    tracker.finish("completed")
    return tracker.run_id


def check_logged(uri: str, run_id: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["data_fingerprint"] == "fp-123"
    assert run.data.params["training.learning_rate"] == str(RunConfig().training.learning_rate)
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.9, 0.7, 0.6]
    assert run.data.metrics["final_accuracy"] == 0.75
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"card.json", "eval.json", "config.yaml", "adapter"} <= names
    assert [a.path for a in client.list_artifacts(run_id, "adapter")] == [
        "adapter/adapter_config.json"
    ]


def test_without_mlflow_tracking_is_off_and_says_why(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    tracker = Tracker(run_dir)
    tracker.start({}, "fp")
    tracker.log_metrics({"loss": 1.0}, 1)
    tracker.finish("completed")
    record = read_tracking(run_dir)
    assert record["enabled"] is False
    assert record["reason"].startswith("mlflow is not installed")


def test_uri_comes_from_the_environment_then_the_setting_then_the_local_store(
    data_root, monkeypatch
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    local = f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}"
    assert tracking_uri() == (local, "the local store (default)")
    save_uri(" http://mlflow.team:5000 ")
    assert tracking_uri() == ("http://mlflow.team:5000", "the Runs page setting")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:1")
    assert tracking_uri()[0] == "http://env:1"


def test_a_closed_port_is_reported_unreachable_quickly():
    started = time.monotonic()
    reason = unreachable_reason(f"http://127.0.0.1:{free_port()}")
    assert "cannot be reached" in reason and "refused" in reason.lower()
    assert time.monotonic() - started < 5
    assert unreachable_reason("file:///tmp/mlruns") is None


def test_unreachable_server_turns_tracking_off_and_the_run_goes_on(run_dir, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    tracker = Tracker(run_dir)
    tracker.start({"a": 1}, "fp")
    tracker.log_metrics({"loss": 1.0}, 1)  # no error, no wait
    tracker.finish("completed")
    record = json.loads((run_dir / RUN_FILE).read_text())
    assert record["enabled"] is False and "cannot be reached" in record["reason"]


def test_local_store_gets_params_metrics_card_and_adapter(run_dir, data_root):
    pytest.importorskip("mlflow")
    run_id = track_a_run(run_dir)
    check_logged(f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}", run_id)
    assert (data_root / "mlflow" / "artifacts").is_dir()
    assert read_tracking(run_dir)["run_id"] == run_id


@pytest.mark.slow
def test_real_mlflow_server_on_a_loopback_port(run_dir, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while unreachable_reason(uri, timeout=1) and time.time() < deadline:
            assert server.poll() is None, "mlflow server exited"
            time.sleep(0.5)
        with urllib.request.urlopen(uri + "/health", timeout=5) as answer:
            assert answer.status == 200
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        check_logged(uri, track_a_run(run_dir))
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_each_signed_in_user_has_their_own_tracking_setting_and_local_store(data_root, monkeypatch):
    """One user cannot send another's runs (params, card, adapter) to a server of their choice."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runs.set_workspace("ana")
    try:
        save_uri("http://ana-mlflow:5000")
        ana_run = runs.create_run(RunConfig(name="ana-run"))
        runs.set_workspace("ben")
        ben_uri, source = tracking_uri()
        ben_run = runs.create_run(RunConfig(name="ben-run"))
    finally:
        runs.set_workspace(None)
    ben_home = data_root / "users" / runs.user_folder("ben")
    assert source == "the local store (default)" and str(ben_home / "mlflow") in ben_uri
    # The trainer serves no session: it finds the run's own user from the run's folder.
    assert tracking_uri(runs.workspace_of(ana_run)) == (
        "http://ana-mlflow:5000",
        "the Runs page setting",
    )
    assert tracking_uri(runs.workspace_of(ben_run))[0] == ben_uri
    assert runs.workspace_of(ana_run / "trials" / "trial-0") == runs.workspace_of(ana_run)
    # A single-user install keeps everything in the data root, as before.
    assert tracking_uri()[0] == f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}"
