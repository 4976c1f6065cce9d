"""Every figure the lessons commit, laid out by plotly.js in chromium: no axis runs off into emptiness.

plotly.js decides the axis ranges only when it draws; the committed JSON does not hold them. plotly's
``full_figure_for_development`` asks plotly.js (through kaleido and Debian's chromium) for the figure it
would draw, ranges included. A figure whose data fill only a sliver of an axis is broken: that is how
``add_hline(annotation_text=...)`` on a log axis once stretched lesson 2's wavelength chart to 10^248.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PLOTLY = "application/vnd.plotly.v1+json"


def _figures(path: Path) -> list[tuple[str, dict]]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for output in cell.get("outputs", []):
            if PLOTLY in output.get("data", {}):
                out.append((source.splitlines()[1] if "\n" in source else source, output["data"][PLOTLY]))
    return out


@pytest.fixture(scope="module")
def image_server():
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)
    yield
    kaleido.stop_sync_server(silence_warnings=True)


def _numbers(values) -> list[float]:
    if not isinstance(values, list):
        return []
    flat = [v for row in values for v in (row if isinstance(row, list) else [row])]
    numbers = [v for v in flat if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [float(v) for v in numbers if math.isfinite(v)]


def _axis_name(ref: str, letter: str) -> str:
    return f"{letter}axis{ref[1:]}"  # "y2" -> "yaxis2", "y" -> "yaxis"


def check_axes(full: dict) -> list[str]:
    """Problems with the drawn axes: a range that is not finite, or all the data on an axis filling
    under 5% of its range."""
    layout, values = full["layout"], {}
    for trace in full["data"]:
        if trace.get("type") not in ("scatter", "bar", None) or trace.get("visible") is False:
            continue
        for letter in "xy":
            numbers = _numbers(trace.get(letter))
            if numbers and trace.get("type") == "bar" and letter == "y":
                numbers.append(0.0)  # bars grow from 0
            values.setdefault(_axis_name(trace.get(f"{letter}axis", letter), letter), []).extend(numbers)
    problems = []
    for name, numbers in values.items():
        axis = layout.get(name, {})
        if not numbers or axis.get("type") not in ("linear", "log") or "range" not in axis:
            continue
        low, high = (float(v) for v in axis["range"])
        if not (math.isfinite(low) and math.isfinite(high)) or high == low:
            problems.append(f"{name} range {axis['range']}")
            continue
        if axis["type"] == "log":
            numbers = [math.log10(v) for v in numbers if v > 0]
        spread = max(numbers) - min(numbers)
        if spread > 0 and spread / abs(high - low) < 0.05:
            problems.append(
                f"{name}: the data fill {spread / abs(high - low):.1%} of it ({axis['type']}, range "
                f"{low:.3g}..{high:.3g})"
            )
    return problems


def test_the_axis_check_catches_the_log_axis_annotation_bug(image_server):
    import plotly.graph_objects as go

    broken = go.Figure(go.Bar(x=list(range(16)), y=[6.3 * 1.78**i for i in range(16)]))
    broken.add_hline(y=256, annotation_text="256 positions")  # plotly reads the text's y as log10(y)
    broken.update_layout(yaxis_type="log")
    assert check_axes(broken.full_figure_for_development(warn=False).to_plotly_json())
    fixed = go.Figure(broken.data).update_layout(yaxis_type="log")
    assert not check_axes(fixed.full_figure_for_development(warn=False).to_plotly_json())


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_every_lesson_figure_draws_with_sane_axes(path, image_server):
    import plotly.graph_objects as go

    figures = _figures(path)
    for where, spec in figures:
        full = go.Figure(spec).full_figure_for_development(warn=False).to_plotly_json()
        assert not check_axes(full), f"{path.name}, {where}: {check_axes(full)}"
