"""The device options every command shares, checked once against this machine: ``--device``
(predict, evaluate) and ``--accelerator`` with ``--devices`` (train).

An option naming hardware the machine lacks is a :class:`~seglab.errors.ConfigError` that names
the option and says what is there, before any data is read -- not an error from deep inside
PyTorch or Lightning half-way through a run. torch is imported inside the functions, so the
module stays light.

>>> check_device("cpu")
'cpu'
"""

from __future__ import annotations

import os
import re

from seglab.errors import ConfigError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
"""``--accelerator`` values (Lightning's names; ``gpu`` and ``cuda`` are the same)."""


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity on Linux, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cuda_count() -> int:
    """The CUDA GPUs PyTorch sees (0 without a driver or a CUDA build)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def mps_available() -> bool:
    """Whether PyTorch can use Apple's Metal GPU (MPS)."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available() -> str:
    """What this machine has, in words: ``cpu (2 cores)``, ``cpu (16 cores), cuda:0, cuda:1``."""
    found = [f"cpu ({cpu_cores()} cores)"]
    found += [f"cuda:{i}" for i in range(cuda_count())]
    if mps_available():
        found.append("mps")
    return ", ".join(found)


def check_device(device: str | None, *, option: str = "--device") -> str:
    """The torch device to run on: ``device`` if this machine has it, else
    :class:`ConfigError` naming ``option`` and what is available; ``None`` is ``cuda`` when
    there is a GPU and ``cpu`` otherwise.

    Accepted: ``cpu``, ``cuda``, ``cuda:N``, ``gpu`` (as ``cuda``), ``mps``.
    """
    count = cuda_count()
    if device is None:
        return "cuda" if count else "cpu"
    text = str(device).strip().lower()
    if text == "gpu":
        text = "cuda"
    match = re.fullmatch(r"(cpu|cuda|mps)(?::(\d+))?", text)
    if match is None or (match.group(1) != "cuda" and match.group(2) not in (None, "0")):
        raise ConfigError(
            f"{option} {device!r}: expected cpu, cuda, cuda:N or mps; this machine has "
            f"{available()}"
        )
    kind, index = match.group(1), match.group(2)
    if kind == "cuda" and count == 0:
        raise ConfigError(
            f"{option} {device}: PyTorch sees no CUDA GPU on this machine (no driver, or a "
            f"CPU-only PyTorch); it has {available()}: use {option} cpu or leave it out"
        )
    if kind == "cuda" and index is not None and int(index) >= count:
        raise ConfigError(
            f"{option} {device}: this machine has {count} CUDA GPU(s), cuda:0 to "
            f"cuda:{count - 1}; it has {available()}"
        )
    if kind == "mps" and not mps_available():
        raise ConfigError(f"{option} {device}: no Apple MPS device here; it has {available()}")
    return text


def check_accelerator(accelerator: str, devices: int | str) -> None:
    """Refuse an ``--accelerator`` / ``--devices`` pair this machine cannot run, naming the
    option and what is available: an unknown accelerator, a GPU that is not there, more GPUs
    than there are, GPU ids that do not exist, or -- on the CPU, where each device is a
    training process (DDP) -- more processes than cores, or ids."""
    name = str(accelerator).strip().lower()
    if name not in ACCELERATORS:
        raise ConfigError(
            f"--accelerator {accelerator!r}: choose one of {', '.join(ACCELERATORS)}; this "
            f"machine has {available()}"
        )
    gpus = cuda_count()
    if name in ("gpu", "cuda") and gpus == 0:
        raise ConfigError(
            f"--accelerator {accelerator}: PyTorch sees no CUDA GPU on this machine (no driver, "
            f"or a CPU-only PyTorch); it has {available()}: use --accelerator cpu or auto"
        )
    if name == "mps" and not mps_available():
        raise ConfigError(
            f"--accelerator mps: no Apple MPS device here; it has {available()}: use "
            "--accelerator cpu or auto"
        )
    on_gpu = name in ("gpu", "cuda") or (name == "auto" and gpus > 0)
    if on_gpu:
        _check_gpu_devices(devices, gpus)
    elif name in ("cpu", "auto"):
        _check_cpu_devices(devices, cpu_cores())


def process_count(accelerator: str, devices: int | str, num_nodes: int = 1) -> int:
    """How many training processes Lightning starts for ``accelerator`` and ``devices`` on
    each of ``num_nodes`` machines (more than one: DDP). ``auto`` and ``-1`` on GPUs are all of
    them; ``auto`` on the CPU is one process."""
    value = _device_words(devices)
    name = str(accelerator).strip().lower()
    gpus = cuda_count()
    on_gpu = name in ("gpu", "cuda") or (name == "auto" and gpus > 0)
    if value in ("auto", -1):
        count = max(gpus, 1) if on_gpu else (cpu_cores() if value == -1 else 1)
    elif isinstance(value, int):
        count = value
    else:
        count = len(_ids(value) or [0])
    return max(count, 1) * max(int(num_nodes), 1)


def _device_words(devices: int | str) -> int | str:
    """``devices`` as Lightning reads it: a count (``"2"`` too), ``"auto"``, ``-1`` (all),
    or the text of an id list (``"0,1"``, ``"[0, 1]"``)."""
    if isinstance(devices, bool):
        raise ConfigError(f"--devices {devices!r}: expected auto, a count, or GPU ids like 0,1")
    if isinstance(devices, int):
        return devices
    text = str(devices).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text.lower()


def _ids(text: str) -> list[int] | None:
    """GPU ids from ``"0,1"`` or ``"[0, 1]"``; ``None`` when ``text`` is not such a list."""
    inner = text.strip("[]() ")
    parts = [p.strip() for p in inner.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _check_gpu_devices(devices: int | str, gpus: int) -> None:
    value = _device_words(devices)
    if value in ("auto", -1):
        return
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"--devices {value}: expected at least 1 (or auto, or -1 for all)")
        if value > gpus:
            raise ConfigError(
                f"--devices {value}: this machine has {gpus} CUDA GPU(s) ({available()}); use "
                f"--devices {gpus} or fewer"
            )
        return
    ids = _ids(value)
    if ids is None:
        raise ConfigError(f"--devices {devices!r}: expected auto, a count, or GPU ids like 0,1")
    wrong = [i for i in ids if i >= gpus]
    if wrong:
        raise ConfigError(
            f"--devices {devices}: there is no GPU {', '.join(map(str, wrong))}; this machine "
            f"has {available()}"
        )


def _check_cpu_devices(devices: int | str, cores: int) -> None:
    value = _device_words(devices)
    if value == "auto":
        return
    if isinstance(value, int) and value >= 1:
        if value > cores:
            # each CPU "device" is a whole training process: more than the cores only slows the
            # run down (and Lightning starts them without a word)
            raise ConfigError(
                f"--devices {value}: on the CPU each device is a training process, and this "
                f"machine has {cores} core(s); use --devices {cores} or fewer (1 is usually "
                "fastest on a CPU)"
            )
        return
    raise ConfigError(
        f"--devices {devices}: on the CPU --devices is a number of processes from 1 to {cores} "
        f"(this machine has {available()}; GPU ids need a GPU)"
    )
