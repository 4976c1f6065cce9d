"""Notebook hygiene and the exercise/solution pairing (nbval itself checks the outputs)."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from bltlib.exercises import BEGIN, PLACEHOLDER, make_exercise
from tests.scripts import load_script

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


PROGRESS_BAR = re.compile(r"(\d+)%\|[# ]{10}\| *(\d+)/(\d+)")


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_committed_progress_bars_show_where_they_ended(path):
    # A bar left at the text it had when first shown (0%) says the cell never finished.
    for cell in _code_cells(_load(path)):
        for output in cell["outputs"]:
            if "application/vnd.jupyter.widget-view+json" not in output.get("data", {}):
                continue
            bar = PROGRESS_BAR.search("".join(output["data"].get("text/plain", "")))
            if bar:
                percent, done, total = map(int, bar.groups())
                assert percent == 100 and done == total, f"stale progress bar in: {_source(cell)[:80]}"


def test_the_executor_gives_progress_bars_their_final_text():
    executor = load_script("execute_notebooks")

    def model(name, **state):
        return {"model_name": name, "state": state}

    widgets = {
        "bar": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_c"]),
        "l": model("HTMLModel", value="train:\u2007100%"),
        "p": model("FloatProgressModel", value=250.0, max=250.0),
        "c": model("HTMLModel", value="\u2007250/250\u2007[00:39&lt;00:00]"),
        "fig": model("FigureModel"),
    }
    outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"text/plain": text, "application/vnd.jupyter.widget-view+json": {"model_id": model_id}},
        )
        for model_id, text in [("bar", "train:   0%|          | 0/250"), ("fig", "FigureWidget")]
    ]
    notebook = nbformat.v4.new_notebook(
        metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": widgets}}},
        cells=[nbformat.v4.new_code_cell(execution_count=1, outputs=outputs)],
    )
    executor.final_progress_text(notebook)
    bar, figure = (o["data"]["text/plain"] for o in notebook.cells[0].outputs)
    assert bar == "train: 100%|##########| 250/250 [00:39<00:00]"
    assert figure == "FigureWidget"


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


PLOTLY = "application/vnd.plotly.v1+json"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_figure_carries_a_static_image(path):
    # GitHub's notebook view and nbviewer draw no plotly JSON: each figure needs its PNG in the same
    # bundle (scripts/execute_notebooks.py adds it; nbval never compares images).
    for cell in _code_cells(_load(path)):
        for output in cell["outputs"]:
            data = output.get("data", {})
            if PLOTLY in data:
                assert "image/png" in data, f"a figure without a static PNG: {_source(cell)[:80]}"
                assert len(data["image/png"]) > 5_000, "the PNG is (nearly) empty"


def test_the_first_lesson_lists_only_the_lessons_that_exist():
    start = _load(ROOT / "notebooks" / "00_start_here.ipynb")
    table = _source(start["cells"][0])
    rows = re.findall(r"^\| (\d) \| `(\d\d_\w+)` \| (.*) \|$", table, flags=re.MULTILINE)
    assert len(rows) >= 5
    for _, name, what in rows:
        exists = (ROOT / "notebooks" / f"{name}.ipynb").exists()
        planned = "in preparation" in what
        assert exists != planned, f"lesson 0 lists {name} as {'planned' if planned else 'ready'}"


# Prose that quotes numbers, and the code cell whose output it quotes them from: every number in the
# prose must be printed there (at the preset the lesson is committed at), so the two cannot drift apart.
PROSE_QUOTES = [
    ("03_entropy_patching", "Static patches ignore words", "tokenizer = bpe.RegexTokenizer"),
    ("03_entropy_patching", "The English-trained tokenizer charges", "english_tokens = len("),
    ("02_rope_long_context", "Perplexity moves little once the fast pairs", "pairs kept  wavelength"),
    ("02_rope_long_context", "## 10. Three claims", "claims = ["),
    (
        "02_rope_long_context",
        "All three hold at the `laptop` preset",
        ("def show_table(", "show_table(\n", "n_trials = len(DEPTHS)"),
    ),
]
# 3.22, 1,117, 30%, 1.19x; not the 8 of UTF-8, nor 4L.
NUMBER = re.compile(
    r"(?<![\w.,-])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:%|x)?(?![\w-])"  # 1,117 and 627,072
    r"|(?<![\w.,-])\d+(?:\.\d+)?(?:%|x)?(?![\w-])"
)


def _section(markdown: str) -> str:
    """The prose of a markdown cell up to its next heading (without a heading on its first line)."""
    lines = markdown.splitlines()
    end = next((i for i, line in enumerate(lines) if i and line.startswith("#")), len(lines))
    return "\n".join(lines[1 if lines[0].startswith("#") else 0 : end])


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


def _cell_starting(notebook: dict, words: str, kind: str) -> dict:
    cells = [c for c in notebook["cells"] if c["cell_type"] == kind and words in _source(c)]
    assert len(cells) == 1, f"{len(cells)} {kind} cells contain {words!r}"
    return cells[0]


@pytest.mark.parametrize(
    ("lesson", "prose", "code"), PROSE_QUOTES, ids=[f"{n}:{p}" for n, p, _ in PROSE_QUOTES]
)
def test_numbers_in_the_prose_are_printed_by_the_cell_it_describes(lesson, prose, code):
    notebook = _load(ROOT / "notebooks" / f"{lesson}.ipynb")
    quoted = set(NUMBER.findall(_section(_source(_cell_starting(notebook, prose, "markdown")))))
    codes = (code,) if isinstance(code, str) else code
    printed = {n for c in codes for n in NUMBER.findall(_output_text(_cell_starting(notebook, c, "code")))}
    assert quoted, "no numbers found in the prose: is this check still needed?"
    assert quoted <= printed, f"the prose quotes {sorted(quoted - printed)}, which the output does not print"


def test_lesson3_quotes_lesson1s_bytes_per_token():
    lesson1 = _load(ROOT / "notebooks" / "01_bpe.ipynb")
    output = _output_text(_cell_starting(lesson1, 'for corpus in ("austen", "code"):', "code"))
    per_token = float(re.search(r"austen: .*, ([\d.]+) bytes per token", output).group(1))
    intro = _source(_load(ROOT / "notebooks" / "03_entropy_patching.ipynb")["cells"][0])
    assert f"English takes about {per_token:.1f} bytes per BPE token" in intro


def test_lesson2_describes_the_model_it_loads():
    notebook = _load(ROOT / "notebooks" / "02_rope_long_context.ipynb")
    prose = _source(_cell_starting(notebook, "is a 3-layer byte-level transformer", "markdown"))
    output = _output_text(_cell_starting(notebook, "model = longctx.load_lm(", "code"))
    printed = re.search(r"^([\d,]+) parameters", output, re.M).group(1)
    assert f"{printed} parameters" in prose
    tied = "--tie-embeddings" in output  # the training command, from the model card
    assert ("embeddings tied" in prose) == tied
