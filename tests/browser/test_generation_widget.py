"""The generation timeline as a learner sees it: JupyterLab in chromium, stepped by its slider and Play."""

from __future__ import annotations

import nbformat
from playwright.sync_api import expect

from tests.browser.lab import open_and_run, write_clean

NEW_BYTES = 40
CELL = (
    "from bltlib.blt import load_blt\n"
    "from bltlib.viz.generation_timeline import generation_timeline\n"
    "model = load_blt()\n"
    f"g = model.generate('It is a truth universally', {NEW_BYTES})\n"
    "timeline = generation_timeline(g, model)\n"
    "timeline"
)


def _shown_bytes(widget) -> int:
    """How many bytes the figure writes under its curve, as plotly.js holds its ``bytes`` trace."""
    return widget.locator(".js-plotly-plot").first.evaluate(
        "gd => gd.data.find(trace => trace.name === 'bytes').text.length"
    )


def _step(counters) -> int:
    """The step the counters line shows: N in "after N of 40 new bytes"."""
    return int(counters.inner_text().split("after ")[1].split(" of")[0])


def test_generation_timeline_follows_its_slider_and_play_button(lab, page):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    n_cells = write_clean(notebook, lab.root / "generation.ipynb")
    open_and_run(lab, page, "generation.ipynb", n_cells)

    widget = page.locator(".widget-vbox").filter(has=page.locator(".widget-play")).last
    counters = widget.locator(".widget-html").filter(has_text="prompt positions")
    title = widget.locator(".js-plotly-plot .gtitle")
    # It opens on the whole generation.
    expect(counters).to_contain_text(f"after {NEW_BYTES} of {NEW_BYTES} new bytes")
    expect(title).to_contain_text(f"after {NEW_BYTES} of {NEW_BYTES} new bytes")
    everything = _shown_bytes(widget)

    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("Home")  # back to the prompt alone
    expect(counters).to_contain_text(f"after 0 of {NEW_BYTES} new bytes")
    expect(title).to_contain_text("the prompt, read at once")
    assert _shown_bytes(widget) == everything - NEW_BYTES
    for step in (1, 2):
        handle.press("ArrowRight")
        expect(counters).to_contain_text(f"after {step} of {NEW_BYTES} new bytes")
        expect(title).to_contain_text(f"after {step} of {NEW_BYTES} new bytes")
    assert _shown_bytes(widget) == everything - NEW_BYTES + 2

    # Play advances the slider (and so the counters) on its own, one new byte at a time.
    play = widget.locator(".widget-play button").first
    play.click()
    for _ in range(300):  # up to 30 s
        if _step(counters) >= 6:
            break
        page.wait_for_timeout(100)
    play.click()  # pause
    assert _step(counters) >= 6, counters.inner_text()
    assert _shown_bytes(widget) > everything - NEW_BYTES + 2
