"""Energy of a run: measured by hardware counters where they exist, else estimated and said so.

Counters read:
- CPUs: RAPL through sysfs (`/sys/class/powercap/intel-rapl:N/energy_uj`, one per package; AMD
  exposes the same files). Since 2020 kernels make energy_uj root-only on many systems, so a
  counter that exists but cannot be read is reported with that reason. RAPL counts the whole
  package: other programs running at the same time count too.
- NVIDIA GPUs: NVML's total energy counter (`nvmlDeviceGetTotalEnergyConsumption`, Volta and
  later), through the `nvidia-ml-py` package (imported only if installed).

Where no counter can be read (as on a cloud VM or a container) the record says "estimated", with
the method: the power the pre-run estimate assumes (core.hardware.plan_from_hardware) times the
wall time. It never looks like a measurement. The trainer writes RUN_DIR/energy.json at the end
of training (core.run_callbacks.EnergyCallback).

Before the first step the same file records the pre-run estimate (`record_pre_run_estimate`: the
Train page's estimator, core.guide.run_estimate, on the run's config and this machine); the final
record keeps it and says how far off it was (`against_estimate`), on the training part only: the
counters run from the first step to the last, so the estimate's start-up seconds are left out.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.runs import read_config, write_json_atomic
from core.settings import ConfigError

ENERGY_FILE = "energy.json"
ESTIMATE_KEY = "pre_run_estimate"
RAPL_ROOT = Path("/sys/class/powercap")
_PACKAGE_ZONE = re.compile(r"^intel-rapl:\d+$")  # packages; sub-zones (core, dram) are inside


@dataclass
class Counter:
    """A monotonically rising energy counter in joules that wraps at `wrap_j` (None: never)."""

    name: str
    read_joules: Callable[[], float]
    wrap_j: float | None = None


def rapl_counters(root: Path = RAPL_ROOT) -> tuple[list[Counter], str]:
    """The readable RAPL package counters under `root`, and why there are none when empty."""
    zones = sorted(p for p in Path(root).glob("intel-rapl:*") if _PACKAGE_ZONE.match(p.name))
    if not zones:
        return [], f"no RAPL zones in {root}"
    counters, problems = [], []
    for zone in zones:
        energy = zone / "energy_uj"
        try:
            int(energy.read_text())
            wrap = int((zone / "max_energy_range_uj").read_text()) / 1e6
            name = (zone / "name").read_text().strip()
        except (OSError, ValueError) as err:
            problems.append(f"{energy}: {type(err).__name__}")
            continue
        counters.append(Counter(f"RAPL {name}", lambda e=energy: int(e.read_text()) / 1e6, wrap))
    why = "" if counters else "RAPL not readable (" + "; ".join(problems) + "; root only?)"
    return counters, why


def nvml_counters() -> tuple[list[Counter], str]:
    """NVML total-energy counters, one per NVIDIA GPU, and why there are none when empty."""
    try:
        import pynvml
    except ImportError:
        return [], "NVML: nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
        counters = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises where unsupported

            def read(h=handle) -> float:
                return pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1000  # mJ → J

            counters.append(Counter(f"NVML GPU {i}", read))
    except pynvml.NVMLError as err:
        return [], f"NVML: {err}"
    return counters, "" if counters else "NVML: no NVIDIA GPU"


class EnergyMeter:
    """Reads every available counter at start() and stop(); joules in between, wraps handled."""

    def __init__(self, rapl_root: Path = RAPL_ROOT, use_nvml: bool = True):
        rapl, rapl_why = rapl_counters(rapl_root)
        nvml, nvml_why = nvml_counters() if use_nvml else ([], "NVML: not asked")
        self.counters = rapl + nvml
        self.unavailable = [why for why in (rapl_why, nvml_why) if why]
        self.first: dict[str, float] = {}
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self.first = {c.name: c.read_joules() for c in self.counters}

    def stop(self) -> dict:
        """{"seconds", "joules" (None without counters), "per_counter": {name: joules}}."""
        seconds = time.monotonic() - self.started
        per_counter = {}
        for counter in self.counters:
            delta = counter.read_joules() - self.first[counter.name]
            if delta < 0 and counter.wrap_j:  # the counter wrapped once
                delta += counter.wrap_j
            per_counter[counter.name] = delta
        joules = sum(per_counter.values()) if self.counters else None
        return {"seconds": seconds, "joules": joules, "per_counter": per_counter}


def energy_record(
    reading: dict,
    tokens: int,
    assumed_w: float,
    why_estimated: list[str],
    pre_run: dict | None = None,
    from_step: int = 0,
    steps: tuple[int, int] | None = None,
) -> dict:
    """What energy.json holds: measured figures, or an estimate labelled with its method, beside
    the pre-run estimate (`pre_run`) and how far off that was; `from_step` > 0: a resumed run,
    whose counters saw only the steps from there (so it is not compared with the whole run).
    `steps` (run, planned): a run that ended early (stopped, early stopping, pruned) is compared
    with the estimate for the steps it ran, not with the whole run's."""
    seconds = max(reading["seconds"], 1e-9)
    estimate_j = assumed_w * seconds
    if reading["joules"] is not None:
        joules = reading["joules"]
        record = {
            "method": "measured",
            "source": " + ".join(reading["per_counter"]),
            "per_counter_j": reading["per_counter"],
        }
    else:
        joules = estimate_j
        record = {
            "method": "estimated",
            "source": f"{assumed_w:.0f} W assumed (as the pre-run estimate) × training time; no "
            "energy counter here: " + "; ".join(why_estimated),
        }
    record.update(
        joules=joules,
        seconds=seconds,
        avg_power_w=joules / seconds,
        tokens=tokens,
        tokens_per_joule=tokens / joules if joules else None,
        estimate_j=estimate_j,
    )
    if pre_run:
        record[ESTIMATE_KEY] = pre_run
        record["from_step"] = from_step
        if from_step == 0:
            record["vs_estimate"] = against_estimate(joules, seconds, pre_run, steps)
    return record


def combined_record(records: list[dict], what: str) -> dict:
    """One energy record for runs that make one result (an Auto search: its trials), summed.

    "measured" only when every part was measured; a part without figures (a trial stopped before
    training) counts as nothing. {} when no part has figures. No pre-run estimate is compared: a
    search is sized by its budget, and each run keeps its own estimate.
    """
    parts = [r for r in records if "joules" in r]
    if not parts:
        return {}
    joules = sum(r["joules"] for r in parts)
    seconds = sum(r.get("seconds") or 0.0 for r in parts)
    tokens = sum(r.get("tokens") or 0 for r in parts)
    measured = all(r.get("method") == "measured" for r in parts)
    return {
        "method": "measured" if measured else "estimated",
        "source": f"{len(parts)} {what}, summed"
        + ("" if measured else "; some or all estimated: " + parts[-1].get("source", "")),
        "joules": joules,
        "seconds": seconds,
        "avg_power_w": joules / seconds if seconds else None,
        "tokens": tokens,
        "tokens_per_joule": tokens / joules if joules else None,
        ESTIMATE_KEY: {
            "unavailable": f"{what} together are sized by a time budget; each keeps its own"
        },
    }


def against_estimate(
    joules: float, seconds: float, pre_run: dict, steps: tuple[int, int] | None = None
) -> dict | None:
    """This run's energy and training time against the pre-run estimate's training part (its
    start-up seconds left out, as the counters leave them out): ratios and % off. With `steps`
    (run, planned) and fewer run than planned, the training part is scaled to the steps run."""
    if "seconds" not in pre_run or not pre_run.get("power_w"):
        return None
    startup = min(pre_run.get("startup_s", 0.0), pre_run["seconds"])
    basis = f"training only: the estimate less its {startup:.0f} s start-up"
    share = 1.0
    if steps and 0 < steps[0] < steps[1]:
        share = steps[0] / steps[1]
        basis += f", scaled to the {steps[0]} of {steps[1]} steps run (it ended early)"
    train_s = max((pre_run["seconds"] - startup) * share, 1e-9)
    estimate_j = pre_run["power_w"] * train_s
    ratio = joules / estimate_j
    return {
        "estimate_wh": estimate_j / 3600,
        "actual_wh": joules / 3600,
        "ratio": ratio,
        "off_pct": 100 * (ratio - 1),
        "estimate_s": train_s,
        "actual_s": seconds,
        "time_ratio": seconds / train_s,
        "basis": basis,
    }


def pre_run_estimate(config, hardware) -> dict:
    """The Train page's estimate of this config on this machine (core.guide.run_estimate) as a
    record: seconds (start-up included), Wh, $, the power and price per hour it assumes; or
    {"unavailable": why}. Never raises: an estimate that cannot be made never stops a run."""
    from core.catalog import resolve_model
    from core.guide import run_estimate
    from core.hardware import plan_from_hardware
    from core.timing import startup_seconds

    try:
        result = run_estimate(config, hardware)
        if result is None:
            return {"unavailable": "the model's size is unknown here (a Hub id while offline?)"}
        startup = startup_seconds(resolve_model(config.model.name_or_path))
    except Exception as err:  # noqa: BLE001 - a data or model read failing here is reported
        return {"unavailable": f"{type(err).__name__}: {str(err)[:200]}"}
    plan, hours = plan_from_hardware(hardware), max(result.hours.value, 1e-12)
    return {
        "seconds": hours * 3600,
        "startup_s": startup,
        "wh": result.energy_kwh.value * 1000,
        "cost_usd": result.cost_usd.value,
        "usd_per_hour": result.cost_usd.value / hours,
        "power_w": plan.power_w * plan.devices,
        "device": result.device_label,
        "tokens": result.tokens.value,
        "time_source": result.hours.source,
        "made": time.time(),
    }


def record_pre_run_estimate(run_dir: Path, hardware) -> dict:
    """Write the pre-run estimate of RUN_DIR's config into RUN_DIR/energy.json before the first
    step; a resumed run keeps the one it recorded first. Returns the estimate."""
    existing = read_energy(run_dir).get(ESTIMATE_KEY)
    if existing:
        return existing
    try:
        estimate = pre_run_estimate(read_config(run_dir), hardware)
    except (ConfigError, OSError) as err:
        estimate = {"unavailable": f"the run's config could not be read ({str(err)[:200]})"}
    write_json_atomic(Path(run_dir) / ENERGY_FILE, {ESTIMATE_KEY: estimate})
    return estimate


def assumed_power_w() -> float:
    """The power the pre-run estimate assumes for this machine (all devices), in W."""
    from core.hardware import detect_hardware, plan_from_hardware

    plan = plan_from_hardware(detect_hardware())
    return plan.power_w * plan.devices


def read_energy(run_dir: Path) -> dict:
    """The run's energy.json; {} when it has none, or one that cannot be read as a record (so one
    damaged file never breaks the Runs table of every run)."""
    try:
        record = json.loads((Path(run_dir) / ENERGY_FILE).read_text())
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return {}
    return record if isinstance(record, dict) else {}


def _wh(joules: float) -> str:
    return f"{joules / 3600:.3g} Wh ({joules:,.0f} J)" if joules >= 1 else f"{joules:.2g} J"


def energy_lines(record: dict) -> list[str]:
    """A run's energy record in plain words, for the Results page and the Runs view: what was
    measured (or estimated, and how), tokens per joule, and the pre-run estimate beside it."""
    if "joules" not in record:
        pending = "Energy: recorded when training ends."
        return [pending] + (_estimate_lines(record.get(ESTIMATE_KEY)) if record else [])
    per_j, source = record.get("tokens_per_joule"), record.get("source") or "method not recorded"
    if record.get("method") == "measured":
        head = f"Energy: **{_wh(record['joules'])} measured** ({source})"
        tokens = f"{per_j:.3g} tokens per joule" if per_j else "no token count"
    else:
        head = f"Energy: **≈ {_wh(record['joules'])}, estimated**: {source}"
        tokens = f"≈ {per_j:.3g} tokens per joule (estimated)" if per_j else "no token count"
    seconds = record.get("seconds")
    during = (
        f"{seconds:.1f} s of training at {record['joules'] / seconds:.3g} W on average"
        if seconds
        else "training time not recorded"
    )
    lines = [f"{head}; {during}; {tokens}."]
    if record.get("from_step"):
        lines.append(
            f"Resumed at step {record['from_step']}: the energy counts from there only, so it "
            "is not compared with the whole run's estimate."
        )
    return lines + _estimate_lines(record.get(ESTIMATE_KEY), record.get("vs_estimate"), record)


def _estimate_lines(pre_run: dict | None, versus: dict | None = None, record=None) -> list[str]:
    if not pre_run:
        return ["No pre-run estimate was recorded (the run started before they were kept)."]
    if "seconds" not in pre_run:
        return [f"No pre-run estimate: {pre_run.get('unavailable', 'unknown reason')}."]
    lines = [
        f"Pre-run estimate: {pre_run['wh']:.3g} Wh, {_seconds(pre_run['seconds'])} in all (with "
        f"{_seconds(pre_run['startup_s'])} start-up), ${pre_run['cost_usd']:.2f}, "
        f"{pre_run['tokens']:,.0f} tokens, on {pre_run['device']} at {pre_run['power_w']:.0f} W."
    ]
    if versus:
        lines.append(
            f"Against it ({versus['basis']}): {versus['actual_wh']:.3g} Wh for "
            f"{versus['estimate_wh']:.3g} Wh estimated, **{ratio_text(versus)}**; training took "
            f"{_seconds(versus['actual_s'])} for {_seconds(versus['estimate_s'])} estimated"
            + (f"; {record['tokens']:,} tokens." if record and record.get("tokens") else ".")
        )
        if record and record.get("method") == "estimated":
            lines.append(
                "Both sides are estimates here (no energy counter): the energy is off exactly as "
                "far as the time estimate was."
            )
    return lines


def ratio_text(versus: dict) -> str:
    """'0.41× the estimate (59% under)', '1,387× the estimate (138,553% over)'."""
    ratio, off = versus["ratio"], versus["off_pct"]
    shown = f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2f}×"
    return f"{shown} the estimate ({abs(off):,.0f}% {'over' if off >= 0 else 'under'})"


def _seconds(value: float) -> str:
    return f"{value:.2g} s" if value < 10 else f"{value:,.0f} s"
