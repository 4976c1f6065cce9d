"""The lessons as a learner sees them: JupyterLab in chromium, cells run from the Run menu."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.lab import copy_clean, notebook_up_to, run_all_cells, wait_idle

ROOT = Path(__file__).resolve().parents[2]


def open_and_run(lab, page, notebook: str, n_code_cells: int) -> None:
    lab.open_session(notebook)
    page.goto(lab.url(notebook), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    wait_idle(page)
    run_all_cells(page, n_code_cells)


def test_start_here_runs_and_renders_its_chart(lab, page):
    n_cells = copy_clean(ROOT / "notebooks" / "00_start_here.ipynb", lab.root / "start.ipynb")
    open_and_run(lab, page, "start.ipynb", n_cells)
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "[OK] torch" in outputs and "[FAIL]" not in outputs
    assert "✓ n_bytes: all 2 cases pass" in outputs
    expect(page.locator(".js-plotly-plot .bars path").first).to_be_attached()
    assert page.locator(".js-plotly-plot .bars path").count() == 19  # one bar per UDHR language


def _span_texts(page, scope) -> list[str]:
    return scope.locator(".widget-html span").all_inner_texts()


def test_bpe_merge_stepper_follows_its_slider(lab, page):
    n_cells = notebook_up_to(ROOT / "notebooks" / "01_bpe.ipynb", "merge_stepper(", lab.root / "bpe.ipynb")
    open_and_run(lab, page, "bpe.ipynb", n_cells)
    stepper = page.locator(".widget-vbox").filter(has=page.locator(".widget-slider")).last
    expect(stepper.locator(".widget-html span").first).to_be_visible()
    merged = _span_texts(page, stepper)
    caption_label = stepper.locator(".widget-label").filter(has_text="merges:")  # not the slider's own label
    caption = caption_label.inner_text()
    assert caption.startswith("after ") and f"{len(merged)} tokens" in caption

    handle = stepper.locator(".noUi-handle").first
    handle.focus()
    handle.press("Home")  # back to 0 merges: one span per byte
    expect(caption_label).to_contain_text("after 0 of")
    raw = _span_texts(page, stepper)
    assert len(raw) > len(merged), "undoing every merge gives more, shorter tokens"
    caption = caption_label.inner_text()
    assert f"{len(raw)} tokens for {len(raw)} bytes" in caption, "0 merges: one span per byte"


def test_lesson3_patch_viewer_follows_its_sliders(lab, page):
    lesson = ROOT / "notebooks" / "03_entropy_patching.ipynb"
    n_cells = notebook_up_to(lesson, "patch_viewer(", lab.root / "patching.ipynb")
    open_and_run(lab, page, "patching.ipynb", n_cells)
    viewer = page.locator(".widget-vbox").filter(has=page.locator(".widget-textarea")).last
    spans = viewer.locator(".widget-html span")
    markers = viewer.locator(".js-plotly-plot .scatterlayer .point")
    expect(markers.first).to_be_attached()
    stats = viewer.locator(".widget-html").filter(has_text="bytes per patch")
    n_bytes = int(stats.inner_text().split("bytes")[1].split("·")[0])
    before = spans.count()
    assert 1 < before < n_bytes and markers.count() == before  # a calibrated threshold: real patches

    handle = viewer.locator(".widget-slider").filter(has_text="threshold").locator(".noUi-handle").first
    handle.focus()
    handle.press("Home")  # threshold 0: every byte starts a patch
    expect(spans).to_have_count(n_bytes)
    expect(markers).to_have_count(n_bytes)
    handle.press("End")  # the highest threshold: only the first patch is left
    expect(spans).to_have_count(1)
    expect(viewer.locator(".js-plotly-plot .gtitle")).to_contain_text("entropy: 1 patches")

    # The scheme buttons re-patch too: space patching cuts after each space-like byte.
    viewer.locator(".widget-toggle-button").get_by_text("space", exact=True).click()
    expect(viewer.locator(".js-plotly-plot .gtitle")).to_contain_text("space:")
    assert spans.count() > 1


def _angles(legend) -> dict[str, float]:
    """The explorer's legend entries "trained: 2.56 rad" and "scaled: 0.64 rad", as numbers."""
    entries = (t.split(": ") for t in legend.all_text_contents() if t.endswith(" rad"))
    return {name: float(value.removesuffix(" rad")) for name, value in entries}


def test_lesson2_rope_explorer_follows_its_controls(lab, page):
    lesson = ROOT / "notebooks" / "02_rope_long_context.ipynb"
    n_cells = notebook_up_to(lesson, "rope_explorer.rope_explorer(", lab.root / "rope.ipynb")
    open_and_run(lab, page, "rope.ipynb", n_cells)
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-dropdown")).last
    title = explorer.locator(".js-plotly-plot .gtitle")
    expect(title).to_have_text("RoPE explorer: yarn, factor 4")
    legend = explorer.locator(".js-plotly-plot .legendtext")
    expect(legend.filter(has_text="scaled:")).to_have_count(1)
    # Pair 8 at position 256 turns 256 / 100 = 2.56 rad; YaRN x4 interpolates this slow pair fully.
    angles = _angles(legend)
    assert angles["trained"] == 2.56 and abs(angles["scaled"] - 2.56 / 4) < 0.01

    explorer.locator(".widget-dropdown select").first.select_option("none")
    expect(title).to_have_text("RoPE explorer: none, factor 4")
    expect(legend.filter(has_text="scaled:")).to_have_text("scaled: 2.56 rad")

    handle = explorer.locator(".widget-slider").filter(has_text="position").locator(".noUi-handle").first
    handle.focus()
    handle.press("Home")  # position 0: no pair turns at all
    expect(legend.filter(has_text="trained:")).to_have_text("trained: 0.00 rad")
