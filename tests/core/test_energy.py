"""Energy counters read from a fake sysfs tree; 'estimated' where no counter can be read."""

from __future__ import annotations

import pytest

from core.energy import EnergyMeter, energy_lines, energy_record, rapl_counters


def make_zone(root, index: int, name: str, energy_uj: int, wrap_uj: int = 262143328850):
    zone = root / f"intel-rapl:{index}"
    zone.mkdir(parents=True)
    (zone / "name").write_text(name + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
    sub = root / f"intel-rapl:{index}:0"  # a core sub-zone: inside the package, never added
    sub.mkdir()
    (sub / "name").write_text("core\n")
    (sub / "energy_uj").write_text("5\n")
    return zone


def test_rapl_packages_are_summed_and_a_wrap_is_undone(tmp_path):
    first = make_zone(tmp_path, 0, "package-0", 1_000_000)
    second = make_zone(tmp_path, 1, "package-1", 999_000_000, wrap_uj=1_000_000_000)
    meter = EnergyMeter(rapl_root=tmp_path, use_nvml=False)
    assert [c.name for c in meter.counters] == ["RAPL package-0", "RAPL package-1"]
    meter.start()
    (first / "energy_uj").write_text("31000000\n")  # +30 J
    (second / "energy_uj").write_text("4000000\n")  # wrapped: +1 J to the top, +4 J after
    reading = meter.stop()
    assert reading["per_counter"] == pytest.approx({"RAPL package-0": 30.0, "RAPL package-1": 5.0})
    assert reading["joules"] == pytest.approx(35.0)
    record = energy_record(reading, tokens=700, assumed_w=20.0, why_estimated=[])
    assert record["method"] == "measured"
    assert record["tokens_per_joule"] == pytest.approx(20.0)
    assert record["avg_power_w"] == pytest.approx(35.0 / reading["seconds"])


def test_unreadable_rapl_says_why_and_the_run_is_estimated(tmp_path):
    zone = make_zone(tmp_path, 0, "package-0", 1_000)
    (zone / "energy_uj").unlink()
    (zone / "energy_uj").mkdir()  # unreadable even for root (a real chmod 0 is not, under root)
    counters, why = rapl_counters(tmp_path)
    assert counters == [] and "RAPL not readable" in why and "energy_uj" in why
    meter = EnergyMeter(rapl_root=tmp_path, use_nvml=False)
    meter.start()
    reading = meter.stop()
    assert reading["joules"] is None
    record = energy_record(
        dict(reading, seconds=10.0), tokens=100, assumed_w=20.0, why_estimated=meter.unavailable
    )
    assert record["method"] == "estimated"
    assert record["joules"] == record["estimate_j"] == pytest.approx(200.0)
    assert "20 W assumed" in record["source"] and "RAPL not readable" in record["source"]


def test_no_powercap_tree_means_no_counter(tmp_path):
    counters, why = rapl_counters(tmp_path / "missing")
    assert counters == [] and "no RAPL zones" in why


# A pre-run estimate as core.energy.pre_run_estimate records it: 40 s in all, 10 s of it start-up,
# 20 W; so 30 s and 600 J (0.1667 Wh) for the training part the counters see.
PRE_RUN = {
    "seconds": 40.0,
    "startup_s": 10.0,
    "wh": 40 * 20 / 3600,
    "cost_usd": 0.0,
    "usd_per_hour": 0.0,
    "power_w": 20.0,
    "device": "this computer's CPU",
    "tokens": 1000.0,
}


def test_measured_rapl_energy_is_set_against_the_pre_run_estimate(tmp_path):
    zone = make_zone(tmp_path, 0, "package-0", 0)
    meter = EnergyMeter(rapl_root=tmp_path, use_nvml=False)
    meter.start()
    (zone / "energy_uj").write_text("450000000\n")  # +450 J
    reading = dict(meter.stop(), seconds=15.0)
    record = energy_record(reading, 900, 20.0, [], pre_run=PRE_RUN)
    versus = record["vs_estimate"]
    assert versus["estimate_wh"] == pytest.approx(600 / 3600)  # start-up left out
    assert versus["ratio"] == pytest.approx(0.75) and versus["off_pct"] == pytest.approx(-25.0)
    assert versus["time_ratio"] == pytest.approx(0.5)
    text = "\n".join(energy_lines(record))
    assert "measured** (RAPL package-0)" in text and "2 tokens per joule" in text
    assert "0.75× the estimate (25% under)" in text
    assert "Both sides are estimates" not in text


def test_without_a_counter_both_sides_are_estimates_and_it_says_so(tmp_path):
    meter = EnergyMeter(rapl_root=tmp_path / "missing", use_nvml=False)
    meter.start()
    reading = dict(meter.stop(), seconds=60.0)  # twice the estimated 30 s of training
    record = energy_record(reading, 600, 20.0, meter.unavailable, pre_run=PRE_RUN)
    assert record["method"] == "estimated"
    assert record["vs_estimate"]["ratio"] == pytest.approx(2.0)
    text = "\n".join(energy_lines(record))
    assert "estimated**" in text and "no RAPL zones" in text
    assert "≈ 0.5 tokens per joule (estimated)" in text
    assert "2.00× the estimate (100% over)" in text and "Both sides are estimates" in text


def test_a_resumed_run_is_not_compared_with_the_whole_runs_estimate(tmp_path):
    meter = EnergyMeter(rapl_root=tmp_path / "missing", use_nvml=False)
    meter.start()
    record = energy_record(meter.stop(), 10, 20.0, [], pre_run=PRE_RUN, from_step=40)
    assert "vs_estimate" not in record and record["pre_run_estimate"] == PRE_RUN
    assert "Resumed at step 40" in "\n".join(energy_lines(record))


def test_a_run_stopped_early_is_compared_with_the_estimate_for_the_steps_it_ran(tmp_path):
    """Stopped by the user (or early stopping, or the search's pruner) at step 25 of 100: set
    against the whole run's estimate it would read as 75% under, which says nothing about the
    estimate. The estimate's training part is scaled to the share of steps run."""
    meter = EnergyMeter(rapl_root=tmp_path / "missing", use_nvml=False)
    meter.start()
    reading = dict(meter.stop(), seconds=7.5)  # a quarter of the estimated 30 s of training
    record = energy_record(reading, 250, 20.0, [], pre_run=PRE_RUN, steps=(25, 100))
    versus = record["vs_estimate"]
    assert versus["estimate_s"] == pytest.approx(7.5) and versus["ratio"] == pytest.approx(1.0)
    assert "25 of 100 steps" in versus["basis"]
    assert "25 of 100 steps" in "\n".join(energy_lines(record))
    whole = energy_record(dict(reading, seconds=30.0), 1000, 20.0, [], PRE_RUN, steps=(100, 100))
    assert whole["vs_estimate"]["ratio"] == pytest.approx(1.0)
    assert "steps" not in whole["vs_estimate"]["basis"]


def test_the_pre_run_estimate_is_recorded_once_and_kept_on_resume(data_root, reviews_csv):
    from core import runs
    from core.energy import read_energy, record_pre_run_estimate
    from core.guide import run_estimate
    from core.hardware import detect_hardware
    from core.settings import RunConfig

    config = RunConfig(name="e").replace(data={"path": str(reviews_csv)})
    run_dir = runs.create_run(config)
    hardware = detect_hardware()
    recorded = record_pre_run_estimate(run_dir, hardware)
    shown = run_estimate(config, hardware)  # what the Train page shows for the same config
    assert recorded["seconds"] == pytest.approx(shown.hours.value * 3600)
    assert recorded["wh"] == pytest.approx(shown.energy_kwh.value * 1000)
    assert recorded["cost_usd"] == pytest.approx(shown.cost_usd.value)
    assert 0 < recorded["startup_s"] < recorded["seconds"]
    assert read_energy(run_dir) == {"pre_run_estimate": recorded}
    reviews_csv.unlink()  # a resume cannot estimate again, and need not
    assert record_pre_run_estimate(run_dir, hardware) == recorded
    assert "joules" not in read_energy(run_dir)
    assert energy_lines(read_energy(run_dir))[0] == "Energy: recorded when training ends."


def test_an_estimate_that_cannot_be_made_says_why_and_never_raises(data_root, tmp_path):
    from core import runs
    from core.energy import record_pre_run_estimate
    from core.hardware import detect_hardware
    from core.settings import RunConfig

    gone = RunConfig(name="e").replace(data={"path": str(tmp_path / "gone.csv")})
    recorded = record_pre_run_estimate(runs.create_run(gone), detect_hardware())
    assert set(recorded) == {"unavailable"} and recorded["unavailable"]
    assert energy_lines({"pre_run_estimate": recorded})[1].startswith("No pre-run estimate: ")
    broken = runs.create_run(gone)
    (broken / runs.CONFIG_FILE).write_text("training: [")
    assert "could not be read" in record_pre_run_estimate(broken, detect_hardware())["unavailable"]


def test_the_energy_callback_writes_the_estimate_and_the_comparison(data_root, reviews_csv):
    from types import SimpleNamespace

    from core import runs
    from core.energy import read_energy
    from core.run_callbacks import EnergyCallback
    from core.settings import RunConfig

    run_dir = runs.create_run(RunConfig(name="e").replace(data={"path": str(reviews_csv)}))
    meter = EnergyMeter(rapl_root=data_root / "no-rapl", use_nvml=False)
    callback = EnergyCallback(run_dir, is_main=True, meter=meter)
    callback.on_train_begin(None, SimpleNamespace(global_step=0), None)
    assert "seconds" in read_energy(run_dir)["pre_run_estimate"]  # before the first step
    callback.on_train_end(None, SimpleNamespace(num_input_tokens_seen=50), None)
    record = read_energy(run_dir)
    assert record["method"] == "estimated" and record["tokens"] == 50
    assert record["vs_estimate"]["time_ratio"] == pytest.approx(record["vs_estimate"]["ratio"])
    stopped = EnergyCallback(runs.create_run(runs.read_config(run_dir)), True, meter)
    stopped.on_train_begin(None, SimpleNamespace(global_step=0), None)
    ended = SimpleNamespace(num_input_tokens_seen=5, global_step=3, max_steps=12)
    stopped.on_train_end(None, ended, None)  # the user stopped it at step 3 of 12
    assert "3 of 12 steps" in read_energy(stopped.run_dir)["vs_estimate"]["basis"]


def test_a_search_s_energy_is_its_runs_summed_and_measured_only_if_all_were():
    from core.energy import combined_record

    measured = {"method": "measured", "joules": 100.0, "seconds": 10.0, "tokens": 500}
    estimated = {"method": "estimated", "joules": 50.0, "seconds": 5.0, "tokens": 100,
                 "source": "20 W assumed"}  # fmt: skip
    both = combined_record([measured, estimated, {"pre_run_estimate": {}}], "trials")
    assert both["joules"] == 150.0 and both["seconds"] == 15.0 and both["tokens"] == 600
    assert both["method"] == "estimated" and both["tokens_per_joule"] == 4.0
    assert combined_record([measured, measured], "trials")["method"] == "measured"
    assert combined_record([{"pre_run_estimate": {}}], "trials") == {}
