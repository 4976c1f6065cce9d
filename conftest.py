"""pytest configuration shared by the package tests and nbval.

nbval kernels inherit this process's environment, so the notebooks run at the ``ci`` preset: the
one their committed outputs were made with (``scripts/execute_notebooks.py``).
"""

import os

os.environ["BLTLIB_SCALE"] = "ci"
os.environ.setdefault("PYTHONHASHSEED", "0")
