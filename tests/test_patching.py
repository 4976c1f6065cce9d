"""Patchers: the reference golden example, hand-worked rules, and invariants for any input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib.data import blt_golden_example
from bltlib.patching import (
    Patcher,
    bpe_patch_lengths,
    calibrate_threshold,
    entropy_patch_lengths,
    entropy_patch_starts,
    lengths_from_start_mask,
    lengths_from_starts,
    mean_patch_size,
    patch_ids_from_lengths,
    patched_windows,
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


# ----------------------------------------------------------------------------- batched patching for a BLT


def _rows(lengths: torch.Tensor) -> list[list[int]]:
    """Patch-length rows without their right zero-padding."""
    out = []
    for row in lengths.tolist():
        while row and row[-1] == 0:
            row.pop()
        out.append(row)
    return out


def _text_ids(rng: np.random.Generator, b: int, t: int) -> torch.Tensor:
    """BOS + bytes drawn mostly from letters, spaces and punctuation (runs of spaces included), some
    UTF-8 bytes and control bytes."""
    alphabet = np.frombuffer(b"abcdefXYZ019  ,.!\n\t", dtype=np.uint8).tolist() + [
        0xC3,
        0xA9,
        0x80,
        0xFF,
        0x00,
    ]
    body = rng.choice(alphabet, size=(b, t - 1)) + 4
    return torch.tensor(np.concatenate([np.ones((b, 1), dtype=np.int64), body], 1))


def test_lengths_from_start_mask_matches_lengths_from_starts():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        mask = rng.random((4, n)) < rng.random()
        mask[:, 0] = True
        lengths = lengths_from_start_mask(torch.tensor(mask))
        assert lengths.dtype == torch.long and lengths.shape[1] == mask.sum(1).max()
        for row, got in zip(mask, _rows(lengths), strict=True):
            assert got == lengths_from_starts(np.flatnonzero(row).tolist(), n)


@pytest.mark.parametrize("monotonic", [False, True])
def test_patcher_entropy_matches_the_list_rule_row_by_row(monotonic):
    rng = np.random.default_rng(int(monotonic))
    for trial in range(20):
        b, t = 3, int(rng.integers(2, 60))
        e = torch.tensor(rng.gamma(2.0, 0.7, size=(b, t)), dtype=torch.float32)
        ids = _text_ids(rng, b, t)
        theta = float(rng.choice([0.3, 1.0, 1.4, 2.5])) if trial else 1e9  # trial 0: only forced starts
        lengths = Patcher("entropy", threshold=theta, monotonic=monotonic).lengths(ids, e)
        assert lengths.shape[0] == b
        for row_e, got in zip(e.double(), _rows(lengths), strict=True):
            expected = entropy_patch_lengths(row_e, theta, monotonic, include_next_token=True)
            assert got == expected
            assert sum(got) == t + 1 and got[0] == 1


def test_patcher_space_matches_the_list_rule_row_by_row():
    rng = np.random.default_rng(2)
    letter = ord("a") + 4
    for _ in range(40):
        t = int(rng.integers(1, 50))
        ids = _text_ids(rng, 3, t)
        lengths = Patcher("space").lengths(ids)
        for row, got in zip(ids.tolist(), _rows(lengths), strict=True):
            listed = space_patch_lengths(row)
            assert sum(got) == t + 1 and got[0] == 1
            assert got[: len(listed) - 1] == listed[:-1]  # all but the last patch agree
            # exactly: the next byte starts a patch iff the last byte ends one, whatever the next byte is
            assert got == space_patch_lengths([*row, letter])


@pytest.mark.parametrize("patch_size", [1, 3, 4, 7])
def test_patcher_static(patch_size):
    for t in (1, 2, 5, 12, 13):
        ids = torch.ones(2, t, dtype=torch.long)
        lengths = Patcher("static", patch_size=patch_size).lengths(ids)
        expected = [1, *static_patch_lengths(t, patch_size)]
        assert _rows(lengths) == [expected, expected]


def test_patcher_forces_the_bos_patch():
    ids = torch.tensor([[1, 104, 105]])
    e = torch.zeros(1, 3)
    for patcher in (Patcher("entropy", threshold=5.0), Patcher("space"), Patcher("static", patch_size=9)):
        assert patcher.lengths(ids, e if patcher.scheme == "entropy" else None)[0, :2].tolist() == [1, 3]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: Patcher("bpe"), ValueError, "scheme must be one of entropy, space, static"),
        (lambda: Patcher("entropy"), TypeError, "threshold must be a real number"),
        (lambda: Patcher("entropy", threshold=float("nan")), ValueError, "threshold is NaN"),
        (lambda: Patcher("static"), TypeError, "patch_size must be an int"),
        (lambda: Patcher("static", patch_size=0), ValueError, "patch_size must be >= 1"),
        (
            lambda: Patcher("entropy", threshold=1.0).lengths(torch.ones(1, 4, dtype=torch.long)),
            ValueError,
            "entropy patching needs entropies",
        ),
        (
            lambda: Patcher("entropy", threshold=1.0).lengths(
                torch.ones(1, 4, dtype=torch.long), torch.ones(1, 3)
            ),
            ValueError,
            r"shaped like ids \(1, 4\), got \(1, 3\)",
        ),
        (lambda: Patcher("space").lengths(torch.ones(4, dtype=torch.long)), ValueError, "2-D tensor"),
    ],
)
def test_patcher_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _corpus(n: int, seed: int = 0) -> torch.Tensor:
    """BOS + random bytes: every 12-byte stretch is unique, so a window's corpus offset can be found."""
    body = torch.randint(0, 256, (n - 1,), generator=torch.Generator().manual_seed(seed)) + 4
    return torch.cat([torch.tensor([1]), body])


def _offset(corpus: torch.Tensor, window_body: torch.Tensor) -> int:
    hits = [
        s
        for s in range(1, len(corpus) - len(window_body) + 1)
        if torch.equal(corpus[s : s + len(window_body)], window_body)
    ]
    assert len(hits) == 1
    return hits[0]


def test_patched_windows_shapes_targets_and_static_lengths():
    corpus = _corpus(300)
    x, lengths, y = patched_windows(
        corpus, Patcher("static", patch_size=4), 6, 16, torch.Generator().manual_seed(0)
    )
    assert x.shape == y.shape == (6, 16) and lengths.shape == (6, 5)
    assert (x[:, 0] == 1).all()
    assert torch.equal(y[:, :-1], x[:, 1:])  # y is x shifted by one ...
    for i in range(6):
        start = _offset(corpus, x[i, 1:])
        assert torch.equal(y[i], corpus[start : start + 16])  # ... and the next corpus bytes
    assert (lengths.sum(1) == 17).all() and (lengths[:, 0] == 1).all()


def test_mean_patch_size_counts_positions_over_patches_and_refuses_empty_rows():
    _, lengths, _ = patched_windows(
        _corpus(300), Patcher("static", patch_size=4), 6, 16, torch.Generator().manual_seed(0)
    )
    assert mean_patch_size(lengths) == 6 * 16 / (6 * 5)  # [BOS], then 4 x 4 bytes (the last holds the next)
    for bad in (torch.tensor([[1, 3], [0, 0]]), torch.tensor([1, 3]), [[1, 3]]):
        with pytest.raises(ValueError, match="non-empty patch in every row"):
            mean_patch_size(bad)


def test_patched_windows_use_the_corpus_entropies():
    """A spike in the corpus entropies at index s (the model was unsure about byte s + 1) must start a
    patch at the window position of corpus byte s + 1, and nowhere else."""
    corpus = _corpus(120, seed=1)
    spike = 60
    entropies = torch.full((120,), 0.1)
    entropies[spike] = 5.0
    seq_len = 24
    x, lengths, y = patched_windows(
        corpus, Patcher("entropy", threshold=1.0), 64, seq_len, torch.Generator().manual_seed(1), entropies
    )
    assert ((lengths.sum(1) == seq_len + 1) & (lengths[:, 0] == 1)).all()
    seen = 0
    for i in range(64):
        start = _offset(corpus, x[i, 1:])  # window position j >= 1 holds corpus byte start + j - 1
        starts = set(np.cumsum([0, *_rows(lengths[i : i + 1])[0]])[:-1].tolist())
        spiked = spike + 1 - start + 1  # the window position of corpus byte spike + 1
        expected = {0, 1} | ({spiked} if 2 <= spiked <= seq_len else set())
        assert starts == expected, (start, starts)
        seen += 2 <= spiked <= seq_len
    assert seen >= 5  # the spike was inside many windows, including at the first and last positions


def test_patched_windows_entropy_alignment_at_every_position():
    """With entropies[i] = i, window position t >= 2 starts a patch iff the corpus entropy predicting it,
    entropies[start + t - 2], exceeds the threshold; t = T (the next byte) included."""
    corpus = _corpus(80, seed=2)
    entropies = torch.arange(80, dtype=torch.float32)
    seq_len, theta = 16, 40.5
    x, lengths, _ = patched_windows(
        corpus, Patcher("entropy", threshold=theta), 32, seq_len, torch.Generator().manual_seed(3), entropies
    )
    for i in range(32):
        start = _offset(corpus, x[i, 1:])
        starts = np.cumsum([0, *_rows(lengths[i : i + 1])[0]])[:-1].tolist()
        assert starts == [0, 1] + [t for t in range(2, seq_len + 1) if start + t - 2 > theta]


def test_patched_windows_is_deterministic_per_seed_and_checks_input():
    corpus = _corpus(200)
    patcher = Patcher("space")

    def draw(seed):
        return patched_windows(corpus, patcher, 4, 32, torch.Generator().manual_seed(seed))

    a, b, c = draw(5), draw(5), draw(6)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    with pytest.raises(ValueError, match="fewer than seq_len"):
        patched_windows(corpus[:33], patcher, 4, 32, torch.Generator())
    with pytest.raises(ValueError, match="must match ids"):
        patched_windows(corpus, patcher, 4, 32, torch.Generator(), torch.zeros(199))


def test_patcher_start_mask_on_the_shortest_rows():
    # [BOS] alone: tokens 0 and 1 start; [BOS] + one byte: token 2 follows the entropy (or monotonic rule).
    one, two = torch.tensor([[1]]), torch.tensor([[1, 70]])
    assert Patcher("entropy", threshold=1.0).start_mask(one, torch.tensor([[0.5]])).tolist() == [[True, True]]
    assert Patcher("entropy", threshold=1.0).start_mask(two, torch.tensor([[3.0, 0.5]])).tolist() == [
        [True, True, False]
    ]
    monotonic = Patcher("entropy", threshold=1.0, monotonic=True)
    assert monotonic.start_mask(two, torch.tensor([[3.0, 0.5]])).tolist() == [[True, True, True]]
