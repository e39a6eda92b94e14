"""The tiny BERT classifier the fault and Slurm benches train (as tests/conftest.py's `tiny_bert`):
2 layers, 32 wide, random weights (seeded), the embedded model's tokenizer, saved to a folder so the
real `from_pretrained` path runs."""

from __future__ import annotations

from pathlib import Path


def tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Save the tiny BERT classifier with the embedded tokenizer into `folder`; return it."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from core.models import embedded_model_path

    torch.manual_seed(seed)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(embedded_model_path()).save_pretrained(folder)
    return folder
