"""Exact resume at any step of any epoch: the batch order comes from (seed, epoch), the divergence
guard's state travels in the checkpoint, and only complete checkpoints are resumed from."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from core import runs
from core.settings import RunConfig
from core.train.__main__ import main as train_main
from core.train.checkpoints import MARKER, complete_checkpoints
from core.train.health import DivergenceGuard

STEPS_PER_EPOCH = 10  # 38 training rows of 48, batch 4


def three_epoch_config(model, data) -> RunConfig:
    return RunConfig().replace(
        model={"name_or_path": str(model), "task": "causal_lm"},
        data={"path": str(data), "prompt_column": "prompt", "response_column": "response"},
        training={
            "num_train_epochs": 3.0,
            "per_device_train_batch_size": 4,
            "eval_steps": 5,
            "logging_steps": 1,
            "save_total_limit": 10,
            "group_by_length": True,
        },
        lora={"dropout": 0.3},  # dropout draws from the RNG, which must come back too
    )


def losses(run_dir) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in runs.read_metrics(run_dir) if "loss" in m}


@pytest.fixture(scope="module")
def whole_run(tiny_llama, tmp_path_factory):
    """An uninterrupted 3-epoch run that keeps every checkpoint."""
    import os

    root = tmp_path_factory.mktemp("whole")
    os.environ.setdefault("STUDIO_DATA", str(root / "studio-data"))
    from tests.core.train.conftest import write_pairs

    data = write_pairs(root / "pairs.jsonl")
    config = three_epoch_config(tiny_llama, data)
    run_dir = runs.create_run(config, root=root / "runs")
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE)]) == 0, runs.tail_log(run_dir)
    return config, run_dir


def resume_copy(config, whole, step: int, tmp_path, partial_after: bool = False):
    """A fresh run folder holding only the whole run's checkpoint at `step` (as a kill right after
    that save would leave it), optionally with a later checkpoint cut off mid-save."""
    run_dir = runs.create_run(config, root=tmp_path / f"resume-{step}")
    folder = f"checkpoint-{step}"
    shutil.copytree(whole / runs.CHECKPOINT_DIR / folder, run_dir / runs.CHECKPOINT_DIR / folder)
    if partial_after:  # a kill during the next save: weights written, the rest not
        cut = run_dir / runs.CHECKPOINT_DIR / f"checkpoint-{step + 5}"
        cut.mkdir()
        shutil.copy(whole / runs.CHECKPOINT_DIR / folder / "adapter_config.json", cut)
    return run_dir


@pytest.mark.parametrize("step", [5, 15, 25])  # epoch 1, the middle of epoch 2, epoch 3
def test_resume_in_any_epoch_repeats_every_loss_of_the_uninterrupted_run(
    whole_run, step, tmp_path, data_root
):
    config, whole = whole_run
    run_dir = resume_copy(config, whole, step, tmp_path, partial_after=step == 15)
    code = train_main(["--config", str(run_dir / runs.CONFIG_FILE), "--resume"])
    assert code == 0, runs.tail_log(run_dir)
    tail, reference = losses(run_dir), losses(whole)
    assert sorted(tail) == list(range(step + 1, 3 * STEPS_PER_EPOCH + 1))
    assert tail == pytest.approx({s: v for s, v in reference.items() if s > step}, rel=1e-5)
    # The partial checkpoint was skipped and cleared away, then saved again whole.
    names = [p.name for p in complete_checkpoints(run_dir / runs.CHECKPOINT_DIR)]
    assert f"checkpoint-{step + 5}" in names


def test_the_checkpoint_carries_the_divergence_guards_state(whole_run):
    _, whole = whole_run
    saved = json.loads(
        (whole / runs.CHECKPOINT_DIR / "checkpoint-15" / "trainer_state.json").read_text()
    )
    guard = saved["stateful_callbacks"]["DivergenceGuard"]["attributes"]
    first = losses(whole)[1]
    assert guard["logs"] == 15 and guard["first"] == pytest.approx(first)
    assert (whole / runs.CHECKPOINT_DIR / "checkpoint-15" / MARKER).is_file()


def test_a_restored_guard_judges_like_the_uninterrupted_one():
    """The measured failure: losses 3.0 → 0.5 and a later healthy wobble up to 1.2. A guard that
    starts over at the resume takes 0.4 as its start and 'sees' a climb; the restored one does not."""
    before = [3.0, 2.0, 1.2, 0.8, 0.6, 0.5, 0.45, 0.4]
    after = [0.9, 1.0, 1.1, 1.2, 1.2, 1.1]
    whole = DivergenceGuard()
    assert all(whole.update(i, v) is None for i, v in enumerate(before + after, start=1))
    interrupted = DivergenceGuard()
    for i, v in enumerate(before, start=1):
        interrupted.update(i, v)
    restored = DivergenceGuard.from_state(json.loads(json.dumps(interrupted.state())))
    reasons = [restored.update(i, v) for i, v in enumerate(after, start=len(before) + 1)]
    assert reasons == [None] * len(after)
    assert vars(restored) == vars(whole)
    fresh = DivergenceGuard()  # what the old callback did: judge from the first replayed loss
    fresh_reasons = [fresh.update(i, v) for i, v in enumerate([0.4] + after)]
    assert any(fresh_reasons), "the scenario must trip a guard that forgets its state"
    assert math.isfinite(restored.best)


def test_resume_with_only_a_partial_checkpoint_says_so(
    tiny_llama, pairs_jsonl, tmp_path, data_root
):
    config = three_epoch_config(tiny_llama, pairs_jsonl)
    run_dir = runs.create_run(config, root=tmp_path)
    (run_dir / runs.CHECKPOINT_DIR / "checkpoint-45").mkdir(parents=True)  # killed during a save
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE), "--resume"]) == 1
    message = runs.read_status(run_dir)["message"]
    assert "No checkpoint to resume from" in message and "checkpoint-45" in message
    assert "Traceback" not in message
    assert not (run_dir / runs.CHECKPOINT_DIR / "checkpoint-45").exists()


@pytest.mark.slow
@pytest.mark.distributed
def test_two_ddp_ranks_take_disjoint_shards_of_one_permutation_each_epoch(tiny_llama, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from core.train.sampler import LengthBucketedSampler

    repo = Path(__file__).resolve().parents[3]
    script = repo / "tests" / "core" / "train" / "ddp_epoch_orders.py"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command + ["2", str(script), str(tiny_llama), str(tmp_path)],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    lengths = [3 + (i * 7) % 23 for i in range(40)]
    epochs = []
    for epoch in range(3):
        first, second = (r["orders"][epoch] for r in ranks)
        seen = [i for batch in first + second for i in batch]
        assert sorted(seen) == list(range(40))  # disjoint, and together every row once
        # The shards interleave one permutation: the sampler's own order for (seed 3, epoch).
        sampler = LengthBucketedSampler(lengths, 4, seed=3)
        sampler.set_epoch(epoch)
        expected = list(sampler)
        together = [i for pair in zip(first, second, strict=True) for batch in pair for i in batch]
        assert together == expected
        epochs.append(expected)
    assert epochs[0] != epochs[1] != epochs[2]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_step", [12, 23])  # mid epoch 2 and mid epoch 3
def test_killed_then_resumed_run_logs_every_loss_of_the_uninterrupted_run(
    whole_run, kill_after_step, tmp_path, data_root
):
    """A real SIGKILL of the training process (whatever it was doing, a save included), then
    --resume: the newest complete checkpoint is taken, the guard does not cry divergence, and
    every logged loss, before and after the kill, equals the uninterrupted run's."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    config, whole = whole_run
    run_dir = runs.create_run(config, root=tmp_path)
    repo = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, "-m", "core.train", "--config", str(run_dir / runs.CONFIG_FILE)],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if max(losses(run_dir), default=0) >= kill_after_step:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    code = train_main(["--config", str(run_dir / runs.CONFIG_FILE), "--resume"])
    assert code == 0, runs.read_status(run_dir).get("message")
    assert losses(run_dir) == pytest.approx(losses(whole), rel=1e-5)
