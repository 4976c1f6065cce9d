"""The lessons as a learner sees them: JupyterLab in chromium, cells run from the Run menu."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.lab import copy_clean, run_all_cells, wait_idle

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
