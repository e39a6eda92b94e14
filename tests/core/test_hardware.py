"""This machine's hardware, the table of GPUs to plan for, and the CPU calibration cache."""

import pytest

from core import hardware
from core.hardware import (
    GPU_SPECS,
    Hardware,
    HardwarePlan,
    calibrate_cpu,
    cpu_elementwise,
    cpu_throughput,
    detect_hardware,
    gpu_spec,
    plan_from_hardware,
    plan_gpus,
    write_calibration,
)


def test_detect_hardware_reads_this_machine():
    found = detect_hardware()
    assert found.cpu_cores >= 1 and found.ram_gb > 0
    assert found.device_label in ("CPU only", "Apple GPU (MPS)") or found.gpus


@pytest.mark.parametrize(
    "detected, expected",
    [
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA A100-PCIE-40GB", "A100 40GB"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("Tesla T4", "T4"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("NVIDIA A10G", "A10G"),
    ],
)
def test_detected_gpu_names_find_their_table_row(detected, expected):
    assert gpu_spec(detected).name == expected


def test_plan_counts_nodes_times_gpus():
    plan = plan_gpus("H100", gpus_per_node=8, nodes=2)
    assert plan.devices == 16 and plan.memory_gb == 80 and plan.planned
    assert "2 nodes" in plan.label


def test_unknown_gpu_lists_the_known_ones():
    with pytest.raises(KeyError, match="A100 80GB"):
        plan_gpus("Voodoo 5")


def test_a_plan_needs_at_least_one_device():
    with pytest.raises(ValueError, match="0 × 1"):
        HardwarePlan("H100", nodes=0)


def test_plan_from_detected_gpus_and_cpu():
    gpus = [{"name": "NVIDIA A100-SXM4-80GB", "memory_gb": 79.2}] * 2
    plan = plan_from_hardware(Hardware(cpu_cores=8, ram_gb=64, cpu_bf16=True, gpus=gpus))
    assert (plan.device, plan.devices, plan.memory_gb) == ("A100 80GB", 2, 79.2)
    cpu = plan_from_hardware(Hardware(cpu_cores=2, ram_gb=24, cpu_bf16=False), cpu_tflops=0.4)
    assert (cpu.device, cpu.devices, cpu.memory_gb, cpu.power_w) == ("cpu", 1, 24, 20)


def test_table_has_what_the_estimate_needs():
    for spec in GPU_SPECS.values():
        assert spec.memory_gb > 0 and spec.bf16_tflops > 0 and spec.power_w > 0


def test_calibration_is_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path))
    assert cpu_throughput("fp32")[2] == "assumed"
    measured = calibrate_cpu()
    assert measured["fp32"] > 0 and hardware.calibration_file().is_file()
    assert str(hardware.calibration_file()).startswith(str(tmp_path))

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(hardware, "_matmul_tflops", no_measuring)
    assert calibrate_cpu() == measured
    assert cpu_throughput("fp32") == (
        measured["fp32"],
        hardware.ASSUMED_CPU_EFFICIENCY,
        "measured here",
    )
    write_calibration(matmul_efficiency_fp32=0.5)
    assert cpu_throughput("fp32") == (measured["fp32"], 0.5, "calibrated")
    rate = measured["elementwise_gelems"]
    assert rate > 0 and cpu_elementwise() == (
        rate,
        hardware.ASSUMED_ELEMENTWISE_FACTOR,
        "measured here",
    )
    write_calibration(elementwise_factor=1.7)
    assert cpu_elementwise() == (rate, 1.7, "calibrated")


def test_a_cache_from_before_the_element_rate_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path))
    write_calibration(fp32=0.4, threads=2)  # what older versions stored
    measured = calibrate_cpu()
    assert measured["elementwise_gelems"] > 0 and measured["fp32"] != 0.4
