"""Kill a training run at random moments, resume it from its newest checkpoint, and compare every
logged loss with an uninterrupted run of the same config.

    .venv/bin/python bench/resume_kills.py --kills 4 --seed 0
    PYTHONPATH=/tmp/old .venv/bin/python bench/resume_kills.py   # the same against other code

The run: the tiny Llama of the tests (2 layers, 64 wide, a local byte-level BPE), 48 prompt /
response rows, 3 epochs of batch 4 with length-bucketed batches, LoRA dropout 0.3, a loss logged
every step and a checkpoint every 5. Each kill is a SIGKILL at a random moment (0-0.5 s after a
random step was logged), whatever the process is doing (a checkpoint save included).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The code under test: this checkout, or the first PYTHONPATH entry (an export of other code).
CODE = Path(os.environ.get("PYTHONPATH", "").split(":")[0] or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(CODE))

from core import runs  # noqa: E402
from core.settings import RunConfig  # noqa: E402


def tiny_model(folder: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.core.train.conftest import corpus, write_tokenizer

    tokenizer = write_tokenizer(folder, corpus())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def train(run_dir: Path, resume: bool = False, kill: tuple | None = None) -> int | None:
    """Run `python -m core.train` on the run; with kill = (step, seconds), SIGKILL it that long
    after it logged that step. Returns the exit code, or None when it was killed."""
    command = [sys.executable, "-m", "core.train", "--config", str(run_dir / runs.CONFIG_FILE)]
    log = open(run_dir / "bench.log", "a")
    process = subprocess.Popen(
        command + (["--resume"] if resume else []), stdout=log, stderr=log, cwd=CODE
    )
    if kill is None:
        return process.wait()
    while process.poll() is None and max(losses(run_dir), default=0) < kill[0]:
        time.sleep(0.02)
    time.sleep(kill[1])
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGKILL)
    process.wait()
    return None


def losses(run_dir: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in runs.read_metrics(run_dir) if "loss" in m}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="resume-kills-"))
    os.environ["STUDIO_DATA"] = str(work / "studio-data")
    from tests.core.train.conftest import write_pairs

    config = RunConfig().replace(
        model={"name_or_path": str(tiny_model(work / "model")), "task": "causal_lm"},
        data={"path": str(write_pairs(work / "pairs.jsonl")), "prompt_column": "prompt",
              "response_column": "response"},
        training={"num_train_epochs": 3.0, "per_device_train_batch_size": 4, "eval_steps": 5,
                  "logging_steps": 1, "group_by_length": True},
        lora={"dropout": 0.3},
    )  # fmt: skip
    whole = runs.create_run(config, root=work / "whole")
    assert train(whole) == 0, runs.tail_log(whole)
    reference = losses(whole)
    rows = []
    for kill in range(args.kills):
        run_dir = runs.create_run(config, root=work / f"kill-{kill}")
        moment = (rng.randint(2, max(reference) - 2), rng.uniform(0.0, 0.5))
        killed = train(run_dir, kill=moment) is None
        cut_at = max(losses(run_dir), default=0)
        code = train(run_dir, resume=True) if killed else 0
        got = losses(run_dir)
        same = sorted(got) == sorted(reference) and all(
            abs(got[s] - reference[s]) <= 1e-5 * abs(reference[s]) for s in reference
        )
        rows.append(
            {
                "killed_at_step": cut_at if killed else None,
                "resume_exit": code,
                "message": runs.read_status(run_dir).get("message", "")[:90],
                "every_loss_equal": same,
                "max_abs_diff": max(
                    (abs(got[s] - reference[s]) for s in reference if s in got), default=None
                ),
                "eval_loss": runs.read_eval(run_dir).get("eval_loss"),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"uninterrupted_eval_loss": runs.read_eval(whole).get("eval_loss")}))


if __name__ == "__main__":
    main()
