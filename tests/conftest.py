"""Shared fixtures: a tiny BERT classifier built from a config, small labelled data, a data root."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

POSITIVE = ["great", "excellent", "love", "wonderful", "perfect", "amazing", "superb", "fantastic"]
NEGATIVE = ["terrible", "awful", "hate", "broken", "worst", "poor", "useless", "horrible"]
FILLER = ["the", "product", "was", "really", "and", "service", "felt", "quite", "today", "box"]


def write_reviews(path: Path, rows: int = 160, seed: int = 0) -> Path:
    """Two-label data whose label is given by one sentiment word among filler words."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        for _ in range(rows):
            label = rng.choice(["positive", "negative"])
            words = rng.sample(FILLER, rng.randint(3, 8))
            words.insert(
                rng.randrange(len(words) + 1),
                rng.choice(POSITIVE if label == "positive" else NEGATIVE),
            )
            writer.writerow([" ".join(words), label])
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT saved with the embedded model's tokenizer (real from_pretrained path)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from core.models import embedded_model_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        vocab_size=30522,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(embedded_model_path()).save_pretrained(folder)
    return folder


@pytest.fixture
def reviews_csv(tmp_path) -> Path:
    return write_reviews(tmp_path / "reviews.csv")


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "studio-data"
    monkeypatch.setenv("STUDIO_DATA", str(root))
    return root


SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """`../shared/datasets/` beside the checkout (real public data; CI lays it there), else skip."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"no real-data pack at {SHARED_DATASETS}")
    return SHARED_DATASETS
