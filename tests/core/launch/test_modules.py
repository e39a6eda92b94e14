"""Linear layers listed from a model's config alone (meta device, no weights)."""

import pytest

from core.launch.modules import linear_layer_names
from core.settings import ConfigError


def test_bert_layers(tmp_path):
    from transformers import BertConfig

    BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=100,
    ).save_pretrained(tmp_path)
    assert linear_layer_names(tmp_path) == ["classifier", "dense", "key", "query", "value"]


def test_llama_layers_without_weights(tmp_path):
    from transformers import LlamaConfig

    # Large dimensions on purpose: built on the meta device, this allocates nothing.
    LlamaConfig(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=4,
        num_attention_heads=32,
        vocab_size=32000,
    ).save_pretrained(tmp_path)
    assert set(linear_layer_names(tmp_path, task="causal_lm")) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
        "lm_head",
    }
    assert list(tmp_path.glob("*.safetensors")) == []


def test_embedded_model_layers():
    from core.models import embedded_model_path

    assert {"query", "key", "value", "dense"} <= set(linear_layer_names(embedded_model_path()))


def test_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match="No config.json"):
        linear_layer_names(tmp_path)
