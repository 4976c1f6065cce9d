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

import argparse
import html
import os
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


def final_progress_text(notebook: nbformat.NotebookNode) -> None:
    """Give each progress bar's plain-text output the bar's final state. nbclient keeps the text a bar
    had when it was first displayed (``0%``, or wherever it stood), and readers without the widget state,
    which is dropped, see that text; the widget state holds the end (a tqdm bar is an HBox of a label, a
    progress bar and a counter)."""
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})

    def text(model_id: str) -> str | None:
        box = models.get(model_id, {})
        children = box.get("state", {}).get("children", [])
        parts = [models.get(child.removeprefix("IPY_MODEL_"), {}) for child in children]
        kinds = [part.get("model_name") for part in parts]
        if box.get("model_name") != "HBoxModel" or kinds != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
            return None
        label, bar, counter = (p["state"] for p in parts)
        filled = round(10 * bar["value"] / bar["max"]) if bar.get("max") else 0
        line = f"{label['value']}|{'#' * filled}{' ' * (10 - filled)}|{counter['value']}"
        return html.unescape(line).replace("\u2007", " ")

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            final = text(view["model_id"]) if view else None
            if final is not None:
                output["data"]["text/plain"] = final


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
    final_progress_text(notebook)
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", help="notebook paths (default: every lesson and solution)")
    main(parser.parse_args().notebooks)
