"""python -m core.serve: JSON predictions over loopback, and bad requests answered in JSON."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from core import runs
from core.serve import main, make_server
from tests.core.test_predict import lora_run  # noqa: F401 - the shared run fixture

TEXTS = ["great product really", "awful service broken", "the box was quite poor today"]


def call(url: str, payload=None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def server(lora_run):  # noqa: F811
    server = make_server(lora_run, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_predictions_match_the_results_page_and_come_back_in_order(server, lora_run):  # noqa: F811
    from core.evaluate import load_classifier, predict

    expected = predict(load_classifier(lora_run), TEXTS)
    code, answer = call(server + "/predict", {"texts": TEXTS})
    assert code == 200
    got = answer["predictions"]
    assert [p["label"] for p in got] == [e["label"] for e in expected]
    for p, e in zip(got, expected, strict=True):
        assert p["probability"] == pytest.approx(e["probability"], abs=2e-4)
        assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    code, single = call(server + "/predict", {"text": TEXTS[1]})
    assert code == 200 and single["predictions"][0]["label"] == got[1]["label"]
    code, health = call(server + "/health")
    assert code == 200 and health["labels"] == ["negative", "positive"]


def test_bad_requests_get_a_json_error_and_the_server_keeps_answering(server):
    cases = [
        ("/predict", None, b"not json", 400, "not JSON"),
        ("/predict", {"texts": []}, None, 400, 'Send {"texts"'),
        ("/predict", {"texts": [1, 2]}, None, 400, "must be a string"),
        ("/predict", {"texts": ["a"] * 1025}, None, 400, "at most 1024"),
        ("/predict", None, b"x" * 1_000_001, 413, "at most 1,000,000"),
        ("/label", {"texts": ["a"]}, None, 404, "POST to /predict"),
    ]
    for path, payload, raw, status, message in cases:
        code, answer = call(server + path, payload, raw)
        assert code == status and message in answer["error"], (path, answer)
    assert call(server + "/predict", {"text": "great"})[0] == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_serves_on_loopback_and_refuses_a_taken_port(lora_run, capsys):  # noqa: F811
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "core.serve", "--run", str(lora_run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # printed once listening
        assert f"on http://127.0.0.1:{port}/predict" in line  # loopback by default
        for _ in range(3):  # a bounded number of requests
            code, answer = call(f"http://127.0.0.1:{port}/predict", {"texts": TEXTS})
            assert code == 200 and len(answer["predictions"]) == 3
        assert main(["--run", str(lora_run), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    finally:
        process.terminate()
        process.wait(10)


def test_a_run_without_an_adapter_is_refused_before_listening(lora_run, tmp_path, capsys):  # noqa: F811
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(lora_run, partial)
    shutil.rmtree(partial / runs.ADAPTER_DIR)
    started = time.perf_counter()
    assert main(["--run", str(partial), "--port", "0"]) == 2
    assert "No trained adapter" in capsys.readouterr().err
    assert time.perf_counter() - started < 10
