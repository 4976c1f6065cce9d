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
from bltlib.viz.patch_viewer import patch_stats, patch_text, patch_viewer

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
