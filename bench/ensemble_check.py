"""Would averaging the fine-tuned classifier with frozen embeddings + logistic regression help?

An offline check on finished `bench/quality.py` runs (no training): for each Quick run of a
dataset in WORK (the folder quality.py prints, holding `<dataset>.csv`, `<dataset>-test.csv` and
`<dataset>-quick-<seed>/`), the run's probabilities on the held-out test rows are averaged with
those of a logistic regression on frozen embeddings of the same base model, fitted on the app's
training rows only (the validation rows stay unseen, as in the app), at weights 0.5 and 0.3.

    .venv/bin/python bench/ensemble_check.py /tmp/quality-XXXX --datasets subj@377,ag_news@1500
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--datasets", default="subj@377,ag_news@1500")
    parser.add_argument("--seeds", default="42,43,44")
    args = parser.parse_args()

    from quality import fixed_split
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from core.models import embedded_model_path
    from core.predict import load_merged_classifier, predict_probabilities

    encoder = SentenceTransformer(str(embedded_model_path()), device="cpu")

    def embed(texts):
        return encoder.encode(list(texts), batch_size=64, normalize_embeddings=True)

    for name in args.datasets.split(","):
        train, _ = fixed_split(args.work / f"{name}.csv")
        test = pd.read_csv(args.work / f"{name}-test.csv", keep_default_na=False, dtype=str)
        probe = LogisticRegression(max_iter=2000).fit(embed(train["text"]), train["label"])
        x_test = embed(test["text"])
        for seed in [int(s) for s in args.seeds.split(",")]:
            classifier = load_merged_classifier(args.work / f"{name}-quick-{seed}", "cpu")
            order = [list(probe.classes_).index(label) for label in classifier.labels]
            frozen = probe.predict_proba(x_test)[:, order]
            tuned = predict_probabilities(classifier, test["text"].tolist())
            labels, truth = np.array(classifier.labels), test["label"].values

            def accuracy(p, labels=labels, truth=truth):
                return round(100 * float((labels[p.argmax(1)] == truth).mean()), 1)

            print(json.dumps({
                "dataset": name, "seed": seed, "fine-tuned": accuracy(tuned),
                "frozen+LR (train rows)": accuracy(frozen),
                "average 0.5": accuracy((tuned + frozen) / 2),
                "average 0.3 frozen": accuracy(0.7 * tuned + 0.3 * frozen),
            }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
