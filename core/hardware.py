"""What this machine has: CPU cores, RAM, bf16 support and GPUs with their memory."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Hardware:
    cpu_cores: int
    ram_gb: float
    cpu_bf16: bool
    gpus: list[dict] = field(default_factory=list)  # [{"name", "memory_gb"}]
    mps: bool = False

    @property
    def device_label(self) -> str:
        if self.gpus:
            return f"{len(self.gpus)} × {self.gpus[0]['name']}"
        return "Apple GPU (MPS)" if self.mps else "CPU only"

    def to_dict(self) -> dict:
        return asdict(self)


def _ram_gb() -> float:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 1024**3


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cpu_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as info:
            flags = info.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def detect_hardware() -> Hardware:
    """Read the CPU, RAM and accelerators. Imports torch only to ask about GPUs."""
    import torch

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append({"name": props.name, "memory_gb": round(props.total_memory / 1024**3, 1)})
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return Hardware(
        cpu_cores=available_cores(),
        ram_gb=round(_ram_gb(), 1),
        cpu_bf16=_cpu_bf16(),
        gpus=gpus,
        mps=mps,
    )


@dataclass
class GpuSpec:
    """One accelerator kind to plan for. Figures are the vendor's dense (no sparsity) numbers."""

    name: str
    memory_gb: float  # usable device memory, GB (10^9 bytes, as sold)
    bf16_tflops: float  # peak dense bf16/fp16 tensor throughput, TFLOP/s
    power_w: float  # board power (TDP), W
    bf16: bool = True  # native bf16 (T4 has fp16 only)


# Vendor datasheets: dense tensor-core TFLOP/s (fp16 for the T4, which lacks bf16) and board power.
GPU_SPECS: dict[str, GpuSpec] = {
    spec.name: spec
    for spec in (
        GpuSpec("T4", 16, 65, 70, bf16=False),
        GpuSpec("L4", 24, 121, 72),
        GpuSpec("A10G", 24, 70, 150),
        GpuSpec("RTX 4090", 24, 165, 450),
        GpuSpec("L40S", 48, 362, 350),
        GpuSpec("A100 40GB", 40, 312, 400),
        GpuSpec("A100 80GB", 80, 312, 400),
        GpuSpec("H100", 80, 989, 700),
        GpuSpec("H200", 141, 989, 700),
    )
}


# GPUs without bf16 (compute capability < 8.0) that users still meet but GPU_SPECS does not list.
NO_BF16_GPUS = ("V100", "T4", "P100", "P40", "K80", "GTX", "RTX 20", "TITAN")


def gpu_has_bf16(name: str) -> bool:
    """Whether a GPU (a GPU_SPECS key or a detected device name) computes in bf16."""
    spec = gpu_spec(name)
    if spec is not None:
        return spec.bf16
    return not any(tag in name for tag in NO_BF16_GPUS)


def gpu_spec(name: str) -> GpuSpec | None:
    """The table entry whose name matches a detected device name ("NVIDIA A100-SXM4-80GB")."""
    if name in GPU_SPECS:
        return GPU_SPECS[name]
    compact = name.upper().replace("-", " ").replace("NVIDIA", "").strip()
    best = None
    for spec in GPU_SPECS.values():
        key = spec.name.upper().replace("GB", "").split()
        if all(part in compact for part in key):
            # prefer the longest match: "A100 80GB" over "A100 40GB" when 80 appears
            if best is None or len(spec.name) > len(best.name):
                best = spec
    return best


@dataclass
class HardwarePlan:
    """Where a run will go: this machine's CPU, or nodes × GPUs of one kind (detected or planned)."""

    device: str = "cpu"  # "cpu" or a key of GPU_SPECS
    nodes: int = 1
    gpus_per_node: int = 1
    memory_gb: float = 0.0  # per device; for "cpu" the machine's RAM
    tflops: float = 0.0  # peak per device in the run's precision
    power_w: float = 0.0  # per device, for energy
    planned: bool = False  # True: hardware the user does not have here

    def __post_init__(self):
        if self.nodes < 1 or self.gpus_per_node < 1:
            raise ValueError(
                f"nodes and GPUs per node should be at least 1, got {self.nodes} × {self.gpus_per_node}"
            )

    @property
    def devices(self) -> int:
        return 1 if self.device == "cpu" else self.nodes * self.gpus_per_node

    @property
    def label(self) -> str:
        if self.device == "cpu":
            return "this computer's CPU"
        layout = f"{self.gpus_per_node} × {self.device}"
        return f"{self.nodes} nodes × {layout}" if self.nodes > 1 else layout


def plan_gpus(name: str, gpus_per_node: int = 1, nodes: int = 1) -> HardwarePlan:
    """A plan for GPUs of one kind from GPU_SPECS.

    Raises:
        KeyError: the GPU kind is not in the table (the message lists the known ones).
    """
    if name not in GPU_SPECS:
        raise KeyError(f"unknown GPU {name!r}; known: {', '.join(GPU_SPECS)}")
    spec = GPU_SPECS[name]
    return HardwarePlan(
        name, nodes, gpus_per_node, spec.memory_gb, spec.bf16_tflops, spec.power_w, planned=True
    )


def plan_from_hardware(
    hardware: Hardware, cpu_tflops: float = 0.0, cpu_power_w: float = 0.0
) -> HardwarePlan:
    """The plan for the machine that was detected: its GPUs if any, else its CPU.

    Args:
        hardware: from detect_hardware().
        cpu_tflops: measured CPU throughput (core.estimate calibrates it); 0 = unknown.
        cpu_power_w: CPU power to count for energy; 0 = 10 W per core (assumed).
    """
    if hardware.gpus:
        spec = gpu_spec(hardware.gpus[0]["name"])
        return HardwarePlan(
            spec.name if spec else hardware.gpus[0]["name"],
            1,
            len(hardware.gpus),
            hardware.gpus[0]["memory_gb"],
            spec.bf16_tflops if spec else 100.0,
            spec.power_w if spec else 300.0,
        )
    return HardwarePlan(
        "cpu",
        memory_gb=hardware.ram_gb,
        tflops=cpu_tflops,
        power_w=cpu_power_w or 10.0 * hardware.cpu_cores,
    )


# Measured on the reference CPU (2 cores, AVX-512 + AMX) in /work/shared/ENGINES.md; used only until
# this machine has been measured by calibrate_cpu().
ASSUMED_CPU_TFLOPS = {"fp32": 0.43, "bf16": 2.6}
# Training matmuls run at the rate the 1024² matmul measures (core.timing adds element-wise work
# separately); bench/estimate_accuracy.py holds this to measured step times.
ASSUMED_CPU_EFFICIENCY = 1.0
ASSUMED_ELEMENTWISE_GELEMS = 4.3  # fp32 `a * b` on 2M elements, G results/s (measured here)
# Real element-wise time ÷ counted passes at that rate (strided and transposed tensors, per-op
# overhead): fitted by bench/estimate_accuracy.py on this machine, 2026-11-27.
ASSUMED_ELEMENTWISE_FACTOR = 3.9


def calibration_file() -> Path:
    from core.runs import data_root

    return data_root() / "calibration" / "cpu.json"


def read_calibration() -> dict:
    """The cached CPU calibration ({} when this machine was never measured)."""
    path = calibration_file()
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_calibration(**values) -> dict:
    """Merge values (e.g. elementwise_factor) into the cached calibration file."""
    data = read_calibration() | values
    path = calibration_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return data


def _runs_per_cpu_second(operation, seconds: float) -> float:
    """How often `operation` runs per second of this process's CPU time × threads: CPU time, not
    wall time, so other programs' load on a shared machine does not count as slowness."""
    import torch

    operation()  # warm-up: the first call picks the kernel
    runs, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        operation()
        runs += 1
    cpu_seconds = max(time.process_time() - cpu_start, 1e-9)
    return runs / cpu_seconds * torch.get_num_threads()


def _matmul_tflops(dtype_name: str, size: int = 1024, seconds: float = 0.3) -> float:
    import torch

    dtype = getattr(torch, {"fp32": "float32", "bf16": "bfloat16"}[dtype_name])
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return 2 * size**3 * _runs_per_cpu_second(lambda: a @ b, seconds) / 1e12


def _elementwise_gelems(elements: int = 1 << 21, seconds: float = 0.2) -> float:
    """Element-wise throughput (billions of output elements per second) of `a * b` on fp32
    activations of training size, each result a fresh tensor as in autograd: what layer norms,
    activations, dropout and residual adds run at."""
    import torch

    a, b = torch.randn(elements), torch.randn(elements)
    return elements * _runs_per_cpu_second(lambda: a * b, seconds) / 1e9


def calibrate_cpu(force: bool = False) -> dict:
    """Measure this CPU's fp32 (and bf16) matmul throughput once and cache it (about 1 s).

    Returns:
        {"fp32": TFLOP/s, "bf16": TFLOP/s, "threads": n, ...} as stored in calibration_file().
    """
    cached = read_calibration()
    # A cache written before the element-wise rate was measured is measured again.
    if cached.get("fp32") and cached.get("elementwise_gelems") and not force:
        return cached
    import torch

    measured = {
        "fp32": round(_matmul_tflops("fp32"), 4),
        "elementwise_gelems": round(_elementwise_gelems(), 3),
        "threads": torch.get_num_threads(),
    }
    if _cpu_bf16():
        measured["bf16"] = round(_matmul_tflops("bf16"), 4)
    return write_calibration(**measured)


def cpu_elementwise() -> tuple[float, float, str]:
    """(element rate in G elements/s, fitted factor, source) for this CPU's element-wise work
    (core.timing); never measures, like cpu_throughput."""
    cached = read_calibration()
    rate = cached.get("elementwise_gelems")
    factor = cached.get("elementwise_factor")
    if rate:
        return (
            rate,
            factor or ASSUMED_ELEMENTWISE_FACTOR,
            "calibrated" if factor else "measured here",
        )
    return ASSUMED_ELEMENTWISE_GELEMS, ASSUMED_ELEMENTWISE_FACTOR, "assumed"


def cpu_throughput(precision: str) -> tuple[float, float, str]:
    """(peak TFLOP/s, training efficiency, source) for this CPU, from the cache or assumed.

    Never measures (the estimate must stay instant); call calibrate_cpu() first to measure.
    """
    cached = read_calibration()
    key = "bf16" if precision in ("bf16", "fp16") and cached.get("bf16") else "fp32"
    if cached.get(key):
        # (the key changed with core.timing: an old "training_efficiency" meant something else)
        efficiency = cached.get(f"matmul_efficiency_{key}")
        source = "calibrated" if efficiency else "measured here"
        return cached[key], efficiency or ASSUMED_CPU_EFFICIENCY, source
    key = "bf16" if precision in ("bf16", "fp16") and _cpu_bf16() else "fp32"
    return ASSUMED_CPU_TFLOPS[key], ASSUMED_CPU_EFFICIENCY, "assumed"
