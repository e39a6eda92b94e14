"""Energy counters read from a fake sysfs tree; 'estimated' where no counter can be read."""

from __future__ import annotations

import pytest

from core.energy import EnergyMeter, energy_record, rapl_counters


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
