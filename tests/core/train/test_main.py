"""python -m core.train with a config it cannot use: one line per problem, exit 2, run dir kept."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.train.__main__ import BAD_CONFIG_EXIT, main

ROOT = Path(__file__).resolve().parents[3]

BAD_FILES = {
    "empty": ("", "the file is empty"),
    "not YAML": ("training: [unclosed", "not valid YAML"),
    "wrong shape": ("- training\n- lora\n", "config: got list"),
    "section not a mapping": ("training: 5\n", "training: got 5"),
    "fractional rank": ("lora:\n  r: 8.5\n", "lora.r: got 8.5"),
    "bool as text": ("training:\n  group_by_length: 'no'\n", "training.group_by_length: got 'no'"),
    "text for a list": ("lora:\n  target_modules: q_proj\n", "lora.target_modules: got 'q_proj'"),
    "not a number": ("training:\n  learning_rate: abc\n", "training.learning_rate: got 'abc'"),
    "misspelt key": (
        "training:\n  lerning_rate: 0.001\n",
        "did you mean 'learning_rate'?",
    ),
}


def _run_dir(tmp_path: Path, text: str) -> tuple[Path, dict]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(text)
    (run_dir / "status.json").write_text('{"state": "queued"}')
    return run_dir, {p.name: p.read_bytes() for p in run_dir.iterdir()}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_config_exits_2_with_one_line_and_leaves_the_run_dir_alone(tmp_path, capsys, case):
    text, fragment = BAD_FILES[case]
    run_dir, before = _run_dir(tmp_path, text)
    assert main(["--config", str(run_dir / "config.yaml")]) == BAD_CONFIG_EXIT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {run_dir / 'config.yaml'}: ") and fragment in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


@pytest.mark.slow
def test_the_real_command_prints_no_traceback(tmp_path):
    run_dir, before = _run_dir(tmp_path, "lora:\n  r: 8.5\n  target_modules: q_proj\n")
    done = subprocess.run(
        [sys.executable, "-m", "core.train", "--config", str(run_dir / "config.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert [line.split(": ")[2] for line in done.stderr.splitlines()] == [
        "lora.r",
        "lora.target_modules",
    ]
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
