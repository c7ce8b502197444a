"""Tests of seglab.core.devices: device options checked against the machine, naming the option
and what the machine has (the GPU count and the cores are faked: any machine runs these)."""

from __future__ import annotations

import pytest

from seglab.core import devices
from seglab.core.devices import check_accelerator, check_device
from seglab.errors import ConfigError


@pytest.fixture
def machine(monkeypatch):
    """Fake a machine: ``machine(gpus=0, cores=2)``."""

    def fake(*, gpus: int = 0, cores: int = 2, mps: bool = False) -> None:
        monkeypatch.setattr(devices, "cuda_count", lambda: gpus)
        monkeypatch.setattr(devices, "cpu_cores", lambda: cores)
        monkeypatch.setattr(devices, "mps_available", lambda: mps)

    return fake


def test_available_lists_the_cores_and_gpus(machine):
    machine(gpus=2, cores=16)
    assert devices.available() == "cpu (16 cores), cuda:0, cuda:1"


@pytest.mark.parametrize(
    ("gpus", "device", "chosen"),
    [
        (0, None, "cpu"),
        (1, None, "cuda"),
        (0, "cpu", "cpu"),
        (0, " CPU ", "cpu"),
        (2, "cuda:1", "cuda:1"),
        (1, "gpu", "cuda"),
    ],
)
def test_check_device_takes_what_the_machine_has(machine, gpus, device, chosen):
    machine(gpus=gpus)
    assert check_device(device) == chosen


@pytest.mark.parametrize(
    ("gpus", "device", "message"),
    [
        (0, "cuda", r"--device cuda: PyTorch sees no CUDA GPU .* it has cpu \(2 cores\)"),
        (0, "cuda:7", "--device cuda:7: PyTorch sees no CUDA GPU"),
        (2, "cuda:7", r"--device cuda:7: this machine has 2 CUDA GPU\(s\), cuda:0 to cuda:1"),
        (0, "tpu", "--device 'tpu': expected cpu, cuda, cuda:N or mps"),
        (0, "cpu:3", "--device 'cpu:3': expected"),
        (0, "mps", "--device mps: no Apple MPS device here"),
    ],
)
def test_check_device_refuses_hardware_that_is_not_there(machine, gpus, device, message):
    machine(gpus=gpus)
    with pytest.raises(ConfigError, match=message):
        check_device(device)


@pytest.mark.parametrize(
    ("gpus", "cores", "accelerator", "devices_"),
    [
        (0, 2, "auto", "auto"),
        (0, 2, "cpu", 2),
        (0, 2, "cpu", "2"),
        (0, 1, "auto", 1),
        (2, 2, "gpu", 2),
        (2, 2, "auto", "0,1"),
        (2, 2, "cuda", "[1]"),
        (1, 2, "gpu", -1),
    ],
)
def test_check_accelerator_takes_what_the_machine_can_run(
    machine, gpus, cores, accelerator, devices_
):
    machine(gpus=gpus, cores=cores)
    check_accelerator(accelerator, devices_)


@pytest.mark.parametrize(
    ("gpus", "cores", "accelerator", "devices_", "message"),
    [
        (0, 2, "gpu", "auto", "--accelerator gpu: PyTorch sees no CUDA GPU"),
        (0, 2, "cuda", 1, "--accelerator cuda: PyTorch sees no CUDA GPU"),
        (0, 2, "tpu", "auto", "--accelerator 'tpu': choose one of auto, cpu, gpu, cuda, mps"),
        (0, 2, "mps", "auto", "--accelerator mps: no Apple MPS device"),
        (0, 2, "cpu", 4, r"--devices 4: on the CPU .* this machine has 2 core\(s\)"),
        (0, 2, "auto", "4", r"--devices 4: .* 2 core\(s\); use --devices 2 or fewer"),
        (0, 2, "cpu", 0, "--devices 0: on the CPU --devices is a number of processes"),
        (0, 2, "cpu", "0,1", "--devices 0,1: .* GPU ids need a GPU"),
        (1, 2, "gpu", 2, r"--devices 2: this machine has 1 CUDA GPU\(s\)"),
        (1, 2, "auto", "0,3", "--devices 0,3: there is no GPU 3"),
        (1, 2, "gpu", 0, "--devices 0: expected at least 1"),
        (1, 2, "gpu", "many", "--devices 'many': expected auto, a count, or GPU ids"),
        (0, 2, "cpu", True, "--devices True"),
    ],
)
def test_check_accelerator_names_the_option_and_what_there_is(
    machine, gpus, cores, accelerator, devices_, message
):
    machine(gpus=gpus, cores=cores)
    with pytest.raises(ConfigError, match=message):
        check_accelerator(accelerator, devices_)


def test_the_real_machine_answers_without_faking():
    assert devices.cpu_cores() >= 1 and devices.cuda_count() >= 0
    assert check_device("cpu") == "cpu"
    check_accelerator("cpu", 1)


@pytest.mark.parametrize(
    ("gpus", "accelerator", "device_text", "nodes", "processes"),
    [
        (0, "auto", "auto", 1, 1),  # the CPU: one process
        (0, "cpu", 2, 1, 2),
        (0, "cpu", "2", 2, 4),
        (4, "auto", "auto", 1, 4),  # every GPU
        (4, "gpu", -1, 1, 4),
        (4, "gpu", "0,2", 1, 2),
        (4, "gpu", "[1]", 1, 1),
        (4, "cpu", "auto", 1, 1),
    ],
)  # fmt: skip
def test_process_count_is_what_lightning_starts(machine, gpus, accelerator, device_text, nodes,
                                                processes):  # fmt: skip
    machine(gpus=gpus, cores=8)
    assert devices.process_count(accelerator, device_text, nodes) == processes
