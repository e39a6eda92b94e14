import json

from core import runs
from core.settings import RunConfig


def test_create_run_writes_config_and_queued_status(tmp_path):
    run_dir = runs.create_run(RunConfig(name="my run!"), root=tmp_path)
    assert run_dir.name.endswith("my-run")
    assert runs.read_config(run_dir) == RunConfig(name="my run!")
    assert runs.read_status(run_dir)["state"] == "queued"
    second = runs.create_run(RunConfig(name="my run!"), root=tmp_path)
    assert second != run_dir and runs.list_runs(tmp_path)[0] in (run_dir, second)


def test_status_updates_merge_and_leave_no_temp_files(tmp_path):
    runs.write_status(tmp_path, state="running", step=1)
    runs.write_status(tmp_path, step=2)
    assert runs.read_status(tmp_path)["state"] == "running"
    assert runs.read_status(tmp_path)["step"] == 2
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [runs.STATUS_FILE]
    assert not list(tmp_path.glob("*.tmp"))


def test_metrics_reader_skips_a_half_written_line(tmp_path):
    runs.append_metrics(tmp_path, {"step": 1, "loss": 0.5})
    with open(tmp_path / runs.METRICS_FILE, "a") as out:
        out.write('{"step": 2, "lo')
    assert runs.read_metrics(tmp_path) == [{"step": 1, "loss": 0.5}]


def test_tail_log_returns_the_last_lines(tmp_path):
    (tmp_path / runs.LOG_FILE).write_text("\n".join(f"line {i}" for i in range(100)))
    assert runs.tail_log(tmp_path, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert runs.tail_log(tmp_path / "missing") == ""


def test_read_eval_is_empty_until_written(tmp_path):
    assert runs.read_eval(tmp_path) == {}
    (tmp_path / runs.EVAL_FILE).write_text(json.dumps({"accuracy": 1.0}))
    assert runs.read_eval(tmp_path)["accuracy"] == 1.0


def test_runs_on_the_same_data_record_the_same_fingerprint(tmp_path):
    from core.jobs import with_fingerprint

    data = tmp_path / "d.csv"
    data.write_text("text,label\na good one,pos\na bad one,neg\n")
    first = with_fingerprint(RunConfig().replace(data={"path": str(data)}))
    second = with_fingerprint(RunConfig().replace(data={"path": str(data)}, name="again"))
    assert first.data.fingerprint and first.data.fingerprint == second.data.fingerprint
    data.write_text("text,label\na good one,pos\na bad one,pos\n")
    changed = with_fingerprint(RunConfig().replace(data={"path": str(data)}))
    assert changed.data.fingerprint != first.data.fingerprint


def test_a_stale_fingerprint_in_the_config_is_replaced(tmp_path):
    from core.jobs import with_fingerprint

    data = tmp_path / "d.csv"
    data.write_text("text,label\na good one,pos\na bad one,neg\n")
    fresh = with_fingerprint(RunConfig().replace(data={"path": str(data)}))
    stale = with_fingerprint(RunConfig().replace(data={"path": str(data), "fingerprint": "0" * 16}))
    assert stale.data.fingerprint == fresh.data.fingerprint != "0" * 16
