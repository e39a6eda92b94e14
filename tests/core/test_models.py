import time

import pytest

from core.models import ModelError, check_model_source, resolve_model_path
from core.settings import EMBEDDED_MODEL


def test_embedded_default_is_found_offline():
    source = check_model_source(EMBEDDED_MODEL)
    assert source.kind == "embedded" and source.model_type == "bert"
    assert resolve_model_path(EMBEDDED_MODEL) == source.path


def test_local_folder_with_a_model(tiny_bert):
    source = check_model_source(str(tiny_bert))
    assert source.kind == "local" and source.model_type == "bert"


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: None, "holds no model: config.json is missing"),
        (lambda p: (p / "config.json").write_text("{}"), "no weights"),
        (
            lambda p: (
                (p / "config.json").write_text("{oops"),
                (p / "model.safetensors").write_bytes(b"x"),
            ),
            "not valid JSON",
        ),
    ],
)
def test_folder_without_a_model_says_what_is_missing(tmp_path, make, fragment):
    make(tmp_path)
    with pytest.raises(ModelError, match=fragment):
        check_model_source(str(tmp_path))


def test_hub_id_offline_answers_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    with pytest.raises(ModelError, match="cannot be reached"):
        check_model_source("meta-llama/Llama-3.2-1B")
    assert time.time() - started < 2


def test_unreachable_hub_is_detected_without_hanging(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1")  # nothing listens on loopback:443
    started = time.time()
    with pytest.raises(ModelError, match="cannot be reached"):
        check_model_source("owner/model")
    assert time.time() - started < 5


@pytest.mark.parametrize("name", ["", "not a model id", "too/many/slashes"])
def test_malformed_names(name):
    with pytest.raises(ModelError):
        check_model_source(name)
