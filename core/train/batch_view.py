"""What the model is trained on, decoded: RUN_DIR/sample_batch.json.

    {"task": "causal_lm", "packing": false,
     "examples": [{"n_tokens": 57, "segments": [{"text": "...", "trained": false},
                                               {"text": "...", "trained": true}]}, ...]}

`trained` marks the tokens the loss is computed on (the response, unless prompts are trained on).
Classification examples carry their "label" and no trained text (the label is what is learned).
"""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE_FILE = "sample_batch.json"


def token_segments(tokenizer, input_ids: list[int], labels: list[int]) -> list[dict]:
    """Consecutive tokens grouped by whether they are trained on, each group decoded."""
    segments: list[dict] = []
    start = 0
    for end in range(1, len(input_ids) + 1):
        if end == len(input_ids) or (labels[end] != -100) != (labels[start] != -100):
            text = tokenizer.decode(input_ids[start:end], skip_special_tokens=False)
            segments.append({"text": text, "trained": labels[start] != -100})
            start = end
    return segments


def render_examples(tokenizer, dataset, task: str, labels: list[str], count: int = 4) -> list:
    """The first `count` rows of a token dataset as decoded segments."""
    examples = []
    for index in range(min(count, len(dataset))):
        row = dataset[index]
        ids = list(row["input_ids"])
        if task == "classification":
            text = tokenizer.decode(ids, skip_special_tokens=True)
            examples.append(
                {
                    "n_tokens": len(ids),
                    "label": labels[int(row["labels"])],
                    "segments": [{"text": text, "trained": False}],
                }
            )
        elif task == "seq2seq":
            target = [t for t in row["labels"] if t != -100]
            examples.append(
                {
                    "n_tokens": len(ids) + len(target),
                    "segments": [
                        {
                            "text": tokenizer.decode(ids, skip_special_tokens=False),
                            "trained": False,
                        },
                        {
                            "text": tokenizer.decode(target, skip_special_tokens=False),
                            "trained": True,
                        },
                    ],
                }
            )
        else:
            segments = token_segments(tokenizer, ids, list(row["labels"]))
            examples.append({"n_tokens": len(ids), "segments": segments})
    return examples


def write_sample_batch(run_dir: Path, prepared) -> Path:
    """Write sample_batch.json for a PreparedTask (see the module docstring)."""
    payload = {
        "task": prepared.task,
        "packing": prepared.packing,
        "examples": render_examples(
            prepared.tokenizer, prepared.datasets["train"], prepared.task, prepared.labels
        ),
    }
    path = Path(run_dir) / SAMPLE_FILE
    path.write_text(json.dumps(payload, indent=1))
    return path
