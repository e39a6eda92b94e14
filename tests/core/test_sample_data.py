"""The bundled sample dataset: size, balance, learnable signal, planted problems, reproducibility.

Every count is recomputed from the CSV itself, the way the data-quality step will have to.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CSV_PATH = ASSETS / "sample_reviews.csv"
SCRIPT = ASSETS / "generate_sample_reviews.py"
LABELS = ("positive", "negative", "neutral")


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["text", "label"]
        return [(text, label) for text, label in reader]


def norm_label(label: str) -> str:
    return label.strip().lower()


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def filled(rows):
    return [(t, lab) for t, lab in rows if t.strip()]


def test_size_and_label_balance(rows):
    assert len(rows) >= 2000
    counts = Counter(norm_label(lab) for _, lab in rows)
    assert set(counts) == set(LABELS)
    share = {lab: counts[lab] / len(rows) for lab in LABELS}
    assert 0.35 <= share["positive"] <= 0.45, share
    assert 0.35 <= share["negative"] <= 0.45, share
    assert 0.15 <= share["neutral"] <= 0.25, share


def test_lengths_vary_and_do_not_give_the_label_away(rows):
    lengths = defaultdict(list)
    for text, lab in filled(rows):
        lengths[norm_label(lab)].append(len(text.split()))
    every = [n for ns in lengths.values() for n in ns]
    assert min(every) <= 5 and max(every) >= 100
    means = {lab: sum(ns) / len(ns) for lab, ns in lengths.items()}
    assert max(means.values()) / min(means.values()) < 1.15, means


def test_words_carry_the_label(rows):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    texts, labels = zip(*[(t, norm_label(lab)) for t, lab in filled(rows)], strict=True)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.25, random_state=0, stratify=labels
    )
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(x_train), y_train)
    accuracy = model.score(vectorizer.transform(x_test), y_test)
    assert accuracy > 0.8, accuracy  # chance (majority class) is about 0.4


def test_planted_label_spelling(rows):
    odd = [lab for _, lab in rows if lab not in LABELS]
    assert len(odd) == 3, odd
    assert all(norm_label(lab) in LABELS for lab in odd)


def test_planted_blank_texts(rows):
    assert sum(1 for t, _ in rows if not t.strip()) == 6


def test_planted_exact_duplicates_and_conflicts(rows):
    pairs = Counter((t, norm_label(lab)) for t, lab in filled(rows))
    assert sum(n - 1 for n in pairs.values()) == 10
    labels_by_text = defaultdict(set)
    for t, lab in filled(rows):
        labels_by_text[t].add(norm_label(lab))
    assert sum(1 for labs in labels_by_text.values() if len(labs) > 1) == 6


def test_planted_near_duplicates(rows):
    # Distinct texts whose word lists differ in at most one position (punctuation ignored).
    texts = sorted({t for t, _ in filled(rows)})
    by_key = defaultdict(list)
    for text in texts:
        toks = tokens(text)
        for i in range(len(toks)):
            by_key[" ".join(toks[:i] + ["*"] + toks[i + 1 :])].append(text)
    pairs = {tuple(sorted(group)) for group in by_key.values() if len(group) > 1}
    assert len(pairs) == 5, pairs


def test_planted_encoding_html_and_pii(rows):
    texts = [t for t, _ in rows]
    assert sum(1 for t in texts if "Ã" in t) == 5
    assert sum(1 for t in texts if "<br" in t or "&amp;" in t) == 4
    emails = [t for t in texts if re.search(r"[\w.]+@[\w-]+\.\w+", t)]
    phones = [t for t in texts if re.search(r"\+\d{2} \d{2} \d{4} \d{4}", t)]
    cards = [t for t in texts if re.search(r"\b(?:\d{4} ){3}\d{4}\b", t)]
    assert (len(emails), len(phones), len(cards)) == (2, 1, 1)


def test_regenerating_gives_identical_bytes(tmp_path):
    out = tmp_path / "again.csv"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, timeout=60)
    assert out.read_bytes() == CSV_PATH.read_bytes()


def test_another_seed_gives_other_rows(tmp_path):
    out = tmp_path / "other.csv"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--seed", "7"], check=True, timeout=60
    )
    assert out.read_bytes() != CSV_PATH.read_bytes()
