"""Notebook hygiene and the exercise/solution pairing (nbval itself checks the outputs)."""

import json
import re
from pathlib import Path

import pytest

from bltlib.exercises import BEGIN, PLACEHOLDER, make_exercise

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
EXECUTED = LESSONS + SOLUTIONS
LOCAL_PATHS = re.compile(r"(/work/|/root/|/home/\w+/|/tmp/)")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code" and _source(c).strip()]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_course_has_its_lessons():
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()
    assert {p.name for p in SOLUTIONS} == {p.name for p in EXERCISES}
    lesson_numbers = {p.name[:2] for p in LESSONS}
    for solution in SOLUTIONS:
        assert solution.name[:2] in lesson_numbers, f"{solution.name} has no lesson notebook"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS + EXERCISES, ids=_ids(LESSONS + SOLUTIONS + EXERCISES))
def test_notebook_metadata(path):
    notebook = _load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in notebook["metadata"], "strip widget state (it holds megabytes of JS)"
    assert path.stat().st_size < 3_000_000


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_lessons_and_solutions_are_committed_executed_and_clean(path):
    notebook = _load(path)
    cells = _code_cells(notebook)
    first = _source(cells[0])
    assert "NBVAL_IGNORE_OUTPUT" in first and "describe()" in first, (
        "first cell prints versions/device/preset"
    )
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, "every code cell is executed"
    assert counts == sorted(counts), "executed top to bottom in one run"
    for cell in cells:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"error output in cell: {_source(cell)[:80]}"
        text = json.dumps(cell["outputs"])
        match = LOCAL_PATHS.search(text)
        assert not match, f"an output leaks a local path ({match and match.group(0)}): {_source(cell)[:80]}"
    # Lessons open with what you will build and close with a summary.
    markdown = [_source(c) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    assert markdown and markdown[0].lstrip().startswith("#"), "a lesson opens with a title"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_exercise_is_its_solution_with_the_answers_taken_out(solution):
    exercise = _load(ROOT / "exercises" / solution.name)
    expected = make_exercise(_load(solution))
    assert [c["cell_type"] for c in exercise["cells"]] == [c["cell_type"] for c in expected["cells"]]
    for mine, theirs in zip(exercise["cells"], expected["cells"], strict=True):
        assert _source(mine) == _source(theirs), "run scripts/execute_notebooks.py to rebuild exercises/"
    sources = [_source(c) for c in _code_cells(exercise)]
    assert not any(BEGIN in s for s in sources), "a solution leaked into the exercise"
    todo = [i for i, s in enumerate(sources) if PLACEHOLDER in s]
    assert len(todo) >= 3, "an exercise notebook has at least three YOUR CODE HERE steps"
    for i in todo:
        following = sources[i : i + 3]
        assert any("checks." in s for s in following), f"YOUR CODE HERE cell {i} has no check cell after it"
    assert all(c["execution_count"] is None and not c["outputs"] for c in _code_cells(exercise))
