"""Execute lesson and solution notebooks in place, as CI will check them, and rebuild the exercises.

    python scripts/execute_notebooks.py                     # every notebook
    python scripts/execute_notebooks.py notebooks/01_bpe.ipynb solutions/01_bpe.ipynb

Each notebook runs at the preset CI checks it at (``bltlib.config.committed_preset``: lessons at
``laptop``, solutions at ``ci``), from the repository root with a fresh kernel each. Every plotly figure
gets a static PNG beside its JSON (``bltlib.viz.render``; it needs chromium, and says when a figure went
without). Widget state is dropped (it holds megabytes of JS). Each solution then regenerates its
exercise twin in ``exercises/`` (see ``bltlib.exercises``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bltlib.config import committed_preset
from bltlib.exercises import make_exercise

ROOT = Path(__file__).resolve().parent.parent
# Every plotly figure gets a PNG beside its JSON, for readers without plotly.js (bltlib.viz.render).
STATIC_IMAGES = (
    "--IPKernelApp.exec_lines=from bltlib.viz.render import enable_static_images; enable_static_images()"
)


def figures_without_image(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "application/vnd.plotly.v1+json" in output.get("data", {}) and "image/png" not in output["data"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def execute(path: Path) -> float:
    os.environ["BLTLIB_SCALE"] = committed_preset(path)  # the kernel inherits it
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=[STATIC_IMAGES],
    ).execute()
    notebook.metadata.pop("widgets", None)
    missing = figures_without_image(notebook)
    if missing:
        print(f"  warning: {missing} plotly figure(s) without a static PNG (is chromium installed?)")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(paths: list[str]) -> None:
    targets = [Path(p).resolve() for p in paths] or sorted(
        [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]
    )
    for path in targets:
        seconds = execute(path)
        print(f"{path.relative_to(ROOT)}: executed in {seconds:.1f} s")
        if path.parent.name == "solutions":
            exercise = ROOT / "exercises" / path.name
            nbformat.write(nbformat.from_dict(make_exercise(nbformat.read(path, as_version=4))), exercise)
            print(f"  -> {exercise.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
