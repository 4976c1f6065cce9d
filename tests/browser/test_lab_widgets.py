"""The lessons as a learner sees them: JupyterLab in chromium, cells run from the Run menu."""

from __future__ import annotations

from pathlib import Path

import nbformat
from playwright.sync_api import expect

from tests.browser.lab import copy_clean, notebook_up_to, open_and_run, write_clean

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


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
    # The early merges are reachable one by one from the keyboard (the slider's stops are log-spaced).
    for step in (1, 2, 3):
        handle.press("ArrowRight")
        expect(caption_label).to_contain_text(f"after {step} of")
    # Any exact step can be typed.
    box = stepper.locator(".widget-text input").first
    box.fill("137")
    box.press("Enter")
    expect(caption_label).to_contain_text("after 137 of")


def test_lesson3_patch_viewer_follows_its_sliders(lab, page):
    lesson = ROOT / "notebooks" / "03_entropy_patching.ipynb"
    n_cells = notebook_up_to(lesson, "patch_viewer(", lab.root / "patching.ipynb")
    open_and_run(lab, page, "patching.ipynb", n_cells)
    viewer = page.locator(".widget-vbox").filter(has=page.locator(".widget-textarea")).last
    spans = viewer.locator(".widget-html span")
    markers = viewer.locator(".js-plotly-plot .scatterlayer .trace").first.locator(".point")
    expect(markers.first).to_be_attached()
    stats = viewer.locator(".widget-html").filter(has_text="bytes per patch")
    n_bytes = int(stats.inner_text().split("bytes")[1].split("·")[0])
    before = spans.count()
    assert 1 < before < n_bytes and markers.count() == before  # a calibrated threshold: real patches
    # The size slider shows the size on screen from the start.
    size = viewer.locator(".widget-slider").filter(has_text="bytes per patch").locator(".widget-readout")
    shown = stats.inner_text().split("bytes per patch")[1].split("·")[0].strip()
    assert float(size.inner_text()) == float(shown)

    handle = viewer.locator(".widget-slider").filter(has_text="threshold").locator(".noUi-handle").first
    handle.focus()
    handle.press("Home")  # threshold 0: every byte starts a patch
    expect(spans).to_have_count(n_bytes)
    expect(markers).to_have_count(n_bytes)
    expect(size).to_have_text("1.00")
    handle.press("End")  # the highest threshold: only the first patch is left
    expect(spans).to_have_count(1)
    expect(viewer.locator(".js-plotly-plot .gtitle")).to_contain_text("entropy: 1 patches")

    # Non-Latin samples are drawn as characters; a patch that starts inside a character is marked.
    handle.press("Home")
    viewer.locator(".widget-dropdown select").first.select_option(label="Russian")
    expect(viewer.locator(".widget-html").filter(has_text="cuts inside a character")).to_be_visible()
    text = "".join(spans.all_inner_texts())
    assert "‹" not in text and "Принимая" in text.replace("◦", "")
    assert viewer.locator(".widget-html span[style*='border-left']").count() > 0

    # The scheme buttons re-patch too: space patching cuts after each space-like byte.
    viewer.locator(".widget-toggle-button").get_by_text("space", exact=True).click()
    expect(viewer.locator(".js-plotly-plot .gtitle")).to_contain_text("space:")
    assert spans.count() > 1


def _angles(legend) -> dict[str, float]:
    """The explorer's legend entries "trained: 2.56 rad" and "scaled: 0.64 rad", as numbers."""
    entries = (t.split(": ") for t in legend.all_text_contents() if t.endswith(" rad"))
    return {name: float(value.removesuffix(" rad")) for name, value in entries}


def _overlaps(boxes: list[dict]) -> list[tuple[int, int]]:
    def meet(a, b):
        return not (
            a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
        )  # fmt: skip

    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if meet(boxes[i], boxes[j])]


def test_lesson2_rope_explorer_follows_its_controls(lab, page):
    page.set_viewport_size({"width": 1280, "height": 800})  # the size it must read well at
    lesson = ROOT / "notebooks" / "02_rope_long_context.ipynb"
    n_cells = notebook_up_to(lesson, "rope_explorer.rope_explorer(", lab.root / "rope.ipynb")
    open_and_run(lab, page, "rope.ipynb", n_cells)
    explorer = (
        page.locator(".widget-vbox")
        .filter(has=page.locator(".js-plotly-plot"))
        .filter(has=page.locator(".widget-dropdown"))
        .last
    )
    title = explorer.locator(".js-plotly-plot .gtitle")
    expect(title).to_have_text("RoPE explorer: yarn, factor 4")
    legend = explorer.locator(".js-plotly-plot .legendtext")
    expect(legend.filter(has_text="scaled:")).to_have_count(1)
    # Pair 8 at position 256 turns 256 / 100 = 2.56 rad; YaRN x4 interpolates this slow pair fully.
    angles = _angles(legend)
    assert angles["trained"] == 2.56 and abs(angles["scaled"] - 2.56 / 4) < 0.01

    # Laid out for 1280 x 800: no title overprints another, and the position slider has a real track.
    plot = ".js-plotly-plot .infolayer"
    texts = explorer.locator(f"{plot} text[class*='title'], .js-plotly-plot .annotation-text")
    boxes = [box for box in (t.bounding_box() for t in texts.all()) if box]
    assert len(boxes) >= 6, "3 subplot titles, 2 axis titles and the title"
    assert not _overlaps(boxes), [texts.all_text_contents()[i] for pair in _overlaps(boxes) for i in pair]
    track = explorer.locator(".widget-slider").filter(has_text="position").locator(".noUi-target")
    assert track.bounding_box()["width"] >= 400

    explorer.locator(".widget-dropdown select").first.select_option("none")
    expect(title).to_have_text("RoPE explorer: none, factor 4")
    expect(legend.filter(has_text="scaled:")).to_have_text("scaled: 2.56 rad")

    handle = explorer.locator(".widget-slider").filter(has_text="position").locator(".noUi-handle").first
    handle.focus()
    handle.press("Home")  # position 0: no pair turns at all
    expect(legend.filter(has_text="trained:")).to_have_text("trained: 0.00 rad")


BLT_TEXT = "Le renard. Всеобщая; 人人生而自由 — and a little more text past the cut."  # 48 bytes shown


def _dom_masks(explorer) -> dict:
    """The explorer's encoder and decoder heatmaps as plotly.js holds them in the page."""
    plot = explorer.locator(".js-plotly-plot").first
    rows = "z => Array.from(z, row => Array.from(row))"  # plain arrays, even if plotly.js holds typed ones
    return plot.evaluate(
        f"gd => ({{encoder: ({rows})(gd.data[2].z), decoder: ({rows})(gd.data[4].z), "
        "title: gd.layout.title.text})"
    )


def _check_shift(masks: dict, k: int = 2) -> int:
    """The masks the browser draws obey BLT's rules; returns the number of patches.

    Encoder ``[P * k, T]``: each byte is read by the k slots of exactly one patch, patches in order.
    Decoder (drawn bytes along x, ``[P * k, T]``): 2 or 3 = read, odd = the byte's own patch; byte t
    reads the patch just before the one holding byte t + 1 (the last byte's next byte is in the last patch).
    """
    encoder, decoder = masks["encoder"], masks["decoder"]
    slots, t_len = len(encoder), len(encoder[0])
    n_patches = slots // k
    own = []
    for t in range(t_len):
        rows = [s for s in range(slots) if encoder[s][t]]
        assert len(rows) == k and rows == list(range(rows[0], rows[0] + k)), (t, rows)
        own.append(rows[0] // k)
    assert own == sorted(own) and own[0] == 0
    for t in range(t_len):
        read = [s for s in range(slots) if decoder[s][t] >= 2]
        own_rows = [s for s in range(slots) if decoder[s][t] % 2 == 1]
        next_patch = own[t + 1] if t + 1 < t_len else n_patches - 1
        assert read == list(range((next_patch - 1) * k, next_patch * k)), (t, read, next_patch)
        assert own_rows == list(range(own[t] * k, own[t] * k + k))
    return n_patches


def test_lesson4_blt_explorer_follows_its_threshold(lab, page):
    page.set_viewport_size({"width": 1280, "height": 800})  # the size the explorer must read well at
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from bltlib.viz.blt_explorer import blt_explorer\n"
            f"explorer = blt_explorer({BLT_TEXT!r})\nexplorer"
        ),
        nbformat.v4.new_code_cell(
            "view = explorer.explored\n"
            'print(f"kernel: threshold {explorer.threshold.value:.2f}, {view.n_patches} patches")'
        ),
    ]
    n_cells = write_clean(notebook, lab.root / "blt.ipynb")
    open_and_run(lab, page, "blt.ipynb", n_cells)
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-textarea")).last
    title = explorer.locator(".js-plotly-plot .gtitle")
    expect(title).to_contain_text("BLT explorer: entropy, threshold")
    status = explorer.locator(".widget-html").filter(has_text="encoder mask")

    # First display: the slider shows the threshold the figure and the kernel use.
    slider = explorer.locator(".widget-slider").filter(has_text="threshold")
    readout = slider.locator(".widget-readout").inner_text().strip()
    expect(title).to_contain_text(f"threshold {readout}:")
    masks = _dom_masks(explorer)
    n_patches = _check_shift(masks)
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert f"kernel: threshold {readout}, {n_patches} patches" in outputs
    assert f"{n_patches} patches over 48 bytes, k=2 (first 48 of 88 bytes shown)" in masks["title"]
    # Non-Latin text is drawn as characters, one per character, never as hex.
    labels = explorer.locator(".js-plotly-plot .heatmaplayer text").all_text_contents()
    assert {"В", "с", "人", "由"} <= set(labels) and not any("0x" in s or "\\x" in s for s in labels)
    t_len = len(masks["encoder"][0])
    assert t_len == 49 and 2 < n_patches < t_len
    explorer.locator(".widget-textarea textarea").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "blt_explorer_1280x800.png"))  # as the lesson first shows it

    # The highest threshold: no byte starts a patch, so [BOS] | all the bytes (and the next one).
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    handle.press("End")
    expect(title).to_contain_text(": 2 patches")
    expect(status).to_contain_text("encoder mask 4 × 49")
    high = _dom_masks(explorer)
    assert _check_shift(high) == 2 and high["encoder"] != masks["encoder"]

    # Threshold 0: every byte starts a patch of its own, and the masks grow to (T + 1) * k slots.
    handle.press("Home")
    expect(title).to_contain_text("threshold 0.00: 50 patches")
    expect(status).to_contain_text("decoder mask 49 × 100")
    low = _dom_masks(explorer)
    assert _check_shift(low) == 50 and len(low["decoder"]) == 100

    # Static patches cut the 2- and 3-byte characters: the explorer says where.
    explorer.locator(".widget-dropdown select").first.select_option("static")
    expect(title).to_contain_text("static, 4 bytes per patch")
    expect(status).to_contain_text("cuts inside a character at")
    assert _check_shift(_dom_masks(explorer)) == 14  # [BOS], 12 patches of 4 bytes, the next byte's

    explorer.locator(".widget-dropdown select").first.select_option("entropy")
    expect(title).to_contain_text("threshold 0.00: 50 patches")
