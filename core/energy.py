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
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ENERGY_FILE = "energy.json"
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


def energy_record(reading: dict, tokens: int, assumed_w: float, why_estimated: list[str]) -> dict:
    """What energy.json holds: measured figures, or an estimate labelled with its method."""
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
            "source": f"{assumed_w:.0f} W assumed (as the pre-run estimate) × wall time; no "
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
    return record


def assumed_power_w() -> float:
    """The power the pre-run estimate assumes for this machine (all devices), in W."""
    from core.hardware import detect_hardware, plan_from_hardware

    plan = plan_from_hardware(detect_hardware())
    return plan.power_w * plan.devices


def read_energy(run_dir: Path) -> dict:
    """The run's energy.json; {} when it has none."""
    try:
        return json.loads((Path(run_dir) / ENERGY_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
