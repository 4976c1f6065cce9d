"""The patch viewer's plain functions and its widget, driven without a browser."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib import patching
from bltlib.bpe import RegexTokenizer
from bltlib.config import seed_everything
from bltlib.entropy import entropies, entropy_model_config
from bltlib.transformer import TransformerLM
from bltlib.viz.blt_explorer import CONTINUATION
from bltlib.viz.patch_viewer import patch_spans_html, patch_stats, patch_text, patch_viewer

TEXT = "The quick brown fox jumps over the lazy dog. Le renard brun saute; 狐狸跳过了懒狗。"


@pytest.fixture(scope="module")
def model():
    seed_everything(0)
    return TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=64)).eval()


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = RegexTokenizer()
    tokenizer.train(TEXT * 3, 300)
    return tokenizer


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=60), threshold=st.floats(0, 6), size=st.integers(1, 9))
def test_every_scheme_cuts_the_bytes_without_losing_any(text, threshold, size):
    data = text.encode("utf-8")
    e = np.random.default_rng(len(data)).uniform(0, 5, len(data) + 1)
    for scheme in ("static", "space", "entropy", "monotonic"):
        patches = patch_text(text, scheme, entropies=e, threshold=threshold, patch_size=size)
        assert b"".join(patches.patches) == data
        assert all(patches.lengths) and sum(patches.lengths) == len(data)
        assert patches.starts[0] == 0


def test_entropy_scheme_follows_the_library_rule_shifted_past_bos():
    e = np.array([0.3, 2.5, 0.2, 1.7, 0.1, 0.9, 3.0, 0.2])  # [BOS] + 7 bytes
    patches = patch_text("abcdefg", "entropy", entropies=e, threshold=1.0)
    library = patching.entropy_patch_starts(e, 1.0)  # token positions, BOS at 0
    assert patches.starts == [s - 1 for s in library[1:]]
    assert patches.patches == [b"a", b"bc", b"def", b"g"]


def test_static_and_space_and_bpe(tokenizer):
    assert patch_text("abcdefgh", "static", patch_size=3).lengths == [3, 3, 2]
    assert patch_text("to be or", "space").patches == [b"to ", b"be ", b"or"]
    bpe = patch_text(TEXT, "bpe", tokenizer=tokenizer)
    assert len(bpe.lengths) == len(tokenizer.encode_ordinary(TEXT))
    assert patch_stats(bpe, tokenizer)["BPE tokens"] == len(bpe.lengths)


def test_max_patch_length_splits_long_patches():
    assert patch_text("abcdefghij", "static", patch_size=10, max_patch_length=4).lengths == [4, 4, 2]


def test_bad_input_is_explained():
    with pytest.raises(TypeError, match="must be a str"):
        patch_text(b"bytes", "space")
    with pytest.raises(ValueError, match="empty"):
        patch_text("", "space")
    with pytest.raises(ValueError, match="unknown scheme 'words'"):
        patch_text("abc", "words")
    with pytest.raises(ValueError, match="needs entropies and a threshold"):
        patch_text("abc", "entropy")
    with pytest.raises(ValueError, match="expected 4 entropies"):
        patch_text("abc", "entropy", entropies=np.zeros(3), threshold=1.0)
    with pytest.raises(ValueError, match="needs a tokenizer"):
        patch_text("abc", "bpe")


def test_widget_threshold_slider_repatches_and_moves_the_markers(model, tokenizer):
    viewer = patch_viewer(model, TEXT, tokenizer=tokenizer, threshold=0.0)
    e = entropies(model, TEXT).numpy()
    spans_before, markers_before = viewer.spans.value, len(viewer.figure.data[1].x)
    assert markers_before == len(TEXT.encode("utf-8"))  # threshold 0: every byte starts a patch
    viewer.threshold.value = float(np.median(e))
    assert viewer.spans.value != spans_before
    expected = patch_text(TEXT, "entropy", entropies=e, threshold=viewer.threshold.value)
    assert list(viewer.figure.data[1].x) == expected.starts
    assert f"<b>patches</b> {len(expected.lengths)}" in viewer.stats.value
    assert viewer.figure.layout.shapes[0].y0 == viewer.threshold.value


def test_widget_target_size_calibrates_the_threshold(model):
    viewer = patch_viewer(model, TEXT)
    viewer.target.value = 5.0
    e = entropies(model, TEXT).numpy()
    assert viewer.threshold.value == pytest.approx(patching.calibrate_threshold(e, 5.0), abs=0.01)
    stats = patch_stats(patch_text(TEXT, "entropy", entropies=e, threshold=viewer.threshold.value))
    assert 3.5 < stats["bytes per patch"] < 7


def test_widget_follows_new_text_schemes_and_samples(model):
    viewer = patch_viewer(model, TEXT, samples={"short": "hello world"})
    assert "bpe" not in viewer.scheme.options  # no tokenizer given
    viewer.sample.value = "short"
    assert viewer.text.value == "hello world" and len(viewer.figure.data[0].y) == 11
    viewer.scheme.value = "space"
    assert "<b>patches</b> 2" in viewer.stats.value and not viewer.figure.layout.shapes
    viewer.text.value = ""
    assert "type some text" in viewer.spans.value


SAMPLES = {  # the scripts lesson 3's viewer offers, 2 and 3 bytes a character
    "Russian": "Принимая во внимание, что признание достоинства",
    "Hindi": "चूंकि मानव परिवार के सभी सदस्यों",
    "Chinese": "鉴于对人类家庭所有成员的固有尊严",
    "Korean": "모든 인류 구성원의 천부의 존엄성과",
}


def _span_texts(html: str) -> list[str]:
    import html as html_module

    return [html_module.unescape(part.rsplit(">", 1)[1]) for part in html.split("</span>")[:-1]]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_patches_show_characters_never_hex_and_mark_cuts_inside_a_character(name):
    text = SAMPLES[name]
    data = text.encode("utf-8")
    e = np.random.default_rng(0).uniform(0, 5, len(data) + 1)  # cuts fall anywhere, inside characters too
    patches = patch_text(text, "entropy", entropies=e, threshold=2.5)
    assert patches.cuts_inside_char, "the random entropies cut inside some character"
    html = patch_spans_html(patches)
    shown = _span_texts(html)
    assert len(shown) == len(patches.lengths)
    assert "‹" not in html and "\\x" not in html and not any("0x" in s for s in shown)
    # Every character appears once, in the patch holding its first byte; cut characters leave "◦" marks.
    # (a combining mark that opens a patch is drawn on a dotted circle)
    assert "".join(shown).replace(CONTINUATION, "").replace("·", " ").replace("◌", "") == text
    for start, piece in zip(patches.starts, shown, strict=True):
        assert piece.startswith(CONTINUATION) == (start in patches.cuts_inside_char)
    assert html.count("border-left:3px solid") == len(patches.cuts_inside_char)
    assert patch_stats(patches)["cuts inside a character"] == len(patches.cuts_inside_char)


def test_hovering_a_bar_names_the_character_not_its_hex(model):
    figure = patch_viewer(model, "Всё").figure
    assert list(figure.data[0].hovertext) == [
        "В (byte 1 of 2)", "В (byte 2 of 2)", "с (byte 1 of 2)", "с (byte 2 of 2)", "ё (byte 1 of 2)",
        "ё (byte 2 of 2)",
    ]  # fmt: skip


def test_the_figure_rings_the_starts_inside_a_character(model):
    viewer = patch_viewer(model, "Всё хорошо", threshold=0.0)  # every byte starts a patch
    starts, rings = viewer.figure.data[1].x, viewer.figure.data[2].x
    assert len(starts) == len("Всё хорошо".encode()) and list(rings) == [1, 3, 5, 8, 10, 12, 14, 16, 18]


def test_the_size_slider_shows_the_size_on_screen_from_the_start(model):
    viewer = patch_viewer(model, TEXT, threshold=float(np.median(entropies(model, TEXT).numpy())))
    assert viewer.target.value == pytest.approx(patch_stats(_shown(viewer))["bytes per patch"], abs=0.01)
    viewer.threshold.value = 0.0  # every byte: 1 byte per patch, and the slider follows
    assert viewer.target.value == 1.0
    viewer.scheme.value = "space"
    assert viewer.target.disabled and viewer.threshold.disabled
    viewer.scheme.value = "static"
    assert not viewer.target.disabled and viewer.threshold.disabled
    viewer.target.value = 6.0  # for static patches the slider sets the patch size
    assert _shown(viewer).lengths[:3] == [6, 6, 6]


def _shown(viewer):
    return viewer.current_patches()  # the patches on screen
