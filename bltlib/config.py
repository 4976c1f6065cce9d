"""Scale presets, device choice and seeding: the knobs every lesson shares.

``BLTLIB_SCALE`` picks how big the work is, without changing the code path:

- ``ci``: tiny, so the whole course runs in CI on 2 CPU cores;
- ``laptop``: the default on a CPU machine, seconds to about a minute and a half per lesson;
- ``gpu``: real scale, the default when CUDA is available.

>>> pick(ci=10, laptop=300, gpu=5000, scale="ci")
10
"""

from __future__ import annotations

import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

SCALES = ("ci", "laptop", "gpu")
T = TypeVar("T")


def int_at_least(value: object, minimum: int) -> bool:
    """Whether ``value`` is an int (not a bool) of at least ``minimum``: what argument checks test.

    >>> int_at_least(3, 1), int_at_least(True, 1), int_at_least(2.0, 1), int_at_least(0, 1)
    (True, False, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def get_scale() -> str:
    """The preset in force: ``BLTLIB_SCALE`` if set, else ``ci`` under ``CI=true``, ``gpu`` with CUDA,
    else ``laptop``."""
    scale = os.environ.get("BLTLIB_SCALE", "").strip().lower()
    if scale:
        if scale not in SCALES:
            raise ValueError(f"BLTLIB_SCALE={scale!r} is not a preset; choose one of {', '.join(SCALES)}")
        return scale
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return "ci"
    return "gpu" if torch.cuda.is_available() else "laptop"


def pick(*, ci: T, laptop: T, gpu: T, scale: str | None = None) -> T:
    """Choose a size by preset: ``steps = pick(ci=20, laptop=400, gpu=5000)``."""
    scale = scale or get_scale()
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} is not a preset; choose one of {', '.join(SCALES)}")
    return {"ci": ci, "laptop": laptop, "gpu": gpu}[scale]


def committed_preset(notebook: str | os.PathLike) -> str:
    """The preset a notebook's committed outputs come from, and that CI re-executes it at.

    Lessons (``notebooks/``) are committed at ``laptop``; exercises and solutions at ``ci``.

    >>> committed_preset("notebooks/04_blt.ipynb"), committed_preset("solutions/04_blt.ipynb")
    ('laptop', 'ci')
    """
    path = os.fspath(notebook).replace(os.sep, "/")
    return "laptop" if "/notebooks/" in f"/{path}" else "ci"


def get_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when present (or ``prefer`` / ``BLTLIB_DEVICE`` if given), else ``cpu``."""
    name = prefer or os.environ.get("BLTLIB_DEVICE")
    if name:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for, but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a torch Generator seeded the same way."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def describe() -> str:
    """One line per fact a lesson prints first: versions, device, preset."""
    device = get_device()
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return "\n".join(
        [
            f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
            f"device: {device}{gpu}, threads: {torch.get_num_threads()}",
            f"BLTLIB_SCALE preset: {get_scale()}",
        ]
    )
