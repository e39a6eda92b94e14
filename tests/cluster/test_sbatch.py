"""The generated sbatch script: GPUs only when asked, no dependence on the submitting shell."""

import subprocess
from pathlib import Path

import pytest

from core.cluster.sbatch import SBATCH_FILE, SlurmOptions, sbatch_script
from core.settings import RunConfig


def _config(nodes: int, processes: int, strategy: str = "ddp") -> RunConfig:
    return RunConfig().replace(
        name="my run",
        parallel={"nodes": nodes, "processes_per_node": processes, "strategy": strategy},
    )


def _directives(script: str) -> dict[str, str]:
    return dict(
        (line.split(maxsplit=1)[1][2:].split("=", 1) + [""])[:2]
        for line in script.splitlines()
        if line.startswith("#SBATCH")
    )


def _bash_n(tmp_path: Path, script: str) -> None:
    path = tmp_path / SBATCH_FILE
    path.write_text(script)
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cpu_run_asks_for_cores_not_gpus(tmp_path):
    script = sbatch_script(_config(1, 2))
    _bash_n(tmp_path, script)
    directives = _directives(script)
    assert "gpus-per-node" not in directives and "gres" not in directives
    assert directives["cpus-per-task"] == "2" and directives["nodes"] == "1"
    assert directives["signal"] == "TERM@60"


@pytest.mark.parametrize(
    "options, wanted",
    [
        (SlurmOptions(gpus_per_node=8), "8"),
        (SlurmOptions(gpus_per_node=8, gpu_type="h100"), "h100:8"),
    ],
)
def test_gpu_run_asks_for_gpus_with_an_optional_gres_type(tmp_path, options, wanted):
    """8 nodes × 8 GPUs with FSDP: the script the README describes for a 64-GPU job."""
    script = sbatch_script(_config(8, 8, "fsdp"), options=options)
    _bash_n(tmp_path, script)
    directives = _directives(script)
    assert directives["gpus-per-node"] == wanted and directives["nodes"] == "8"
    assert directives["ntasks-per-node"] == "1" and "cpus-per-task" not in directives
    assert '--rdzv_endpoint "$head_node:' in script and "--nproc_per_node 8" in script


def test_partition_account_time_and_extra_lines_become_directives():
    options = SlurmOptions(
        partition="gpu",
        account="proj1",
        time_limit="2-00:00:00",
        stop_grace_s=120,
        extra_lines=("#SBATCH --qos=high", "--mem=0"),
    )
    directives = _directives(sbatch_script(_config(2, 4), options=options))
    assert (directives["partition"], directives["account"]) == ("gpu", "proj1")
    assert (directives["time"], directives["signal"]) == ("2-00:00:00", "TERM@120")
    assert (directives["qos"], directives["mem"]) == ("high", "0")


@pytest.mark.parametrize(
    "options, word",
    [
        (SlurmOptions(time_limit="two hours"), "time limit"),
        (SlurmOptions(gpus_per_node=-1), "GPUs per node"),
        (SlurmOptions(gpu_type="a100; rm -rf"), "GPU type"),
        (SlurmOptions(extra_lines=("qos high",)), "extra line"),
    ],
)
def test_bad_options_are_named(options, word):
    problems = options.problems()
    assert len(problems) == 1 and problems[0].startswith(word)


def test_good_options_have_no_problems():
    for limit in ("90", "04:00:00", "2-00:00:00", "1-12"):
        assert SlurmOptions(time_limit=limit).problems() == []


def _fake_tools(folder: Path) -> None:
    """scontrol and srun stand-ins; "torchrun" prints where it runs, its Python and its argv."""
    folder.mkdir()
    tools = {
        "scontrol": "#!/bin/bash\necho node-07\n",
        "srun": '#!/bin/bash\nexec "$@"\n',
        "torchrun": '#!/bin/bash\necho "cwd=$PWD"\necho "venv=$VIRTUAL_ENV"\necho "args=$*"\n',
    }
    for name, text in tools.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)


def test_script_changes_to_the_code_folder_and_activates_the_venv(tmp_path):
    """Run from an unrelated folder with a bare environment, as sbatch would on another node."""
    code, venv, elsewhere = tmp_path / "code", tmp_path / "venv", tmp_path / "elsewhere"
    for folder in (code, venv / "bin", elsewhere):
        folder.mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f"export VIRTUAL_ENV={venv}\n")
    _fake_tools(tmp_path / "tools")
    options = SlurmOptions(code_dir=str(code), venv=str(venv))
    script = sbatch_script(_config(1, 2), "/runs/a b/config.yaml", options)
    (tmp_path / SBATCH_FILE).write_text(script)
    env = {
        "PATH": f"{tmp_path / 'tools'}:/usr/bin:/bin",
        "SLURM_NNODES": "1",
        "SLURM_JOB_ID": "7",
        "SLURM_JOB_NODELIST": "node-07",
    }
    result = subprocess.run(
        ["bash", str(tmp_path / SBATCH_FILE), "--resume", "latest"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["cwd"] == str(code) and lines["venv"] == str(venv)
    assert "--rdzv_endpoint node-07:29500" in lines["args"]
    assert lines["args"].endswith("-m core.train --config /runs/a b/config.yaml --resume latest")


def test_torchrun_line_parses_with_torchrun(tmp_path):
    """The torchrun line, expanded by bash with fake Slurm variables, parses with torchrun."""
    from torch.distributed.run import config_from_args, get_args_parser

    _fake_tools(tmp_path / "tools")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "activate").write_text("")
    options = SlurmOptions(code_dir=str(tmp_path), venv=str(tmp_path / "venv"))
    script = sbatch_script(_config(2, 4), options=options)
    torchrun = tmp_path / "tools" / "torchrun"
    torchrun.write_text("#!/bin/bash\nprintf '%s\\n' torchrun \"$@\"\n")
    env = {
        "PATH": f"{tmp_path / 'tools'}:/usr/bin:/bin",
        "SLURM_NNODES": "2",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NODELIST": "node-[07-08]",
    }
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 0, result.stderr
    argv = result.stdout.split()
    launch, _, entry_args = config_from_args(get_args_parser().parse_args(argv[1:]))
    assert launch.rdzv_endpoint == "node-07:29500" and launch.run_id == "4242"
    assert (launch.min_nodes, launch.max_nodes, launch.nproc_per_node) == (2, 2, 4)
