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


VIEWER_CELLS = [
    "from bltlib.config import seed_everything\n"
    "from bltlib.entropy import entropy_model_config\n"
    "from bltlib.transformer import TransformerLM\n"
    "from bltlib.viz.patch_viewer import patch_viewer\n"
    "seed_everything(0)\n"
    "model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=64)).eval()",
    "patch_viewer(model, 'It is a truth universally acknowledged, that a single man', threshold=0.0)",
]


def test_patch_viewer_threshold_slider_changes_patches_and_plot(lab, page):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in VIEWER_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lab.root / "viewer.ipynb")
    open_and_run(lab, page, "viewer.ipynb", len(VIEWER_CELLS))
    spans = page.locator(".widget-html span")
    markers = page.locator(".js-plotly-plot .scatterlayer .point")
    expect(markers.first).to_be_attached()
    n_bytes = len("It is a truth universally acknowledged, that a single man")
    assert spans.count() == n_bytes and markers.count() == n_bytes  # threshold 0: every byte is a patch

    handle = page.locator(".widget-slider").filter(has_text="threshold").locator(".noUi-handle").first
    handle.focus()
    handle.press("End")  # the highest threshold: only the forced first patch is left
    expect(spans).to_have_count(1)
    expect(markers).to_have_count(1)
    expect(page.locator(".js-plotly-plot .gtitle")).to_contain_text("entropy: 1 patches")
