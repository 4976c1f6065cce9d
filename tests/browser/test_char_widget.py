"""Lesson 5's answers widget as a learner sees it: JupyterLab in chromium, a word typed and sent with
Enter or the button. The models are fakes defined in the cell, so nothing is trained or loaded."""

from __future__ import annotations

import nbformat
from playwright.sync_api import expect

from tests.browser.lab import open_and_run, write_clean

CELL = """from bltlib.viz.char_views import answers_widget

class Reverser:
    name = "reverser"
    def answer(self, prompts, max_new=None):
        return [" " + p.split("\\n")[0].rsplit(" ", 1)[-1][::-1] for p in prompts]

class AlwaysYes:
    name = "always_yes"
    def answer(self, prompts, max_new=None):
        return [" Yes"] * len(prompts)

answers = answers_widget([Reverser(), AlwaysYes()], word="house")
answers"""


def test_answers_widget_answers_the_typed_word(lab, page):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    n_cells = write_clean(notebook, lab.root / "char_answers.ipynb")
    open_and_run(lab, page, "char_answers.ipynb", n_cells)

    widget = page.locator(".widget-vbox").filter(has=page.locator(".widget-text")).last
    table = widget.locator(".widget-html table")
    status = widget.locator(".widget-html").filter(has_text="questions").first
    # It opens on the word it was given: one row per task, the models as columns, a total row.
    expect(table).to_contain_text("Reverse the word: house")
    expect(table.locator("th")).to_have_text(["task", "question", "right answer", "reverser", "always_yes"])
    expect(table.locator("tbody tr")).to_have_count(11)
    expect(status).to_contain_text("house: 10 questions")

    box = widget.locator(".widget-text input").first
    box.fill("strawberry")
    box.press("Enter")
    expect(table).to_contain_text("Reverse the word: strawberry")
    row = table.locator("tbody tr").filter(has_text="Reverse the word")
    expect(row).to_contain_text("✓ yrrebwarts")  # the reverser is right on reverse
    expect(row).to_contain_text("✗ Yes")
    expect(table).not_to_contain_text("house")

    # A word that is not lowercase a-z: a message, no table.
    box.fill("Straw Berry")
    box.press("Enter")
    expect(widget).to_contain_text("lowercase letters a-z")
    expect(table).to_have_count(0)

    # The button asks about the word in the box.
    box.fill("cat")
    widget.locator("button").filter(has_text="ask the models").click()
    expect(table.locator("tbody tr").filter(has_text="Reverse the word: cat")).to_contain_text("✓ tac")
    expect(widget.locator(".widget-html").filter(has_text="questions").first).to_contain_text("cat: ")
