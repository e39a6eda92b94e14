"""Final evaluation of a text-generation run: token-weighted loss, perplexity, a few generations.

eval.json for causal_lm / seq2seq:
    {"task", "eval_loss", "perplexity", "n_validation", "n_tokens",
     "samples": [{"prompt", "reference", "generated"}]}
"""

from __future__ import annotations

import math
from pathlib import Path

from core import runs
from core.train.generative import generation_prompt

N_SAMPLES = 4
MAX_NEW_TOKENS = 32


def token_weighted_loss(model, dataset, collator, batch_size: int = 16) -> tuple[float, int]:
    """Mean cross-entropy per predicted token over the whole dataset, and how many tokens.

    The Trainer's own eval loss is a mean of batch means, which weighs short batches too much.
    """
    import torch

    device = next(model.parameters()).device
    shifted = not model.config.is_encoder_decoder  # causal LMs predict token t+1 from t
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            rows = [
                {k: dataset[i][k] for k in ("input_ids", "labels")}
                for i in range(start, min(start + batch_size, len(dataset)))
            ]
            batch = {k: v.to(device) for k, v in collator(rows).items()}
            labels = batch["labels"][:, 1:] if shifted else batch["labels"]
            n = int((labels != -100).sum())
            if n:
                total += float(model(**batch).loss) * n
                count += n
    return (total / count if count else float("nan")), count


def generate_samples(model, tokenizer, examples: list[dict], task: str) -> list[dict]:
    """Greedy generations (short) for the first few validation examples."""
    import torch

    device = next(model.parameters()).device
    samples = []
    model.eval()
    for example in examples[:N_SAMPLES]:
        prompt, reference = generation_prompt(tokenizer, example)
        chat = "turns" in example
        enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=not chat).to(device)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=MAX_NEW_TOKENS,
                do_sample=False,
                use_cache=True,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0] if task == "seq2seq" else out[0, enc["input_ids"].shape[1] :]
        samples.append(
            {
                "prompt": prompt[-500:],
                "reference": reference[:500],
                "generated": tokenizer.decode(new, skip_special_tokens=True).strip(),
            }
        )
    return samples


def write_text_eval(
    model, tokenizer, dataset, examples: list[dict], collator, task: str, run_dir: Path
) -> dict:
    """Measure the validation split once and write eval.json (format in the module docstring)."""
    loss, n_tokens = token_weighted_loss(model, dataset, collator)
    result = {
        "task": task,
        "eval_loss": loss,
        "perplexity": math.exp(min(loss, 50.0)) if math.isfinite(loss) else float("nan"),
        "n_validation": len(examples),
        "n_tokens": n_tokens,
        "samples": generate_samples(model, tokenizer, examples, task),
    }
    runs.write_json_atomic(Path(run_dir) / runs.EVAL_FILE, result)  # readers never see half
    return result
