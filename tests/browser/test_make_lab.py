"""`make lab` as a learner starts it: the whole course in the file browser, lesson 0 open, no noise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.lab import MakeLab, wait_idle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_lab(tmp_path):
    # JupyterLab checkpoints each notebook it opens into a .ipynb_checkpoints folder beside it (git
    # ignores them): remove the ones this test makes, so the test leaves the repository as it found it.
    before = set(ROOT.glob("*/.ipynb_checkpoints"))
    server = MakeLab(tmp_path, ROOT)
    server.start(timeout=180)  # make may first (re)install the package
    yield server
    server.stop()
    for folder in set(ROOT.glob("*/.ipynb_checkpoints")) - before:
        shutil.rmtree(folder, ignore_errors=True)


def _listing(page) -> list[str]:
    return page.locator(".jp-DirListing-content .jp-DirListing-itemText").all_inner_texts()


def test_make_lab_serves_the_repository_and_opens_an_exercise(make_lab, page):
    page.goto(f"{make_lab.base}/?token={make_lab.token}", wait_until="domcontentloaded")
    # The default URL opens lesson 0 ...
    expect(page.locator(".lm-TabBar-tabLabel").filter(has_text="00_start_here.ipynb")).to_be_visible()
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    wait_idle(page)
    # ... and the file browser reaches the whole repository, not only notebooks/.
    page.locator(".jp-BreadCrumbs-home").click()
    expect(page.locator(".jp-DirListing-content").get_by_text("exercises", exact=True)).to_be_visible()
    assert {"notebooks", "exercises", "solutions", "README.md"} <= set(_listing(page))

    page.locator(".jp-DirListing-content").get_by_text("exercises", exact=True).dblclick()
    item = page.locator(".jp-DirListing-content").get_by_text("01_bpe.ipynb", exact=True)
    expect(item).to_be_visible()
    item.dblclick()
    tab = page.locator(".lm-TabBar-tabLabel").filter(has_text="01_bpe.ipynb")
    expect(tab).to_be_visible()
    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-Cell").filter(has_text="YOUR CODE HERE").first).to_be_attached()
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("exercises")

    # No "get notified about Jupyter news?" toast, nor any other notification.
    page.wait_for_timeout(3000)
    assert page.locator(".Toastify__toast").count() == 0
    assert "outside root" not in page.content()
