"""Final evaluation of a classification run: accuracy, macro-F1, confusion matrix, mistakes.

Its own module (beside text_eval.py) so that core.train.tasks can write any task's eval.json
without importing the recipe that imports it.

eval.json for classification: classification_metrics(...) plus
    {"labels", "eval_loss", "n_validation", "chance_accuracy",
     "mistakes": [{"text", "label", "predicted", "confidence"}]}  (a few of every confusion)
"""

from __future__ import annotations

from pathlib import Path

from core import runs


def write_final_eval(model, dataset, frame, labels: list[str], run_dir: Path, collator) -> dict:
    """Predict the validation split once; save metrics, confusion matrix and a few mistakes."""
    import numpy as np
    import torch

    from core.evaluate import mistake_rows
    from core.train.classification import classification_metrics, predict_logits

    logits = predict_logits(model, dataset, collator)
    label_ids = np.asarray(dataset["labels"])
    metrics = classification_metrics(logits, label_ids, len(labels))
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(label_ids))
    predicted = logits.argmax(-1)
    confidence = torch.softmax(torch.from_numpy(logits).float(), -1).max(-1).values.numpy()
    wrong = mistake_rows(label_ids, predicted, confidence)  # a few of every confusion
    metrics.update(
        labels=labels,
        eval_loss=float(loss),
        n_validation=len(frame),
        chance_accuracy=float(frame["label"].value_counts(normalize=True).max()),
        mistakes=[
            {
                "text": frame["text"].iloc[i][:300],
                "label": frame["label"].iloc[i],
                "predicted": labels[predicted[i]],
                "confidence": round(float(confidence[i]), 4),
            }
            for i in wrong
        ],
    )
    runs.write_json_atomic(run_dir / runs.EVAL_FILE, metrics)  # readers never see half
    return metrics
