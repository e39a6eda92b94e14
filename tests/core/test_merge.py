"""core.merge: the merged model loads with plain transformers and answers as base + adapter."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core import runs
from core.merge import MergeError, check_merge_memory, export_merged, main
from core.settings import EMBEDDED_MODEL, RunConfig
from tests.core.test_predict import word_tokenizer

LABELS = ["negative", "positive"]
SENTENCES = ["great product really", "awful service broken today", "the box was quite poor"]


def tiny_base(folder, task: str):
    """A tiny random model of each task family, with a word tokenizer trained here."""
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        LlamaForSequenceClassification,
        T5Config,
        T5ForConditionalGeneration,
    )

    tokenizer = word_tokenizer(folder)
    torch.manual_seed(0)
    if task == "seq2seq":
        config = T5Config(
            vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
            pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        T5ForConditionalGeneration(config).save_pretrained(folder)
        return ["q", "v"]
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
    )  # fmt: skip
    model_class = LlamaForSequenceClassification if task == "classification" else LlamaForCausalLM
    model_class(config).save_pretrained(folder)
    return ["q_proj", "v_proj"]


def make_run(root, base: str, base_path, task: str, targets: list[str], pooling: str = "cls"):
    """A run folder holding a LoRA of random non-zero weights on `base`, saved as core.train does
    (a classifier reading the tokens' mean with `pooling` "mean")."""
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    run_config = RunConfig(name="quick").replace(
        model={"name_or_path": base, "task": task}, training={"max_length": 32}
    )
    run_dir = runs.create_run(run_config, root=root / "runs")
    if task == "classification":
        from transformers import AutoConfig

        from core.train.heads import classifier_class

        model_class = classifier_class(AutoConfig.from_pretrained(base_path), pooling)
        model = model_class.from_pretrained(base_path, num_labels=2)
        peft_task = "SEQ_CLS"
    elif task == "seq2seq":
        model, peft_task = AutoModelForSeq2SeqLM.from_pretrained(base_path), "SEQ_2_SEQ_LM"
    else:
        model, peft_task = AutoModelForCausalLM.from_pretrained(base_path), "CAUSAL_LM"
    torch.manual_seed(1)
    lora = LoraConfig(task_type=peft_task, r=4, target_modules=targets, init_lora_weights=False)
    adapter = run_dir / runs.ADAPTER_DIR
    get_peft_model(model, lora).save_pretrained(adapter)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(adapter)
    meta = {"labels": LABELS if task == "classification" else [], "base_model": base,
            "method": "lora", "task": task, "pooling": pooling}  # fmt: skip
    (adapter / "labels.json").write_text(json.dumps(meta))
    runs.write_status(run_dir, state="completed")
    return run_dir


def logits_of(model, tokenizer, task: str):
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    extra = {"decoder_input_ids": batch["input_ids"][:, :3]} if task == "seq2seq" else {}
    with torch.inference_mode():
        return model(**batch, **extra).logits.float()


def assert_merged_answers_as_adapter(run_dir, task: str, auto_class):
    """Plain from_pretrained on the merged folder gives base + adapter's logits, and not the base's."""
    from transformers import AutoTokenizer

    from core.merge import load_trained, saved_adapter

    out = export_merged(run_dir, available_gb=64)
    names = sorted(p.name for p in out.iterdir())
    assert "model.safetensors" in names and "config.json" in names and "README.md" in names
    assert not any(name.startswith("adapter") for name in names)
    merged = auto_class.from_pretrained(out).eval()
    assert not hasattr(merged, "peft_config")
    tokenizer = AutoTokenizer.from_pretrained(out)
    peft_model, _ = load_trained(run_dir, saved_adapter(run_dir))
    expected = logits_of(peft_model, tokenizer, task)
    torch.testing.assert_close(logits_of(merged, tokenizer, task), expected, atol=1e-4, rtol=1e-4)
    with peft_model.disable_adapter():  # the adapter changes the answers, so the test can fail
        assert (logits_of(peft_model, tokenizer, task) - expected).abs().max() > 1e-3
    return out


@pytest.mark.parametrize("task", ["classification", "causal_lm", "seq2seq"])
def test_merged_tiny_models_load_without_peft_and_answer_as_base_plus_adapter(task, tmp_path):
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
    )

    base = tmp_path / "base"
    targets = tiny_base(base, task)
    run_dir = make_run(tmp_path, str(base), base, task, targets)
    secret = "validation row only the user has seen"
    evaluation = {"mistakes": [{"text": secret}], "samples": [{"prompt": secret}]}
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    auto = {"classification": AutoModelForSequenceClassification,
            "seq2seq": AutoModelForSeq2SeqLM}.get(task, AutoModelForCausalLM)  # fmt: skip
    out = assert_merged_answers_as_adapter(run_dir, task, auto)
    card = (out / "README.md").read_text()
    assert "no peft needed" in card and auto.__name__ in card
    for path in out.iterdir():  # no server path and no validation text leave in the folder
        content = path.read_bytes()
        assert str(tmp_path).encode() not in content and secret.encode() not in content
    if task == "classification":
        assert json.loads((out / "config.json").read_text())["id2label"] == {
            "0": "negative",
            "1": "positive",
        }


@pytest.mark.slow
def test_merged_embedded_minilm_classifier_matches_base_plus_adapter(tmp_path):
    from transformers import AutoModelForSequenceClassification

    from core.models import embedded_model_path

    run_dir = make_run(
        tmp_path, EMBEDDED_MODEL, embedded_model_path(), "classification", ["query", "value"]
    )
    assert_merged_answers_as_adapter(run_dir, "classification", AutoModelForSequenceClassification)
    assert main(["--run", str(run_dir), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "model.safetensors").stat().st_size > 80e6  # 22.7M fp32 weights


@pytest.mark.slow
def test_a_merged_mean_pooling_classifier_answers_as_its_card_says_and_not_silently_wrong(
    tmp_path,
):
    """The embedded model reads the tokens' mean: the merged folder's card shows how to read it
    with plain transformers, and that code gives the adapter's answers; a stock forward, which
    reads the first token, finds no trained pooler instead of answering wrongly in silence."""
    import re

    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.export import model_card
    from core.merge import load_trained, saved_adapter
    from core.models import embedded_model_path

    run_dir = make_run(
        tmp_path, EMBEDDED_MODEL, embedded_model_path(), "classification", ["query", "value"],
        pooling="mean",
    )  # fmt: skip
    out = export_merged(run_dir, available_gb=64)
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert not [k for k in weights.keys() if ".pooler." in k]
    card = (out / "README.md").read_text()
    code = re.search(r"## Load it.*?```python\n(.*?)```", card, re.S).group(1)
    code = code.replace("path/to/this/folder", str(out)).replace('["some text"]', "SENTENCES")
    printed, namespace = [], {"SENTENCES": SENTENCES}
    namespace["print"] = printed.append
    exec(code, namespace)  # the card's own snippet, as a user would paste it
    model, _ = load_trained(run_dir, saved_adapter(run_dir))
    tokenizer = AutoTokenizer.from_pretrained(out)
    expected = logits_of(model, tokenizer, "classification")
    torch.testing.assert_close(namespace["logits"], expected, atol=1e-4, rtol=1e-4)
    assert printed == [[LABELS[i] for i in expected.argmax(-1).tolist()]]
    with model.disable_adapter():
        assert (logits_of(model, tokenizer, "classification") - expected).abs().max() > 1e-3
    stock = AutoModelForSequenceClassification.from_pretrained(out, output_loading_info=True)
    assert any(".pooler." in k for k in stock[1]["missing_keys"])  # reported, not silent
    assert "mean of the token vectors" in model_card(run_dir)  # the adapter's card says so too


def test_a_70b_base_on_24_gb_is_refused_with_the_memory_it_needs_before_loading(tmp_path):
    with pytest.raises(MergeError, match=r"70\.6B parameters.*needs about 142 GB.*has 24 GB free"):
        check_merge_memory("meta-llama/Llama-3.1-70B", available_gb=24)
    run_dir = runs.create_run(
        RunConfig(name="quick").replace(model={"name_or_path": "meta-llama/Llama-3.1-70B",
                                               "task": "causal_lm"}), root=tmp_path)  # fmt: skip
    adapter = run_dir / runs.ADAPTER_DIR
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"not loaded")
    (adapter / "labels.json").write_text(
        json.dumps({"base_model": "meta-llama/Llama-3.1-70B", "task": "causal_lm", "labels": []})
    )
    with pytest.raises(MergeError, match="needs about 142 GB"):  # the base is never fetched
        export_merged(run_dir, available_gb=24)
    assert not (run_dir / "merged").exists()


def test_a_partial_or_missing_adapter_is_said_with_the_run_state(tmp_path, capsys):
    base = tmp_path / "base"
    run_dir = make_run(
        tmp_path, str(base), base, "classification", tiny_base(base, "classification")
    )
    (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").unlink()
    runs.write_status(run_dir, state="stopped")
    assert main(["--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "incomplete (the weights missing; the run's state is 'stopped')" in err
    shutil.rmtree(run_dir / runs.ADAPTER_DIR)
    runs.write_status(run_dir, state="running")
    assert main(["--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "No trained adapter" in err and "state is 'running'" in err
    assert not (run_dir / "merged").exists()


def test_pushing_offline_or_without_a_token_is_refused_at_once(tmp_path, monkeypatch):
    import time

    from core.merge import push_to_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(MergeError, match="not a Hub repository id"):
        push_to_hub(tmp_path, "no-slash", token="t")
    with pytest.raises(MergeError, match="No Hugging Face token"):
        push_to_hub(tmp_path, "me/model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")
    started = time.perf_counter()
    with pytest.raises(MergeError, match="offline.*nothing was sent"):
        push_to_hub(tmp_path, "me/model")
    assert time.perf_counter() - started < 2
