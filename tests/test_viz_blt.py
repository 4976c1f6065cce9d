"""The BLT explorer's plain functions, its figure and its widget, driven without a browser."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib import blt, patching
from bltlib.data import encode_bytes
from bltlib.viz.blt_explorer import (
    CONTINUATION,
    MAX_THRESHOLD,
    NEXT,
    PAD,
    SCHEMES,
    blt_explorer,
    byte_labels,
    default_threshold,
    explore,
    explorer_figure,
    shown_text,
    status_html,
    text_entropies,
)

TEXT = "The quick brown fox jumps over the lazy dog."
NON_LATIN = {
    "russian": "Всеобщая декларация",
    "chinese": "人人生而自由",
    "korean": "모든 인간은 태어날 때부터",
    "hindi": "सभी मनुष्यों को गौरव",
}


@pytest.fixture(scope="module")
def text_e():
    return text_entropies(TEXT)


def _check_masks(view):
    """The view's ids and masks are bltlib.blt's, for its own patch lengths."""
    lengths = torch.tensor([view.lengths])
    t_len, n_patches, k = view.n_positions, view.n_patches, view.k
    assert sum(view.lengths) == t_len + 1 and view.lengths[0] == 1  # [BOS] alone; the next byte included
    pids = blt.patch_ids(lengths, t_len)
    dec = blt.decoder_patch_ids(lengths, t_len)
    assert torch.equal(view.patch_ids, pids[0]) and torch.equal(view.decoder_ids, dec[0])
    assert torch.equal(view.encoder_mask, blt.encoder_cross_mask(pids, n_patches, k)[0])
    assert torch.equal(view.decoder_mask, blt.decoder_cross_mask(dec, n_patches, k)[0])
    assert view.encoder_mask.shape == (n_patches * k, t_len)
    assert view.decoder_mask.shape == (t_len, n_patches * k)
    # Every byte is read by the k slots of its patch, and reads k slots of the latent output.
    assert view.encoder_mask.sum(0).tolist() == [k] * t_len
    assert view.decoder_mask.sum(1).tolist() == [k] * t_len
    # The one-patch shift: position t reads the patch before the one holding byte t + 1.
    own_next = [*view.patch_ids[1:].tolist(), n_patches - 1]
    assert view.decoder_ids.tolist() == [j - 1 for j in own_next]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_masks_are_bltlibs_for_every_scheme(scheme, text_e):
    view = explore(TEXT, scheme, threshold=1.0, patch_size=3, k=2, entropies=text_e)
    _check_masks(view)
    assert view.ids.tolist() == encode_bytes(TEXT).tolist()
    assert "".join(view.patch_strings) == "".join(view.labels) + NEXT


def test_patches_are_the_patchers(text_e):
    ids = encode_bytes(TEXT)[None]
    for scheme, patcher, e in (
        ("entropy", patching.Patcher("entropy", threshold=1.7), text_e[None]),
        ("monotonic", patching.Patcher("entropy", threshold=0.4, monotonic=True), text_e[None]),
        ("space", patching.Patcher("space"), None),
        ("static", patching.Patcher("static", patch_size=5), None),
    ):
        view = explore(TEXT, scheme, threshold=patcher.threshold, patch_size=5, entropies=text_e)
        assert view.lengths == patcher.lengths(ids, e)[0].tolist(), scheme
    # Without entropies, the shipped entropy model computes them.
    assert torch.equal(explore(TEXT).entropies, text_e)


def test_raising_the_threshold_never_adds_patches_and_shrinks_the_masks(text_e):
    previous = None
    t_len = len(TEXT.encode()) + 1
    for threshold in np.linspace(0, MAX_THRESHOLD, 15):
        view = explore(TEXT, threshold=float(threshold), k=3, entropies=text_e)
        _check_masks(view)
        if previous is not None:
            assert view.n_patches <= previous.n_patches
        assert view.encoder_mask.shape == (3 * view.n_patches, t_len)
        previous = view
    assert explore(TEXT, threshold=0.0, entropies=text_e).n_patches == t_len + 1  # every position starts
    assert previous.n_patches == 2 and previous.lengths == [1, t_len]  # [BOS] | all the bytes + next


def test_default_threshold_is_calibrated_and_rounded_to_the_slider_step(text_e):
    view = explore(TEXT, entropies=text_e)
    expected = round(patching.calibrate_threshold(text_e, 4.5), 2)
    assert view.threshold == expected == default_threshold(text_e)
    assert 3 < (len(TEXT.encode()) + 1) / view.n_patches < 6.5


@pytest.mark.parametrize("language", NON_LATIN)
def test_non_latin_bytes_are_labelled_as_characters(language):
    view = explore(NON_LATIN[language], "static", patch_size=2)
    text = view.text  # the first MAX_BYTES bytes, whole characters
    assert NON_LATIN[language].startswith(text) and len(text) >= 6
    data = text.encode("utf-8")
    assert len(view.labels) == len(data) + 1 and view.labels[0] == "BOS"
    heads = [label for label in view.labels[1:] if label != CONTINUATION]
    assert len(heads) == len(text)
    assert view.labels[1:].count(CONTINUATION) == len(data) - len(text)
    # Each character's label is the character (space made visible, a combining mark on a dotted circle).
    for ch, label in zip(text, heads, strict=True):
        assert label in (ch, "·", "◌" + ch), (ch, label)
    labels = "".join(view.labels)
    assert "0x" not in labels and "\\x" not in labels
    assert not any(ch in labels for ch in "‹›\ufffd")  # no hex pieces, no replacement marks
    strip = explorer_figure(view).data[0].text[0]
    assert list(strip[1:-1]) == view.labels[1:] and strip[-1] == NEXT


def test_byte_labels_make_whitespace_and_controls_visible():
    assert byte_labels("a b\n\t\x07é") == ["a", "·", "b", "↵", "→", "␇", "é", CONTINUATION]
    assert byte_labels("😀") == ["😀", CONTINUATION, CONTINUATION, CONTINUATION]
    assert byte_labels("\u200d") == ["U+200D", CONTINUATION, CONTINUATION]


def test_cuts_inside_a_character_are_flagged():
    # Static patches of 2 bytes cut every 3-byte CJK character somewhere inside.
    view = explore("人人", "static", patch_size=2)  # positions: BOS, 人 at 1-3, 人 at 4-6
    assert view.starts == [0, 1, 3, 5, 7]
    assert view.cuts_inside_char == [3, 5]
    assert explore("abc de", "static", patch_size=1).cuts_inside_char == []
    # Space patching ends a patch after a lead byte (>= 0xC0 is not alphanumeric) that follows a
    # non-space-like byte: "с" (positions 3-4) and "ё" (5-6) are cut in two.
    assert explore("Всё", "space").cuts_inside_char == [4, 6]
    # The figure draws those cuts in red, the others in black.
    fig = explorer_figure(view)
    strip_lines = [s for s in fig.layout.shapes if s.xref == "x"]
    assert [s.x0 + 0.5 for s in strip_lines if s.line.color != "black"] == [3, 5]
    assert len(strip_lines) == view.n_patches - 1
    assert "cuts inside a character at 3, 5" in status_html(view)


def test_hash_buckets_are_hash_ngram_ids():
    view = explore(TEXT, "space", position=7, hash_vocab=500, hash_function=2)
    assert [h.n for h in view.hashes] == [3, 4, 5, 6, 7, 8]
    for h in view.hashes:
        expected = blt.hash_ngram_ids(view.ids[None], h.n, 500, func=2)[0, 7]
        assert h.bucket == int(expected) and 0 <= h.bucket < 500
        assert h.ngram_ids == view.ids[8 - h.n : 8].tolist()
    assert view.hashes[0].ngram == "qui"  # positions 5-7: BOS, "T", "h", "e", " ", "q", "u", "i"
    # Near the start, the window is padded with zeros, shown as PAD.
    early = explore("人生", "space", position=2, ngram_sizes=(3, 5))
    assert early.hashes[0].ngram_ids == [1, int(early.ids[1]), int(early.ids[2])]
    assert early.hashes[0].ngram == "BOS人" + CONTINUATION
    assert early.hashes[1].ngram_ids[:2] == [0, 0] and early.hashes[1].ngram.startswith(PAD * 2 + "BOS")
    assert early.hashes[1].bucket == int(blt.hash_ngram_ids(early.ids[None], 5, 4096)[0, 2])


def test_long_text_is_cut_at_a_character_boundary():
    text = "人" * 30  # 90 bytes
    view = explore(text, "static")
    assert view.text == "人" * 16 and len(view.ids) == 49 and view.truncated and view.total_bytes == 90
    assert explore(text, "static", max_bytes=10).text == "人" * 3
    assert shown_text("ab人", 4) == "ab"
    fig = explorer_figure(view)
    assert "first 48 of 90 bytes shown" in fig.layout.title.text
    assert not explore("short", "static").truncated


def test_figure_traces_and_axes(text_e):
    view = explore(TEXT, threshold=1.5, k=2, position=10, entropies=text_e)
    fig = explorer_figure(view).to_plotly_json()
    names = [t["name"] for t in fig["data"]]
    assert names == [
        "patches", "selected", "encoder", "encoder selected", "decoder", "decoder selected", "hash buckets",
    ]  # fmt: skip
    types = [t["type"] for t in fig["data"]]
    assert types == ["heatmap", "scatter", "heatmap", "scatter", "heatmap", "scatter", "table"]
    t_len, slots = view.n_positions, view.n_patches * 2
    data = {t["name"]: t for t in fig["data"]}
    assert np.array(data["encoder"]["z"]).tolist() == view.encoder_mask.int().tolist()
    decoder = np.array(data["decoder"]["z"])  # bytes along x: [slots, T]; 2 and 3 = read, 1 = own patch
    assert decoder.shape == (slots, t_len)
    assert (decoder >= 2).T.tolist() == view.decoder_mask.tolist()
    assert (decoder % 2 == 1).tolist() == view.encoder_mask.tolist()
    assert len(data["patches"]["z"][0]) == t_len + 1  # the next, unseen byte too
    layout = fig["layout"]
    for axis in ("xaxis", "xaxis2", "xaxis3"):
        assert list(layout[axis]["range"]) == [-0.5, t_len + 0.5]
    for axis in ("yaxis2", "yaxis3"):
        assert list(layout[axis]["range"]) == [slots - 0.5, -0.5]  # slot 0 on top
    assert f"threshold 1.50: {view.n_patches} patches" in layout["title"]["text"]
    assert "reads the latent output of patch" in layout["xaxis3"]["title"]["text"]
    table = data["hash buckets"]["cells"]["values"]
    assert [column[1] for column in table[1:]] == [h.bucket for h in view.hashes]
    # The selected position is marked in every panel, on its own patch and on the patch it reads.
    assert list(data["selected"]["x"]) == [10]
    assert list(data["encoder selected"]["y"]) == [int(view.patch_ids[10]) * 2 + 0.5]
    assert list(data["decoder selected"]["y"]) == [int(view.decoder_ids[10]) * 2 + 0.5]
    # Readable at 1280x800: a bounded height, and no title placed over another.
    assert 500 <= layout["height"] <= 760
    titles = sorted(a["y"] for a in layout["annotations"] if a.get("yref") == "paper")
    assert all(b - a > 0.1 for a, b in zip(titles, titles[1:], strict=False))


def test_bad_input_is_explained():
    with pytest.raises(TypeError, match="must be a str"):
        explore(b"bytes")
    with pytest.raises(ValueError, match="empty"):
        explore("", "space")
    with pytest.raises(ValueError, match="unknown scheme 'words'"):
        explore("abc", "words")
    with pytest.raises(ValueError, match="position must be"):
        explore("abc", "space", position=4)
    with pytest.raises(ValueError, match="k .* must be a positive int"):
        explore("abc", "space", k=0)
    with pytest.raises(ValueError, match="at least 4 entropies"):
        explore("abc", entropies=torch.zeros(3))


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(min_size=1, max_size=12),  # at most 48 bytes: shown whole
    threshold=st.floats(0, 6),
    size=st.integers(1, 6),
    k=st.integers(1, 3),
    scheme=st.sampled_from(SCHEMES),
)
def test_any_text_gives_consistent_masks(text, threshold, size, k, scheme):
    e = torch.as_tensor(np.random.default_rng(len(text)).uniform(0, 5, len(text.encode()) + 1))
    view = explore(text, scheme, threshold=threshold, patch_size=size, k=k, entropies=e, position=0)
    _check_masks(view)
    assert len(view.labels) == len(text.encode("utf-8")) + 1
    data = text.encode("utf-8")
    assert view.cuts_inside_char == [
        s for s in view.starts[1:] if s <= len(data) and 0x80 <= data[s - 1] < 0xC0
    ]


def test_widget_starts_at_the_threshold_in_use_and_redraws_on_every_control(text_e):
    box = blt_explorer(TEXT)
    figure = box.figure
    assert box.threshold.value == box.explored.threshold == default_threshold(text_e)
    assert box.patch_size.disabled and not box.threshold.disabled
    assert box.position.max == len(TEXT.encode())

    def encoder_z():
        return [list(row) for row in figure.data[2].z]

    before, status = encoder_z(), box.status.value
    assert f"<b>{box.explored.n_patches} patches</b>" in status
    box.threshold.value = MAX_THRESHOLD  # nothing passes: [BOS] | every byte
    assert len(encoder_z()) == 2 * 2 and encoder_z() != before and box.status.value != status
    assert list(figure.layout.yaxis2.range) == [3.5, -0.5]
    expected = explore(TEXT, threshold=MAX_THRESHOLD, position=box.position.value, entropies=text_e)
    assert box.explored.lengths == expected.lengths == [1, len(TEXT.encode()) + 1]

    box.scheme.value = "static"
    assert box.threshold.disabled and not box.patch_size.disabled
    box.patch_size.value = 2
    assert box.explored.lengths == [1] + [2] * 22 + [1] and len(encoder_z()) == 2 * 24
    assert "static, 2 bytes per patch" in figure.layout.title.text

    box.position.value = 3
    assert list(figure.data[1].x) == [3] and "ending at position 3 (e)" in str(figure.layout.annotations)
    assert figure.data[6].cells.values[1][0] == box.explored.hashes[0].ngram == "The"

    box.text.value = "人人"  # a shorter text: the position slider shrinks to its 7 positions
    assert box.position.max == 6 and box.explored.cuts_inside_char == [3, 5]
    assert "cuts inside a character" in box.status.value
    box.text.value = ""
    assert "type some text" in box.status.value


def test_widget_given_a_threshold_shows_it():
    box = blt_explorer("hello world", threshold=1.23, position=2)
    assert box.threshold.value == 1.23 == box.explored.threshold and box.position.value == 2
    space = blt_explorer("hello world", scheme="space")
    assert space.threshold.disabled and space.explored.threshold is None
    assert 0 < space.threshold.value <= MAX_THRESHOLD
