"""Lesson 1's checks pass the reference solutions and catch the usual mistakes, with a useful hint."""

import re
from collections import Counter
from itertools import pairwise

import pytest

from bltlib.checks import CheckFailed
from bltlib.checks import bpe as checks

# ------------------------------------------------------------------ reference solutions (as taught)


def get_stats(ids):
    counts = {}
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent_then_smallest(stats):
    return min(stats, key=lambda p: (-stats[p], p))


def train(text, vocab_size, pick=most_frequent_then_smallest, stop_when_done=True):
    """The reference answer; ``pick`` and ``stop_when_done`` let the wrong answers below vary one step."""
    ids, merges = list(text.encode("utf-8")), {}
    for idx in range(256, vocab_size):
        stats = get_stats(ids)
        if not stats and stop_when_done:
            break
        pair = pick(stats)
        ids = merge(ids, pair, idx)
        merges[pair] = idx
    return merges


def encode(text, merges):
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = get_stats(ids)
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        ids = merge(ids, pair, merges[pair])
    return ids


def decode(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def encode_with_specials(text, special_tokens, encode_ordinary):
    pattern = "(" + "|".join(re.escape(s) for s in special_tokens) + ")"
    ids = []
    for piece in re.split(pattern, text):
        if piece in special_tokens:
            ids.append(special_tokens[piece])
        elif piece:
            ids.extend(encode_ordinary(piece))
    return ids


# ------------------------------------------------------------------ typical wrong answers


def stats_missing_last_pair(ids):
    return get_stats(ids[:-1])


def stats_of_single_ids(ids):
    counts = {}
    for i in range(len(ids)):
        counts[ids[i]] = counts.get(ids[i], 0) + 1
    return counts


def stats_without_overlaps(ids):
    counts, i = {}, 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
        i += 2 if ids[i] == ids[i + 1] else 1
    return counts


def merge_overlapping_twice(ids, pair, idx):
    """Replaces the pair at every position, so the middle id of [1, 1, 1] is used twice."""
    out = []
    for i in range(len(ids)):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
        elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
            out.append(ids[i])
    return out


def merge_drops_last(ids, pair, idx):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_unordered_pair(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and {ids[i], ids[i + 1]} == set(pair):
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_with_min(text, vocab_size):
    return train(text, vocab_size, pick=lambda stats: min(stats, key=stats.get))


def train_first_seen_ties(text, vocab_size):
    """minbpe's tie-break (first seen) instead of bltlib's (smallest pair)."""
    return train(text, vocab_size, pick=lambda stats: max(stats, key=stats.get))


def train_never_stops(text, vocab_size):
    return train(text, vocab_size, stop_when_done=False)


def encode_latest_merge_first(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, idx in reversed(merges.items()):
        ids = merge(ids, pair, idx)
    return ids


def encode_most_frequent_first(text, merges):
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = {p: c for p, c in get_stats(ids).items() if p in merges}
        if not stats:
            break
        pair = max(stats, key=stats.get)
        ids = merge(ids, pair, merges[pair])
    return ids


def decode_strict(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8")


def decode_token_by_token(ids, vocab):
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def specials_unescaped(text, special_tokens, encode_ordinary):
    pattern = "(" + "|".join(special_tokens) + ")"
    ids = []
    for piece in re.split(pattern, text):
        if piece in special_tokens:
            ids.append(special_tokens[piece])
        elif piece:
            ids.extend(encode_ordinary(piece))
    return ids


def specials_as_text(text, special_tokens, encode_ordinary):
    return encode_ordinary(text)


def specials_dropped(text, special_tokens, encode_ordinary):
    pattern = "|".join(re.escape(s) for s in special_tokens)
    return [i for piece in re.split(pattern, text) for i in encode_ordinary(piece)]


# ------------------------------------------------------------------ tests

CORRECT = [
    (checks.get_stats, get_stats),
    (checks.merge, merge),
    (checks.train, train),
    (checks.encode, encode),
    (checks.decode, decode),
    (checks.encode_with_specials, encode_with_specials),
]


@pytest.mark.parametrize(("check", "solution"), CORRECT, ids=[c.__name__ for c, _ in CORRECT])
def test_the_reference_solution_passes(check, solution, capsys):
    assert check(solution, raise_on_fail=False).passed
    # The notebook form prints the pass line and returns nothing, so the cell shows only that line.
    assert check(solution) is None
    assert capsys.readouterr().out.count("✓") == 2


def encode_merge_by_merge(text, merges):
    """Another right answer: apply each merge, in the order learned, to the whole list."""
    ids = list(text.encode("utf-8"))
    for pair, idx in merges.items():
        ids = merge(ids, pair, idx)
    return ids


def stats_with_counter(ids):
    return Counter(pairwise(ids))


def decode_with_bytearray(ids, vocab):
    data = bytearray()
    for i in ids:
        data += vocab[i]
    return data.decode("utf-8", "replace")


OTHER_RIGHT_ANSWERS = [
    (checks.encode, encode_merge_by_merge),
    (checks.get_stats, stats_with_counter),
    (checks.decode, decode_with_bytearray),
]


@pytest.mark.parametrize(
    ("check", "answer"), OTHER_RIGHT_ANSWERS, ids=[a.__name__ for _, a in OTHER_RIGHT_ANSWERS]
)
def test_other_right_answers_pass_too(check, answer):
    assert check(answer, raise_on_fail=False).passed


def test_bltlibs_own_functions_pass():
    from bltlib import bpe

    assert checks.get_stats(bpe.get_stats, raise_on_fail=False).passed
    assert checks.merge(bpe.merge, raise_on_fail=False).passed


# (check, wrong answer, the case label it must fail on, words of the hint it must show)
WRONG = [
    (checks.get_stats, stats_missing_last_pair, "the last pair counts too", "n - 1 adjacent pairs"),
    (checks.get_stats, stats_of_single_ids, "a single id", "one id has no neighbour"),
    (checks.get_stats, stats_without_overlaps, "overlapping pairs", "pairs may overlap"),
    (checks.merge, merge_overlapping_twice, "overlapping pairs", "jump past both of its ids"),
    (checks.merge, merge_drops_last, "a single id", "keep the last id"),
    (checks.merge, merge_unordered_pair, "order inside a pair matters", "keep the last id"),
    (checks.train, train_with_min, "one merge", "MOST frequent pair"),
    (checks.train, train_first_seen_ties, "a tie at merge 2", "the smaller pair"),
    (checks.train, train_never_stops, "nothing left to merge", "stop early"),
    (checks.encode, encode_latest_merge_first, "merges build on merges", "LOWEST"),
    (checks.encode, encode_most_frequent_first, "a seen phrase", "order they were learned"),
    (checks.decode, decode_strict, "invalid byte 0xff", "errors='replace'"),
    (checks.decode, decode_token_by_token, "one character split over two tokens", "decode once"),
    (checks.encode_with_specials, specials_as_text, "one special token", "capturing group"),
    (checks.encode_with_specials, specials_dropped, "one special token", "capturing group"),
    (checks.encode_with_specials, specials_unescaped, "one special token", "re.escape"),
]


@pytest.mark.parametrize(("check", "wrong", "label", "hint"), WRONG, ids=[w.__name__ for _, w, _, _ in WRONG])
def test_a_typical_mistake_fails_on_the_right_case_with_its_hint(check, wrong, label, hint):
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert f"({label})" in message, message
    assert hint in message, message
    assert "call:" in message and "hint:" in message


def test_a_stub_is_told_to_write_code():
    def stub(*args):
        raise NotImplementedError()

    result = checks.merge(stub, raise_on_fail=False)
    assert not result.passed and "YOUR CODE HERE" in result.message


def test_a_tuple_is_not_accepted_for_a_list():
    result = checks.merge(lambda ids, pair, idx: tuple(merge(ids, pair, idx)), raise_on_fail=False)
    assert not result.passed and "got a tuple, expected a list" in result.message
