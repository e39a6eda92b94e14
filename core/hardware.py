"""What this machine has: CPU cores, RAM, bf16 support and GPUs with their memory."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field


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
        cpu_cores=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1,
        ram_gb=round(_ram_gb(), 1),
        cpu_bf16=_cpu_bf16(),
        gpus=gpus,
        mps=mps,
    )
