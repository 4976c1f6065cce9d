"""Patchers: the reference golden example, hand-worked rules, and invariants for any input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib.data import blt_golden_example
from bltlib.patching import (
    bpe_patch_lengths,
    calibrate_threshold,
    entropy_patch_lengths,
    entropy_patch_starts,
    lengths_from_starts,
    patch_ids_from_lengths,
    space_patch_lengths,
    space_patch_starts,
    split_long_patches,
    static_patch_lengths,
)

GOLDEN = blt_golden_example()  # the official BLT example (paper Fig. 4), shipped in bltlib/data

entropy_lists = st.lists(st.floats(0.0, 6.0, allow_nan=False), min_size=1, max_size=200)
thresholds = st.floats(-1.0, 7.0, allow_nan=False)


# ----------------------------------------------------------------------------- golden example


def test_golden_global_rule_reproduces_reference_starts_and_patch_ids():
    e, theta = GOLDEN["entropies"], GOLDEN["threshold"]
    starts = entropy_patch_starts(e, theta)
    flags = [int(t in starts) for t in range(len(e))]
    assert len(e) == 81 and theta == 1.335442066192627
    assert flags == GOLDEN["start"]
    assert len(starts) == 23
    lengths = lengths_from_starts(starts, len(e))
    assert lengths[0] == 1 and sum(lengths) == 81
    assert patch_ids_from_lengths(lengths, len(e)) == GOLDEN["patch"]


def test_golden_close_case_at_index_58():
    e, theta = GOLDEN["entropies"], GOLDEN["threshold"]
    assert 0 < e[58] - theta < 0.002  # 1.3371 vs 1.3354: a boundary that bf16 could flip
    assert 59 in entropy_patch_starts(e, theta)
    assert 59 not in entropy_patch_starts(e, e[58])  # strictly greater, not >=


def test_golden_accepts_numpy_and_torch():
    e, theta = GOLDEN["entropies"], GOLDEN["threshold"]
    expected = entropy_patch_starts(e, theta)
    assert entropy_patch_starts(np.array(e), theta) == expected
    assert entropy_patch_starts(torch.tensor(e, dtype=torch.float64), theta) == expected


def test_golden_off_by_one_index_would_fail():
    # reading entropies[t] instead of entropies[t-1] must not also match the reference
    e, theta = GOLDEN["entropies"], GOLDEN["threshold"]
    wrong = [1, 1] + [int(e[t] > theta) for t in range(2, len(e))]
    assert wrong != GOLDEN["start"]


# ----------------------------------------------------------------------------- worked examples


def test_include_next_token_lets_last_entropy_open_a_patch():
    e = [3.0, 0.1, 0.2, 2.0]
    assert entropy_patch_starts(e, 1.0) == [0, 1]
    assert entropy_patch_starts(e, 1.0, include_next_token=True) == [0, 1, 4]
    assert entropy_patch_lengths(e, 1.0, include_next_token=True) == [1, 3, 1]  # sums to n + 1


def test_monotonic_rule_by_hand():
    # t=2 forced; t=3: e2-e1 = 0.1; t=4: e3-e2 = 1.5 > 1; t=5: e4-e3 = -0.5; t=6: e5-e4 = 1.3 > 1
    e = [0.0, 2.0, 2.1, 3.6, 3.1, 4.4, 0.0]
    assert entropy_patch_starts(e, 1.0, monotonic=True) == [0, 1, 2, 4, 6]
    # the global rule on the same entropies cuts almost everywhere
    assert entropy_patch_starts(e, 1.0) == [0, 1, 2, 3, 4, 5, 6]


def test_combined_rule_by_hand():
    e = [0.0, 0.5, 3.0, 3.5, 0.2, 2.5, 2.6, 0.1]
    # t=2 forced; t=3 never (reference quirk) though e2-e1 = 2.5 and e2 = 3 pass both tests;
    # t=4: rise 0.5 fails; t=5: e4 = 0.2 fails; t=6: rise 2.3 and e5 = 2.5 pass; t=7: rise 0.1 fails
    assert entropy_patch_starts(e, 1.0, threshold_add=1.0) == [0, 1, 2, 6]
    assert entropy_patch_starts(e, 3.0, threshold_add=1.0) == [0, 1, 2]


def test_short_sequences():
    assert entropy_patch_starts([0.5], 0.0) == [0]
    assert entropy_patch_starts([0.5, 9.0], 0.0) == [0, 1]
    assert entropy_patch_starts([0.5], 0.0, include_next_token=True) == [0, 1]
    assert entropy_patch_starts([0.5, 0.4], 0.0, monotonic=True, include_next_token=True) == [0, 1, 2]


def test_space_rule_by_hand():
    ids = [1] + [b + 4 for b in b"Hi, you!  ok"]
    # [BOS] | "Hi," | " you!" | "  ok": the comma and the "!" end patches; the two spaces after "!"
    # continue its run of space-likes, so they open no patch of their own
    assert space_patch_starts(ids) == [0, 1, 4, 9]
    assert space_patch_lengths(ids) == [1, 3, 5, 4]
    # UTF-8: "é" is a lead byte 0xC3 (space-like) then a continuation byte 0xA9 (not), so the cut falls
    # inside the character: "c" | "af\xc3" | "\xa9 " | "x"
    assert space_patch_lengths("café x") == [1, 3, 2, 1]
    assert space_patch_starts(torch.tensor(ids)) == space_patch_starts(np.array(ids)) == [0, 1, 4, 9]


def test_static_and_split():
    assert static_patch_lengths(9, 3) == [3, 3, 3]
    assert static_patch_lengths(1, 4, bos=True) == [1]
    assert split_long_patches([4, 1, 9], 4) == [4, 1, 4, 4, 1]


class _ByteTokenizer:
    """A tokenizer with fixed multi-byte pieces, falling back to single bytes."""

    pieces = [b"the", b" ", b"\xc3\xa9"]

    def encode_ordinary(self, text):
        data, ids = text.encode(), []
        while data:
            for i, piece in enumerate(self.pieces):
                if data.startswith(piece):
                    ids.append(256 + i)
                    data = data[len(piece) :]
                    break
            else:
                ids.append(data[0])
                data = data[1:]
        return ids

    def decode_bytes(self, ids):
        return b"".join(self.pieces[i - 256] if i >= 256 else bytes([i]) for i in ids)


def test_bpe_patches_are_token_byte_lengths():
    assert bpe_patch_lengths("the é", _ByteTokenizer()) == [3, 1, 2]
    assert bpe_patch_lengths("the é", _ByteTokenizer(), bos=True) == [1, 3, 1, 2]


def test_bpe_rejects_lossy_tokenizer():
    class Lossy(_ByteTokenizer):
        def decode_bytes(self, ids):
            return b"?"

    with pytest.raises(ValueError, match="round-trip"):
        bpe_patch_lengths("the", Lossy())
    with pytest.raises(TypeError, match="encode_ordinary"):
        bpe_patch_lengths("the", object())


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: entropy_patch_starts([], 1.0), ValueError, "empty"),
        (lambda: entropy_patch_starts([1.0, 2.0], float("nan")), ValueError, "NaN"),
        (lambda: entropy_patch_starts([1.0, float("nan")], 1.0), ValueError, "NaN"),
        (lambda: entropy_patch_starts("abc", 1.0), TypeError, "entropies"),
        (lambda: entropy_patch_starts([[1.0, 2.0]], 1.0), ValueError, "1-D"),
        (lambda: entropy_patch_starts([1.0], "1"), TypeError, "threshold"),
        (lambda: entropy_patch_starts([1.0], 1.0, monotonic=True, threshold_add=0.1), ValueError, "either"),
        (lambda: lengths_from_starts([1, 2], 5), ValueError, "position 0"),
        (lambda: lengths_from_starts([0, 2, 2], 5), ValueError, "increasing"),
        (lambda: lengths_from_starts([0, 5], 5), ValueError, "outside"),
        (lambda: patch_ids_from_lengths([1, 2], 5), ValueError, "fewer"),
        (lambda: static_patch_lengths(0, 4), ValueError, "n must be >= 1"),
        (lambda: split_long_patches([3], 0), ValueError, "max_len"),
        (lambda: space_patch_starts(b""), ValueError, "empty"),
        (lambda: space_patch_starts([1, 300]), ValueError, "260"),
        (lambda: space_patch_starts(3.5), TypeError, "str, bytes"),
        (lambda: calibrate_threshold([1.0, 2.0, 3.0], 0.5), ValueError, ">= 1"),
        (lambda: calibrate_threshold([1.0, 2.0, 3.0], float("nan")), ValueError, ">= 1"),
        (lambda: calibrate_threshold([], 2.0), ValueError, "empty"),
    ],
)
def test_bad_input_raises_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------------------- invariants


def _check_lengths(lengths, n):
    assert all(length >= 1 for length in lengths)
    assert sum(lengths) == n


@settings(max_examples=150, deadline=None)
@given(entropy_lists, thresholds, st.sampled_from(["global", "monotonic", "combined"]), st.booleans())
def test_entropy_rules_invariants(e, theta, rule, include_next):
    kwargs = {"monotonic": rule == "monotonic", "include_next_token": include_next}
    if rule == "combined":
        kwargs["threshold_add"] = 0.3
    starts = entropy_patch_starts(e, theta, **kwargs)
    n = len(e) + include_next
    assert starts == sorted(set(starts)) and starts[0] == 0 and starts[-1] < n
    assert starts[: min(n, 2)] == [0, 1][: min(n, 2)]  # tokens 0 and 1 always start a patch
    lengths = lengths_from_starts(starts, n)
    _check_lengths(lengths, n)
    if n >= 2:
        assert lengths[0] == 1  # [BOS] is its own patch
    ids = patch_ids_from_lengths(lengths, n)
    assert ids == sorted(ids) and ids[-1] == len(lengths) - 1
    if rule == "global":
        # above every entropy: only the forced starts; below all: every token is a patch
        assert entropy_patch_starts(e, max(e), **kwargs) == [0, 1][: min(n, 2)]
        assert len(entropy_patch_starts(e, min(e) - 1, **kwargs)) == n


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(1, 10))
def test_split_long_patches_invariants(lengths, max_len):
    out = split_long_patches(lengths, max_len)
    _check_lengths(out, sum(lengths))
    assert max(out) <= max_len
    assert len(out) == sum(math.ceil(length / max_len) for length in lengths)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 500), st.integers(1, 20), st.booleans())
def test_static_invariants(n, patch_size, bos):
    lengths = static_patch_lengths(n, patch_size, bos=bos)
    _check_lengths(lengths, n)
    body = lengths[1:] if bos else lengths
    assert all(length == patch_size for length in body[:-1]) and (not body or 1 <= body[-1] <= patch_size)


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.booleans())
def test_space_invariants(data, bos):
    ids = [1] * bos + [b + 4 for b in data]
    starts = space_patch_starts(ids)
    lengths = space_patch_lengths(ids)
    _check_lengths(lengths, len(ids))
    assert starts == sorted(set(starts)) and starts[: min(len(ids), 2)] == [0, 1][: min(len(ids), 2)]
    # a patch boundary never falls between two letters/digits
    for s in starts[2:]:
        assert not (chr(data[s - 1 - bos]).isascii() and chr(data[s - 1 - bos]).isalnum())
    if not bos:
        assert space_patch_starts(data) == starts  # bytes and their ids agree


# ----------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("target", [1.5, 3.0, 4.5, 8.0])
@pytest.mark.parametrize("monotonic", [False, True])
def test_calibrate_threshold_hits_target_on_random_data(target, monotonic):
    rng = np.random.default_rng(int(target * 10) + monotonic)
    rows = [rng.gamma(2.0, 0.7, size=n) for n in (900, 1200, 700)]
    theta = calibrate_threshold(rows, target, monotonic=monotonic)
    n_patches = sum(len(entropy_patch_starts(row, theta, monotonic=monotonic)) for row in rows)
    average = sum(len(row) for row in rows) / n_patches
    assert abs(average - target) / target < 0.01


def test_calibrate_global_is_a_quantile_of_the_entropies():
    e = np.random.default_rng(0).random(10_001)
    theta = calibrate_threshold(torch.tensor(e), 4.0)
    assert abs(theta - np.quantile(e, 1 - 1 / 4)) < 0.01


def test_calibrate_extremes():
    e = [0.3, 0.1, 0.9, 0.2, 0.5]
    assert len(entropy_patch_starts(e, calibrate_threshold(e, 1.0))) == 5  # every byte a patch
    assert entropy_patch_starts(e, calibrate_threshold(e, 100.0)) == [0, 1]  # only the forced starts
