"""pytest configuration shared by the package tests and nbval.

nbval kernels inherit this process's environment, so each notebook's kernel is started at the preset
its committed outputs were made with (``bltlib.config.committed_preset``, as in
``scripts/execute_notebooks.py``): lessons at ``laptop``, exercises and solutions at ``ci``.
"""

import os
from pathlib import Path

import pytest

from bltlib.config import committed_preset

os.environ["BLTLIB_SCALE"] = "ci"
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Runs before the notebook's kernel starts (nbval starts it when its first cell is set up).
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        os.environ["BLTLIB_SCALE"] = committed_preset(path)
