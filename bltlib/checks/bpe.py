"""Checks for lesson 1 (BPE): one per exercise step, each comparing the learner's function with
:mod:`bltlib.bpe` on a handful of cases, the edge cases first.

In a notebook: ``checks.bpe.get_stats(get_stats)`` prints a pass line, or stops at the first wrong
case with the input, the expected and the actual value, and a hint (:class:`CheckFailed`). It returns
None, so that the cell shows the message alone; ``raise_on_fail=False`` returns the
:class:`CheckResult` instead of raising.

>>> from bltlib.bpe import get_stats as reference
>>> get_stats(reference)
✓ get_stats: all 7 cases pass
>>> get_stats(lambda ids: {}, raise_on_fail=False).case_index  # case 1 is the empty list: {} is right
2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bltlib import bpe
from bltlib.checks.core import Case, CheckResult, check

# A text whose training has a tie at the second merge: (97, 98) and (256, 97) are both seen twice.
LECTURE_TEXT = "aaabdaaabac"
LECTURE_IDS = list(LECTURE_TEXT.encode("utf-8"))
SPECIAL = "<|endoftext|>"
# Long enough for a few dozen merges; the accents make multi-byte characters part of the merges.
SMALL_TEXT = (
    "the cat sat on the mat; the hat sat on the cat. "
    "café au lait, café noir, naïve café. that is that, and this is this.\n"
)
_HINT_DICT = "return a plain dict (or Counter) mapping each pair (a, b) to its count"


def _same_dict(actual: Any, expected: dict) -> bool:
    """A dict (Counter is fine) with the same items; ``train`` merges compared by content, not order."""
    return isinstance(actual, dict) and dict(actual) == expected


def _same_list(actual: Any, expected: list) -> bool:
    """A list of ints equal to ``expected`` (a tuple is not a list: later steps call list methods)."""
    return isinstance(actual, list) and all(type(x) is int for x in actual) and actual == expected


def _trained(text: str, vocab_size: int, pattern: str | None = None) -> bpe.Tokenizer:
    tokenizer = bpe.BasicTokenizer() if pattern is None else bpe.RegexTokenizer(pattern)
    tokenizer.train(text, vocab_size)
    return tokenizer


def get_stats(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(ids) -> {(a, b): count}``: how often each adjacent pair of ids occurs."""
    overlap = (
        "[1, 1, 1] holds the pair (1, 1) twice, at positions 0-1 and 1-2: count every adjacent "
        "position, pairs may overlap."
    )
    cases = [
        Case(([],), {}, label="empty list", hint="no ids means no pairs: return {}"),
        Case(([7],), {}, label="a single id", hint="one id has no neighbour: return {}"),
        Case(
            ([1, 2, 3],),
            {(1, 2): 1, (2, 3): 1},
            label="the last pair counts too",
            hint="n ids have n - 1 adjacent pairs: itertools.pairwise(ids) or zip(ids, ids[1:]) visit each",
        ),
        Case(([1, 1, 1],), {(1, 1): 2}, label="overlapping pairs", hint=overlap),
        Case(([2, 1, 1, 2],), {(2, 1): 1, (1, 1): 1, (1, 2): 1}, label="order inside a pair matters"),
        Case(([256, 300, 256, 300],), {(256, 300): 2, (300, 256): 1}, label="ids above 255"),
        Case((LECTURE_IDS,), bpe.get_stats(LECTURE_IDS), label=f"the bytes of {LECTURE_TEXT!r}"),
    ]
    return check("get_stats", fn, cases, compare=_same_dict, hint=_HINT_DICT, raise_on_fail=raise_on_fail)


def merge(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(ids, pair, idx) -> list``: every occurrence of ``pair`` replaced by ``idx``."""
    skip = (
        "after replacing a pair, jump past both of its ids (i += 2): [1, 1, 1] becomes [9, 1], "
        "not [9, 9]; the middle 1 cannot be used twice"
    )
    last = "look at ids[i + 1] only when i < len(ids) - 1, and keep the last id when it does not start a pair"
    cases = [
        Case(([], (1, 2), 9), [], label="empty list", hint="nothing to merge: return []"),
        Case(([1], (1, 2), 9), [1], label="a single id", hint=last),
        Case(([5, 1, 2], (1, 2), 9), [5, 9], label="the pair at the end", hint=last),
        Case(([1, 2, 3], (3, 1), 9), [1, 2, 3], label="pair absent", hint=last),
        Case(([2, 1, 2], (1, 2), 9), [2, 9], label="order inside a pair matters", hint=last),
        Case(([1, 1, 1], (1, 1), 9), [9, 1], label="overlapping pairs", hint=skip),
        Case(([1, 1, 1, 1], (1, 1), 9), [9, 9], label="two pairs back to back", hint=skip),
        Case(
            (LECTURE_IDS, (97, 97), 256),
            bpe.merge(LECTURE_IDS, (97, 97), 256),
            label=f"the bytes of {LECTURE_TEXT!r}",
            hint=skip,
        ),
    ]
    return check(
        "merge",
        fn,
        cases,
        compare=_same_list,
        hint="build and return a new list",
        raise_on_fail=raise_on_fail,
    )


def train(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(text, vocab_size) -> {(a, b): new_id}``: byte-level BPE training, minbpe style."""
    ties = (
        "merge the MOST frequent pair; when two pairs are equally frequent take the smaller pair "
        "(as a tuple): min(stats, key=lambda p: (-stats[p], p)) does both"
    )
    ids = "the i-th merge (counting from 0) creates the id 256 + i; vocab_size - 256 merges in all"
    cases = [
        Case(("abab", 256), {}, label="vocab_size 256: no merges", hint=ids),
        Case(("abcabc", 257), {(97, 98): 256}, label="one merge", hint=ties),
        Case((LECTURE_TEXT, 259), _trained(LECTURE_TEXT, 259).merges, label="a tie at merge 2", hint=ties),
        Case(("aaaa", 258), _trained("aaaa", 258).merges, label="merging a merged token", hint=ids),
        Case(
            ("ab", 300),
            {(97, 98): 256},
            label="nothing left to merge",
            hint="stop early when no pair is left (the whole text became one token)",
        ),
        Case(
            ("naïve café", 262),
            _trained("naïve café", 262).merges,
            label="multi-byte characters",
            hint="train on text.encode('utf-8'): 'ï' and 'é' are two bytes each",
        ),
        Case((SMALL_TEXT, 300), _trained(SMALL_TEXT, 300).merges, label="44 merges", hint=ties),
    ]
    return check("train", fn, cases, compare=_same_dict, hint=ties, raise_on_fail=raise_on_fail)


def encode(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(text, merges) -> ids``: apply learned merges to new text, earliest merge first."""
    lecture = _trained(LECTURE_TEXT, 259)
    small = _trained(SMALL_TEXT, 300)
    order = (
        "apply merges in the order they were learned: repeatedly merge the pair with the LOWEST "
        "id, min(stats, key=lambda p: merges.get(p, float('inf'))), until no pair is in merges"
    )
    cases = [
        Case(("", lecture.merges), [], label="empty text", hint="no bytes, no tokens: return []"),
        Case(("d", lecture.merges), [100], label="one byte", hint="stop when fewer than 2 ids are left"),
        Case(
            ("é", {}), [195, 169], label="no merges: the UTF-8 bytes", hint="start from text.encode('utf-8')"
        ),
        Case(("aaab", lecture.merges), lecture.encode("aaab"), label="merges build on merges", hint=order),
        Case(("aaaaab", lecture.merges), lecture.encode("aaaaab"), label="a run of a's", hint=order),
        Case(("the cat", small.merges), small.encode("the cat"), label="a seen phrase", hint=order),
        Case(
            ("that café hat", small.merges),
            small.encode("that café hat"),
            label="multi-byte characters",
            hint=order,
        ),
    ]
    return check("encode", fn, cases, compare=_same_list, hint=order, raise_on_fail=raise_on_fail)


def decode(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(ids, vocab) -> str``: join the tokens' bytes, then decode (bad UTF-8 becomes U+FFFD)."""
    small = _trained(SMALL_TEXT, 300)
    vocab = small.vocab
    join_first = (
        "join the bytes of ALL tokens, then decode once: a character's bytes may be split across "
        "tokens ('é' is b'\\xc3' + b'\\xa9')"
    )
    replace = (
        "not every byte sequence is valid UTF-8 (a model can emit any ids): "
        "use .decode('utf-8', errors='replace'), which shows bad bytes as '\\ufffd'"
    )
    cases = [
        Case(([], vocab), "", label="no ids", hint="return the empty string"),
        Case(([104, 105], vocab), "hi", label="two bytes"),
        Case((small.encode("the cat sat"), vocab), "the cat sat", label="merged tokens"),
        Case(([195, 169], vocab), "é", label="one character split over two tokens", hint=join_first),
        Case(
            ([104, 255, 105], vocab), small.decode([104, 255, 105]), label="invalid byte 0xff", hint=replace
        ),
        Case(
            ([99, 97, 102, 195], vocab),
            small.decode([99, 97, 102, 195]),
            label="cut mid-character",
            hint=replace,
        ),
    ]
    return check("decode", fn, cases, hint=join_first, raise_on_fail=raise_on_fail)


def encode_with_specials(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(text, special_tokens, encode_ordinary) -> ids``: special tokens become their own id,
    the text between them goes through ``encode_ordinary`` (what ``allowed_special="all"`` does)."""
    tokenizer = _trained(SMALL_TEXT, 300, pattern="gpt4")
    specials = {SPECIAL: 300, "<|fim_middle|>": 301}
    tokenizer.register_special_tokens(specials)
    split = (
        "split on the special tokens with a capturing group, so they stay in the pieces, and escape "
        "them ('|' means OR in a regex): re.split('(' + '|'.join(re.escape(s) for s in specials) + ')', "
        "text); then map each special piece to its id and encode the other pieces with encode_ordinary"
    )

    def case(text: str, label: str, hint: str = split) -> Case:
        expected = tokenizer.encode(text, allowed_special="all")
        return Case((text, specials, tokenizer.encode_ordinary), expected, label=label, hint=hint)

    cases = [
        case("", "empty text", "return [] for empty text (skip empty pieces)"),
        case("the cat", "no special token"),
        case(f"the cat{SPECIAL}the hat", "one special token"),
        case(
            f"{SPECIAL}the cat{SPECIAL}", "at both ends", "skip the empty pieces re.split leaves at the ends"
        ),
        case(f"a{SPECIAL}{SPECIAL}<|fim_middle|>b", "back to back, two kinds"),
        case("if a < b or c | d: pass", "'<' and '|' in ordinary text"),
        case("the <|endoftext marker, cut short", "an incomplete special token"),
    ]
    return check("encode_with_specials", fn, cases, hint=split, raise_on_fail=raise_on_fail)
