"""core.serving: engine commands that split as a shell would and name files that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from core.serving import serving_commands, vllm_rank
from tests.core.test_merge import make_run, tiny_base


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.fixture
def causal_run(tmp_path):
    base = tmp_path / "base model"  # a space, so unquoted paths would split
    targets = tiny_base(base, "causal_lm")
    return make_run(tmp_path / "my runs", str(base), base, "causal_lm", targets), base


def test_generative_commands_name_the_adapter_and_base_that_exist(causal_run):
    run_dir, base = causal_run
    vllm, tgi, llama = serving_commands(run_dir)
    argv = shlex.split(vllm["command"])
    assert argv[:3] == ["vllm", "serve", str(base)] and "--enable-lora" in argv
    name, path = flag(argv, "--lora-modules").split("=", 1)
    assert (Path(path) / "adapter_config.json").exists() and name in vllm["note"]
    assert int(flag(argv, "--max-lora-rank")) >= 4
    argv = shlex.split(tgi["command"])
    mounts = dict(m.split(":", 1) for m in (a for i, a in enumerate(argv) if argv[i - 1] == "-v"))
    assert (
        Path(next(k for k, v in mounts.items() if v == f"/data/{name}")) / "adapter_config.json"
    ).exists()
    assert mounts[str(base)] == flag(argv, "--model-id") == "/data/base"
    assert flag(argv, "--lora-adapters") == f"{name}=/data/{name}"
    first, second = llama["command"].split(" && ")
    argv = shlex.split(first)
    assert Path(argv[2]).is_dir() and flag(argv, "--base") == str(base)
    assert flag(shlex.split(second), "--lora") == flag(argv, "--outfile")


def test_seq2seq_serves_the_merged_model_and_classification_the_local_endpoint(tmp_path):
    base = tmp_path / "t5"
    run_dir = make_run(tmp_path, str(base), base, "seq2seq", tiny_base(base, "seq2seq"))
    merge, vllm = serving_commands(run_dir)
    assert shlex.split(merge["command"])[:3] == ["python", "-m", "core.merge"]
    assert "decoder models" in merge["note"] and "--enable-lora" not in vllm["command"]
    base = tmp_path / "llama"
    run_dir = make_run(
        tmp_path, str(base), base, "classification", tiny_base(base, "classification")
    )
    (serve,) = serving_commands(run_dir)
    argv = shlex.split(serve["command"])
    assert (
        argv[:3] == ["python", "-m", "core.serve"]
        and Path(flag(argv, "--run")) == run_dir.resolve()
    )


@pytest.mark.parametrize("rank,expected", [(4, 8), (8, 8), (16, 16), (33, 64), (512, 512)])
def test_the_vllm_rank_limit_holds_the_adapter(rank, expected):
    assert vllm_rank(rank) == expected
