"""Checks for lesson 1 (BPE): one per exercise step, each comparing the learner's function with
:mod:`bltlib.bpe` on a handful of cases, the edge cases first.

In a notebook: ``checks.bpe.get_stats(get_stats)`` prints a pass line, or stops at the first wrong
case with a short summary of the input, the expected and the actual value, and a hint that names the
idea that is wrong (the answer is compared with known mistakes: forgetting the last pair, merging an id
twice, taking the least frequent pair, replaying merges backwards...). ``more=True`` adds a worked
example of that idea and the verdict on every case; no message shows the solution's code. The check
returns None, so that the cell shows the message alone; ``raise_on_fail=False`` returns the
:class:`CheckResult` instead of raising.

>>> from bltlib.bpe import get_stats as reference
>>> get_stats(reference)
✓ get_stats: all 8 cases pass
>>> print(merge(lambda ids, pair, idx: [idx if (a, b) == pair else a for a, b in zip(ids, ids[1:])],
...             raise_on_fail=False).message)
✗ merge: case 2 of 9 (a single id)
  call:     merge(ids=[1], pair=(1, 2), idx=9)
  expected: [1]
  got:      []
  hint:     the last id: it has no right neighbour, so it starts no pair, but it must still be kept
            (unless the pair before it used it)
  more help: checks.bpe.merge(your_function, more=True)
"""

from __future__ import annotations

import copy
import functools
import re
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import regex

from bltlib import bpe
from bltlib.bpe_train import train_merges_naive
from bltlib.checks.core import Case, CheckResult, Idea, Mistake, a_type, check

# A text whose training has a tie at the second merge: (97, 98) and (256, 97) are both seen twice.
LECTURE_TEXT = "aaabdaaabac"
LECTURE_IDS = list(LECTURE_TEXT.encode("utf-8"))
SPECIAL = "<|endoftext|>"
# Long enough for a few dozen merges; the accents make multi-byte characters part of the merges.
SMALL_TEXT = (
    "the cat sat on the mat; the hat sat on the cat. "
    "café au lait, café noir, naïve café. that is that, and this is this.\n"
)


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


_NONE = Idea(
    "return the answer",
    "your function returned None: it must end by returning the value it built (a function with no "
    "return statement, or one that only changes a variable or prints, returns None)",
    more="Python gives back None from every function that does not reach a return with a value. Building "
    "the right dict or list inside the function is not enough: the caller only sees what is returned.",
)


def _dict_form(actual: Any, expected: dict) -> Idea | None:
    if isinstance(actual, dict):
        return None
    if actual is None:
        return _NONE
    return Idea(
        "return a dict", f"a dict (or Counter) mapping each pair (a, b) to a number, not {a_type(actual)}"
    )


_FLAT = Idea(
    "one flat list",
    "your list holds lists: each id must be an item of the answer itself, so the ids of a piece are "
    "added one by one, not as one list item",
    more="Adding the ids [287, 273] to [] as one item gives [[287, 273]], a list of one list; adding its "
    "items gives [287, 273]. Lists have a method for each of the two.",
)


def _list_form(actual: Any, expected: list) -> Idea | None:
    if actual is None:
        return _NONE
    if not isinstance(actual, list):
        return Idea(
            "return a list",
            f"a list of ints, not {a_type(actual)}: the next steps index it, measure it and append to it",
        )
    if any(isinstance(x, list) for x in actual):
        return _FLAT
    if not all(type(x) is int for x in actual):
        kinds = sorted({type(x).__name__ for x in actual if type(x) is not int})
        return Idea("ids are ints", f"every token id is a Python int; yours holds {', '.join(kinds)}")
    return None


# ----------------------------------------------------------------------------- 1. get_stats

_NO_PAIR = Idea(
    "fewer than two ids",
    "a pair needs two neighbours: a list of fewer than two ids has no adjacent pair, so its counts are "
    "an empty dict",
    more="[] and [7] hold no pair; [7, 8] holds one, (7, 8). The answer is the dict of pair counts, and "
    "with no pair it is {}.",
)
_PAIRS = Idea(
    "count PAIRS",
    "the keys are pairs (a, b) of neighbouring ids, not single ids: [1, 2, 3] holds the pairs (1, 2) and "
    "(2, 3)",
    more="BPE merges two tokens that stand next to each other, so it counts how often each ordered couple "
    "of neighbours occurs. [5, 6, 5, 6] gives {(5, 6): 2, (6, 5): 1}: three neighbour positions, two "
    "different pairs.",
)
_EVERY_POSITION = Idea(
    "every adjacent position",
    "n ids have n - 1 adjacent pairs, from the first two ids to the last two; the last pair counts too",
    more="[1, 2, 3] has two neighbour positions: ids 0-1 give (1, 2) and ids 1-2 give (2, 3). A loop that "
    "stops one step early, or pairs each id with the one two steps ahead, misses or invents pairs. "
    "Answer {(1, 2): 1, (2, 3): 1}.",
)
_OVERLAP = Idea(
    "pairs overlap",
    "every adjacent position is counted, even when it shares an id with the previous pair: [1, 1, 1] "
    "holds (1, 1) twice, at positions 0-1 and 1-2",
    more="Counting is not merging: a count only looks, so neighbouring positions may share an id. In "
    "[1, 1, 1] positions 0-1 and 1-2 are both (1, 1): {(1, 1): 2}. (merge is the step where an id can be "
    "used once only.)",
)
_ORDER = Idea(
    "order inside a pair",
    "(2, 1) and (1, 2) are different pairs: 'ab' and 'ba' are different strings",
    more="In [2, 1, 1, 2] the pairs are (2, 1), (1, 1) and (1, 2), each once. Sorting a pair, or using a "
    "set, would make (2, 1) and (1, 2) the same key and count it twice.",
)
_COUNT = Idea(
    "count every occurrence",
    "the value is how many times the pair occurs, not whether it occurs",
    more="[256, 300, 256, 300] has (256, 300) at positions 0-1 and 2-3 and (300, 256) at 1-2: "
    "{(256, 300): 2, (300, 256): 1}. The most frequent pair is the one BPE merges next, so the counts must "
    "be right.",
)
_STATS_MISTAKES = (
    Mistake(lambda ids: dict(Counter(pairwise(ids[:-1]))), _EVERY_POSITION),
    Mistake(lambda ids: dict(Counter(zip(ids[::2], ids[1::2], strict=False))), _OVERLAP),
    Mistake(lambda ids: dict(Counter(ids)), _PAIRS),
    Mistake(lambda ids: dict(Counter(tuple(sorted(p)) for p in pairwise(ids))), _ORDER),
    Mistake(lambda ids: dict.fromkeys(pairwise(ids), 1), _COUNT),
)


def _stats_without_overlaps(ids: list[int]) -> dict:
    counts, i = {}, 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
        i += 2 if ids[i] == ids[i + 1] else 1
    return counts


_STATS_MISTAKES += (Mistake(_stats_without_overlaps, _OVERLAP),)

_START = Idea(
    "a new pair's count",
    "a dict holds no count for a pair it has not seen yet, so adding 1 to that count raises KeyError: "
    "the first time a pair is seen, its count starts from 0",
    more="Counting [1, 2, 3]: at (1, 2) the dict is empty, so there is no count to add 1 to; the count "
    "of a pair not yet in the dict is 0, and after it the dict holds (1, 2): 1. Either check whether the "
    "pair is already a key, or ask the dict for its value with a default for a missing key.",
)
_LAST_START = Idea(
    "no pair starts at the last id",
    "the last id has no right neighbour (and an empty list no first id): reading past the end raises "
    "IndexError. n ids have n - 1 pairs, the last one starting at the second-to-last id; [] and [7] have "
    "none",
    more="[7] has no pair at all; [1, 2, 3] has the pairs starting at positions 0 and 1, (1, 2) and "
    "(2, 3). A loop over every position i that also reads position i + 1 reaches past the end at the "
    "last id.",
)


def get_stats(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(ids) -> {(a, b): count}``: how often each adjacent pair of ids occurs.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("ids",)
    cases = [
        Case(([],), {}, label="empty list", hint=_NO_PAIR, names=names),
        Case(([7],), {}, label="a single id", hint=_NO_PAIR, names=names),
        Case(
            ([1, 2, 3],),
            {(1, 2): 1, (2, 3): 1},
            label="the last pair counts too",
            hint=_EVERY_POSITION,
            names=names,
        ),
        Case(([1, 1, 1],), {(1, 1): 2}, label="overlapping pairs", hint=_OVERLAP, names=names),
        Case(
            ([2, 1, 1, 2],),
            {(2, 1): 1, (1, 1): 1, (1, 2): 1},
            label="order inside a pair matters",
            hint=_ORDER,
            names=names,
        ),
        Case(
            ([256, 300, 256, 300],),
            {(256, 300): 2, (300, 256): 1},
            label="ids above 255",
            hint=_COUNT,
            names=names,
        ),
        Case(([5, 6, 5, 6, 5],), {(5, 6): 2, (6, 5): 2}, label="a pair seen twice", hint=_COUNT, names=names),
        Case(
            (LECTURE_IDS,),
            bpe.get_stats(LECTURE_IDS),
            label=f"the bytes of {LECTURE_TEXT!r}",
            hint=_COUNT,
            names=names,
        ),
    ]
    bytes_only = Idea(
        "ids above 255",
        "merged tokens have ids of 256 and more: count them like any other id (they are not bytes)",
        more="After the first merge the ids are no longer bytes: 256 names the first merged pair. Pair "
        "counting works on any integers.",
    )
    return check(
        "get_stats",
        fn,
        cases,
        compare=_same_dict,
        hint="return a dict mapping each pair (a, b) to its count",
        mistakes=_STATS_MISTAKES,
        form=_dict_form,
        errors=[
            (lambda exc: "range(0, 256)" in str(exc), bytes_only),
            (KeyError, _START),
            (IndexError, _LAST_START),
        ],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 2. merge


def _merge(ids: list[int], pair: tuple, idx: int, *, step: int = 2, first_only: bool = False) -> list[int]:
    """merge written out, with switches for the usual mistakes (the defaults give the right answer)."""
    out, i, done = [], 0, False
    while i < len(ids):
        if not done and i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += step
            done = first_only
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_drops_last(ids: list[int], pair: tuple, idx: int) -> list[int]:
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_unordered(ids: list[int], pair: tuple, idx: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and {ids[i], ids[i + 1]} == set(pair):
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_everywhere(ids: list[int], pair: tuple, idx: int) -> list[int]:
    """Every position that starts the pair becomes idx, and ids inside a pair are dropped."""
    out = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
        elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
            out.append(ids[i])
    return out


_SKIP = Idea(
    "skip past both ids",
    "after replacing a pair, carry on AFTER its second id: an id can be part of one replacement only, so "
    "[1, 1, 1] with the pair (1, 1) becomes [9, 1], not [9, 9] or [9, 1, 1]",
    more="Scan [1, 1, 1, 1] for (1, 1) from the left: ids 0-1 match, write 9 and move on to id 2 (id 1 is "
    "used up); ids 2-3 match, write 9; done: [9, 9]. In [5, 1, 2] with the pair (1, 2): id 0 is 5, kept; "
    "ids 1-2 match, write 9 and move to id 3, past the end: [5, 9]. Moving on by one after a match "
    "would look at id 2 again and keep it: [5, 9, 2].",
)
_LAST = Idea(
    "the last id",
    "it has no right neighbour, so it starts no pair, but it must still be kept (unless the pair before "
    "it used it)",
    more="merge([5, 1, 3], (1, 2), 9) finds no pair and returns [5, 1, 3]: every id is copied, the last "
    "one too. Only when looking at id i do you need id i + 1, and for the last id there is none, so "
    "it is copied as it is.",
)
_PAIR_ORDER = Idea(
    "order inside a pair",
    "the pair (1, 2) is 1 followed by 2: the neighbours 2, 1 are not that pair",
    more="merge([2, 1, 2], (1, 2), 9): ids 0-1 are (2, 1), not the pair, so 2 is kept; ids 1-2 are "
    "(1, 2), replaced: [2, 9].",
)
_EVERY = Idea(
    "every occurrence",
    "replace EVERY occurrence of the pair, scanning to the end of the list, not only the first",
    more="merge([1, 2, 5, 1, 2], (1, 2), 9) is [9, 5, 9]: after the first replacement the scan goes on.",
)
_NEW_LIST = Idea(
    "nothing to merge",
    "return a new list with every id that is not part of the pair copied over; for [] that is []",
)
_LAST_USED = Idea(
    "the last id may be used up",
    "the last id is left to copy only when the scan stops before it; when the last pair was replaced, "
    "the last id is already inside the new id and must not be added again",
    more="merge([5, 1, 2], (1, 2), 9): 5 is kept, then ids 1-2 match and become 9; the scan is past the "
    "end, and 2 is part of 9: [5, 9]. In merge([5, 1, 3], (1, 2), 9) nothing matches, the scan stops "
    "at 3 with no right neighbour, and 3 is copied: [5, 1, 3].",
)
_CHANGED_WHILE_SCANNING = Idea(
    "a new list",
    "your loop changes ids while it walks through it: removing or replacing items shifts every later "
    "position and shortens the list, so the loop reads past its new end. Build a separate list and leave "
    "ids as it was",
    more="With ids = [1, 2, 5, 1, 2], replacing the first pair inside ids leaves [9, 5, 1, 2]: 4 items, "
    "while a loop planned for 5 positions goes on to position 4, which no longer exists. Reading from "
    "ids and writing to a new list keeps every position where it was.",
)


def _changed_ids(before: list, after: list) -> Idea:
    return Idea(
        "a new list",
        f"merge changed the list it was given: ids was {before} and your call left it {after}. Build a new "
        "list and leave ids as it was: whoever called merge may still need the ids it passed",
        more="A caller that keeps the list it passed, say to count how many ids a merge saved, finds it "
        "changed as well: the ids before and after the merge are then one and the same list. The right "
        "answer returns [5, 9] for merge(ids, (1, 2), 9) with ids = [5, 1, 2], and ids is still "
        "[5, 1, 2] afterwards.",
    )


def _merge_appends_last(ids: list[int], pair: tuple, idx: int) -> list[int]:
    """Scans up to the last pair, then always adds the last id, even when the last pair used it."""
    return _merge_drops_last(ids, pair, idx) + ids[-1:]


def _watch_ids(fn: Callable) -> tuple[Callable, dict]:
    """``fn`` called through a wrapper that notes each call that changed its ``ids``: the answer (or the
    exception) of such a call, by ``id``, maps to the ids before and after. The answers live as long
    as the check that holds them, so an ``id`` is not reused while the check runs."""
    changed: dict[int, tuple[list, list]] = {}

    @functools.wraps(fn)
    def watched(ids: list, *args: Any, **kwargs: Any) -> Any:
        before = list(ids)
        try:
            answer = fn(ids, *args, **kwargs)
        except Exception as exc:
            if ids != before:
                changed[id(exc)] = (before, list(ids))
            raise
        if ids != before and answer is not None:
            changed[id(answer)] = (before, list(ids))
        return answer

    return watched, changed


_MERGE_MISTAKES = (
    Mistake(lambda ids, pair, idx: _merge(ids, pair, idx, step=1), _SKIP),
    Mistake(_merge_everywhere, _SKIP),
    Mistake(_merge_appends_last, _LAST_USED),
    Mistake(_merge_drops_last, _LAST),
    Mistake(_merge_unordered, _PAIR_ORDER),
    Mistake(lambda ids, pair, idx: _merge(ids, pair, idx, first_only=True), _EVERY),
)


def merge(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(ids, pair, idx) -> list``: every occurrence of ``pair`` replaced by ``idx``.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("ids", "pair", "idx")

    def case(ids: list, pair: tuple, idx: int, label: str, hint: Idea) -> Case:
        return Case((ids, pair, idx), bpe.merge(ids, pair, idx), label=label, hint=hint, names=names)

    cases = [
        case([], (1, 2), 9, "empty list", _NEW_LIST),
        case([1], (1, 2), 9, "a single id", _LAST),
        case([5, 1, 3], (1, 2), 9, "pair absent: every id kept", _LAST),
        case([5, 1, 2], (1, 2), 9, "the pair at the end", _SKIP),
        case([2, 1, 2], (1, 2), 9, "order inside a pair matters", _PAIR_ORDER),
        case([1, 2, 5, 1, 2], (1, 2), 9, "the pair twice", _EVERY),
        case([1, 1, 1], (1, 1), 9, "overlapping pairs", _SKIP),
        case([1, 1, 1, 1], (1, 1), 9, "two pairs back to back", _SKIP),
        case(LECTURE_IDS, (97, 97), 256, f"the bytes of {LECTURE_TEXT!r}", _SKIP),
    ]
    # A merge that changes the caller's ids is wrong however right its answer: the exercise asks for a
    # new list, and an in-place loop that deletes as it goes runs past the end of the shortened list.
    if callable(fn):
        fn, changed = _watch_ids(fn)
    else:
        changed = {}

    def compare(actual: Any, expected: list) -> bool:
        return id(actual) not in changed and _same_list(actual, expected)

    def form(actual: Any, expected: list) -> Idea | None:
        return _changed_ids(*changed[id(actual)]) if id(actual) in changed else _list_form(actual, expected)

    return check(
        "merge",
        fn,
        cases,
        compare=compare,
        hint="build and return a new list",
        mistakes=_MERGE_MISTAKES,
        form=form,
        errors=[(lambda exc: id(exc) in changed, _CHANGED_WHILE_SCANNING), (IndexError, _LAST)],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 3. train


def _train(
    ids: list[list[int]],
    num_merges: int,
    *,
    pick: Callable[[dict], tuple] | None = None,
    recount: bool = True,
    first_id: int = 256,
    count: Callable[[list[list[int]]], dict] | None = None,
    keep: bool = True,
) -> dict:
    """Naive BPE training over chunks of ids, with switches for the usual mistakes (``count`` takes the
    pair counts of all chunks; by default each pair's total over every chunk; ``keep=False`` drops what
    each merge returns, so every step counts the starting ids again)."""
    pick = pick or (lambda stats: min(stats, key=lambda p: (-stats[p], p)))
    merges: dict = {}
    frozen: list = []
    for idx in range(first_id, first_id + num_merges):
        if count is None:
            stats: dict = {}
            for chunk in ids:
                bpe.get_stats(chunk, stats)
        else:
            stats = count(ids)
        if not recount:  # counts taken once, before any merge: the best pairs of the raw text, in order
            if not frozen:
                frozen = sorted(stats, key=lambda p: (-stats[p], p))
            if len(merges) == len(frozen):
                break
            pair = frozen[len(merges)]
        elif not stats:
            break
        else:
            pair = pick(stats)
        if keep:
            ids = [bpe.merge(chunk, pair, idx) for chunk in ids]
        merges[pair] = idx
    return merges


def _train_text(text: str, vocab_size: int, **switches: Any) -> dict:
    return _train([list(text.encode("utf-8"))], vocab_size - 256, **switches)


_MOST = Idea(
    "merge the MOST frequent pair",
    "each step counts the pairs of the current ids and merges the pair seen most often",
    more="'abcabc' holds ab twice, bc twice and ca once. The first merge takes a pair seen twice (the tie "
    "rule picks ab), never ca: merging what is most frequent is what makes the text shortest.",
)
_TIE = Idea(
    "ties go to the smaller pair",
    "when two pairs are equally frequent, take the smaller pair, comparing the pairs as tuples of ids "
    "(first ids first, then second ids); not the pair seen first",
    more="'aaabdaaabac' first merges (97, 97) into 256: 'ZabdZabac'. Now (97, 98) ('ab') and (256, 97) "
    "('Za') are both seen twice. As tuples, (97, 98) < (256, 97) because 97 < 256, so ab becomes 257. "
    "The rule does not depend on the order pairs were counted in, which keeps every trainer's merges "
    "the same.",
)
_IDS = Idea(
    "new ids",
    "the 256 byte values are ids 0-255, so the first merge creates id 256, the next 257, and so on: "
    "vocab_size - 256 merges in all (none for vocab_size 256)",
    more="vocab_size counts every id of the final vocabulary, bytes included: 256 + 3 means three merges, "
    "with the new ids 256, 257 and 258, in the order they are learned.",
)
_RECOUNT = Idea(
    "count again after each merge",
    "a merge changes the ids, so the next merge is chosen from the counts of the NEW ids: merged tokens "
    "can pair up in turn",
    more="'aaaa': the first merge turns (97, 97) into 256, giving [256, 256]. Counting again finds "
    "(256, 256), merged into 257: the token 'aaaa'. Counts taken once, before any merge, never see a "
    "pair that includes a new token.",
)
_STOP = Idea(
    "stop when no pair is left",
    "when the whole text has become one token there is nothing to count: stop early and return the "
    "merges learned so far",
    more="'ab' with vocab_size 300: the first merge gives [256], one id, no pair. The answer has one merge, "
    "{(97, 98): 256}; asking for the most frequent pair of no pairs fails.",
)
_UTF8 = Idea(
    "train on UTF-8 bytes",
    "BPE starts from the bytes of the text, not its characters: 'é' is the two bytes 195, 169",
    more="'café' is 4 characters but 5 bytes: 99, 97, 102, 195, 169. Character numbers (233 for 'é') "
    "are not bytes; the first 256 ids are the 256 byte values.",
)
_KEEP_MERGED = Idea(
    "keep the merged ids",
    "merge returns a NEW list and leaves its input as it was: the next step must count the list merge "
    "returned. Counting the old ids again finds the same pair every time",
    more="'aaabdaaabac': the first merge turns (97, 97) into 256, and merge returns [256, 97, 98, 100, "
    "...]. If that list is not kept, the next count sees the bytes again, picks (97, 97) again and gives "
    "it id 257, then 258: one pair, learned over and over, is all the merges hold.",
)
_PAIR_TO_ID = Idea(
    "merges map a pair to its id",
    "the answer's keys are the pairs (a, b) and its values the new ids: {(97, 98): 256}, not {256: (97, 98)}",
    more="encode looks a pair up to find its new id, so the pair is the key. (A vocab, which maps an id "
    "to its bytes, goes the other way; the merges do not.)",
)


_TRAIN_MISTAKES = (
    Mistake(lambda text, v: _train_text(text, v, pick=lambda stats: min(stats, key=stats.get)), _MOST),
    Mistake(lambda text, v: _train_text(text, v, keep=False), _KEEP_MERGED),
    Mistake(lambda text, v: {i: p for p, i in _train_text(text, v).items()}, _PAIR_TO_ID),
    Mistake(lambda text, v: _train_text(text, v - 1), _IDS),
    Mistake(lambda text, v: _train([list(text)], v - 256), _UTF8),
    Mistake(lambda text, v: _train_text(text, v, pick=lambda s: min(s, key=lambda p: (-s[p], p[0]))), _TIE),
    Mistake(lambda text, v: _train_text(text, v, pick=lambda stats: max(stats, key=stats.get)), _TIE),
    Mistake(
        lambda text, v: _train_text(text, v, pick=lambda stats: max(stats, key=lambda p: (stats[p], p))), _TIE
    ),
    Mistake(lambda text, v: _train_text(text, v, recount=False), _RECOUNT),
    Mistake(lambda text, v: _train_text(text, v, first_id=257), _IDS),
    Mistake(lambda text, v: _train([list(text.encode("utf-8"))], v), _IDS),
    Mistake(lambda text, v: _train([[ord(c) for c in text]], v - 256), _UTF8),
)


def _empty_max(exc: Exception) -> bool:
    return isinstance(exc, ValueError) and "empty" in str(exc)


def train(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(text, vocab_size) -> {(a, b): new_id}``: byte-level BPE training, minbpe style.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("text", "vocab_size")

    def case(text: str, vocab_size: int, label: str, hint: Idea) -> Case:
        expected = _trained(text, vocab_size).merges
        return Case((text, vocab_size), expected, label=label, hint=hint, names=names)

    cases = [
        case("abab", 256, "vocab_size 256: no merges", _IDS),
        case("abcabc", 257, "one merge", _MOST),
        case(LECTURE_TEXT, 259, "a tie at merge 2", _TIE),
        case("aaaa", 258, "merging a merged token", _RECOUNT),
        case("ab", 300, "nothing left to merge", _STOP),
        case("naïve café", 262, "multi-byte characters", _UTF8),
        case(SMALL_TEXT, 300, "44 merges", _TIE),
    ]
    return check(
        "train",
        fn,
        cases,
        compare=_same_dict,
        hint=_MOST,
        mistakes=_TRAIN_MISTAKES,
        form=_dict_form,
        errors=[(_empty_max, _STOP)],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 4. encode


def _replay(text: str, merges: dict) -> list[int]:
    """The ids of ``text``: each merge applied to the whole list in the order learned (the same ids as
    merging the earliest-learned pair present, step by step)."""
    ids = list(text.encode("utf-8"))
    for pair, idx in merges.items():
        ids = bpe.merge(ids, pair, idx)
    return ids


def _encode_latest_first(text: str, merges: dict) -> list[int]:
    ids = list(text.encode("utf-8"))
    for pair, idx in reversed(merges.items()):
        ids = bpe.merge(ids, pair, idx)
    return ids


def _encode_most_frequent(text: str, merges: dict) -> list[int]:
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = {p: c for p, c in bpe.get_stats(ids).items() if p in merges}
        if not stats:
            break
        pair = max(stats, key=stats.get)
        ids = bpe.merge(ids, pair, merges[pair])
    return ids


def _encode_leftmost(text: str, merges: dict) -> list[int]:
    ids = list(text.encode("utf-8"))
    while True:
        found = next((p for p in pairwise(ids) if p in merges), None)
        if found is None:
            return ids
        ids = bpe.merge(ids, found, merges[found])


def _encode_code_points(text: str, merges: dict) -> list[int]:
    ids = [ord(c) for c in text]
    for pair, idx in merges.items():
        ids = bpe.merge(ids, pair, idx)
    return ids


_EARLIEST = Idea(
    "replay merges in the order they were learned",
    "at each step, of the pairs present in the ids, merge the one learned EARLIEST (the lowest new id); "
    "a later merge may be built from an earlier merge's token",
    more="Merges learned on 'aaabdaaabac': (97, 97) -> 256, (97, 98) -> 257, (256, 257) -> 258. Encode "
    "'aaab' = [97, 97, 97, 98]: the present pairs with a merge are (97, 97) (learned first) and (97, 98) "
    "(second). Merge the earliest: [256, 97, 98]; now (97, 98) is the earliest present: [256, 257]; then "
    "(256, 257): [258]. Taking the last-learned merges first would find nothing to build them from.",
)
_NOT_FREQUENT = Idea(
    "encoding does not count frequencies",
    "training chose merges by frequency; encoding replays them by learning order: the earliest-learned "
    "pair present, however often it occurs in this text",
    more="A pair that is frequent in the text you encode may have been learned late: merging it first "
    "can use up ids that an earlier merge needed, and give tokens training would never produce.",
)
_NOT_LEFTMOST = Idea(
    "earliest learned, not leftmost",
    "the next merge is the present pair with the LOWEST merge id, wherever it is in the text, not the "
    "first mergeable pair from the left",
    more=_EARLIEST.more,
)
_BYTES = Idea(
    "start from the UTF-8 bytes",
    "the merges were learned on bytes, so encoding starts from the bytes of the text: 'é' is 195, 169",
    more="With no merges at all, encode('é') is [195, 169]: the two UTF-8 bytes of the character, not "
    "its code point 233.",
)
_FEW = Idea(
    "fewer than two ids",
    "with fewer than two ids there is no pair to merge: return the ids as they are ([] for an empty text)",
    more="encode('d') is [100]: one byte, no pair, nothing to look up.",
)
_NO_MERGE = Idea(
    "stop when no present pair has a merge",
    "when none of the pairs in the ids was learned, encoding is done; a pair with no merge has no new id "
    "to look up",
    more="After 'aaab' became [258] there is no pair left; 'ad' = [97, 100] has the pair (97, 100), "
    "which was never learned: the answer is [97, 100].",
)
_UNLEARNED = Idea(
    "a pair never learned must lose",
    "a pair of the text that has no merge has no merge id: when you pick the pair with the lowest merge "
    "id, such a pair must rank after every learned pair, never before (and never as None, which cannot "
    "be compared with a number)",
    more="merges {(98, 99): 256, (97, 98): 257}, text 'abcbc' = [97, 98, 99, 98, 99]: its pairs are "
    "(97, 98) -> 257, (98, 99) -> 256 and (99, 98), never learned. The pick must be (98, 99): if (99, 98) "
    "counted as id 0 it would win, and encoding would stop at once with nothing merged. Give a pair "
    "with no merge a rank larger than any id, or leave it out of the choice.",
)


def _encode_by_rank(text: str, merges: dict, rank: Callable[[tuple], float]) -> list[int]:
    """Merge the present pair of lowest ``rank`` until it is not a learned pair."""
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pair = min(bpe.get_stats(ids), key=rank)
        if pair not in merges:
            break
        ids = bpe.merge(ids, pair, merges[pair])
    return ids


def _none_compared(exc: Exception) -> bool:
    return isinstance(exc, TypeError) and "NoneType" in str(exc)


_ENCODE_MISTAKES = (
    Mistake(_encode_latest_first, _EARLIEST),
    Mistake(lambda text, merges: _encode_by_rank(text, merges, lambda p: -merges.get(p, -1)), _EARLIEST),
    Mistake(lambda text, merges: _encode_by_rank(text, merges, lambda p: merges.get(p, 0)), _UNLEARNED),
    Mistake(_encode_most_frequent, _NOT_FREQUENT),
    Mistake(_encode_leftmost, _NOT_LEFTMOST),
    Mistake(_encode_code_points, _BYTES),
)


def encode(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(text, merges) -> ids``: apply learned merges to new text, earliest merge first.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    lecture = _trained(LECTURE_TEXT, 259).merges
    small = _trained(SMALL_TEXT, 300).merges
    bc_first = {(98, 99): 256, (97, 98): 257}  # 'bc' learned before 'ab'
    names = ("text", "merges")

    def case(text: str, merges: dict, label: str, hint: Idea) -> Case:
        return Case((text, merges), _replay(text, merges), label=label, hint=hint, names=names)

    cases = [
        case("", lecture, "empty text", _FEW),
        case("d", lecture, "one byte", _FEW),
        case("é", {}, "no merges: the UTF-8 bytes", _BYTES),
        case("ad", lecture, "a pair with no merge", _NO_MERGE),
        case("abc", bc_first, "the earliest merge is on the right", _NOT_LEFTMOST),
        case("abcbc", bc_first, "the earliest merge is the most frequent", _NOT_LEFTMOST),
        case("aaab", lecture, "merges build on merges", _EARLIEST),
        case("aaaaab", lecture, "a run of a's", _EARLIEST),
        case("the cat", small, "a seen phrase", _EARLIEST),
        case("that café hat", small, "multi-byte characters", _EARLIEST),
    ]
    return check(
        "encode",
        fn,
        cases,
        compare=_same_list,
        hint=_EARLIEST,
        mistakes=_ENCODE_MISTAKES,
        form=_list_form,
        errors=[(_empty_max, _FEW), (KeyError, _NO_MERGE), (_none_compared, _UNLEARNED)],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 5. decode

_JOIN_FIRST = Idea(
    "join the bytes, then decode once",
    "a character's bytes may be split across tokens ('é' is the bytes 0xc3 and 0xa9): join the bytes of "
    "ALL tokens first, then turn the whole byte string into text",
    more="ids [195, 169] are two one-byte tokens. Decoded one at a time, 0xc3 alone and 0xa9 alone are "
    "each invalid UTF-8 (two replacement characters); joined, b'\\xc3\\xa9' is 'é'.",
)
_REPLACE = Idea(
    "invalid UTF-8 is replaced, not an error",
    "a model can emit any ids, and not every byte sequence is valid UTF-8: decode must not crash, and "
    "must not silently drop bytes either; show each bad byte as the replacement character U+FFFD",
    more="ids [104, 255, 105]: 0xff never occurs in UTF-8. The answer is 'h\\ufffdi': the good bytes "
    "decoded, the bad one shown as '\\ufffd' (�). bytes.decode has an argument that chooses what happens "
    "to bad bytes; the default raises.",
)
_VOCAB = Idea(
    "look tokens up in vocab",
    "an id is a token, and vocab maps it to that token's bytes (one byte or many); ids of 256 and above "
    "are merged tokens, not characters",
    more="With merges, id 256 may stand for b'th' and 261 for b'the ': decoding [261, 99] joins b'the ' "
    "and b'c'. The character with number 261 has nothing to do with it.",
)
_UTF8_DECODE = Idea(
    "decode as UTF-8",
    "the bytes are UTF-8: 'é' is 0xc3 0xa9; other codecs (latin-1...) read each byte as a character",
    more="b'\\xc3\\xa9' read as UTF-8 is 'é'; read as latin-1 it is 'Ã©'.",
)


_TOKEN_BYTES = Idea(
    "tokens are bytes",
    "vocab gives each token as a bytes object (one byte or several), not as text and not as a number: "
    "put the tokens' bytes together into one bytes object, then decode it",
    more="vocab[104] is b'h' and vocab[261] may be b'the ': bytes, which join only with bytes (a str "
    "separator cannot join them), and each may hold several bytes (so it is no single byte value). "
    "[104, 105] -> b'h' and b'i' -> b'hi' -> 'hi'.",
)
_DECODE_NOT_STR = Idea(
    "decode the bytes",
    "str() of a bytes object is how it prints, b'...' with its quotes and escapes, not the text it "
    "holds: bytes become text by decoding them as UTF-8",
    more="str(b'hi') is the 5-character text \"b'hi'\"; decoding b'hi' as UTF-8 gives 'hi'. For no ids "
    "the bytes are b'' and the text is '', the empty string.",
)


def _vocab_bytes(ids: list[int], vocab: dict) -> bytes:
    return b"".join(vocab[i] for i in ids)


def _bytes_as_text(exc: Exception) -> bool:
    """A str join of bytes, or bytes() of a list of bytes objects."""
    return isinstance(exc, TypeError) and "bytes" in str(exc)


_DECODE_MISTAKES = (
    Mistake(lambda ids, vocab: str(_vocab_bytes(ids, vocab)), _DECODE_NOT_STR),
    Mistake(lambda ids, vocab: "".join(vocab[i].decode("utf-8", "replace") for i in ids), _JOIN_FIRST),
    Mistake(lambda ids, vocab: _vocab_bytes(ids, vocab).decode("utf-8", "ignore"), _REPLACE),
    Mistake(lambda ids, vocab: _vocab_bytes(ids, vocab).decode("latin-1"), _UTF8_DECODE),
    Mistake(lambda ids, vocab: "".join(chr(i) for i in ids), _VOCAB),
    Mistake(lambda ids, vocab: bytes(i for i in ids if i < 256).decode("utf-8", "replace"), _VOCAB),
)


def _str_form(actual: Any, expected: str) -> Idea | None:
    if isinstance(actual, str):
        return None
    if actual is None:
        return _NONE
    return Idea("return a str", f"the decoded text, not {a_type(actual)}")


def decode(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(ids, vocab) -> str``: join the tokens' bytes, then decode (bad UTF-8 becomes U+FFFD).

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    small = _trained(SMALL_TEXT, 300)
    vocab = small.vocab
    names = ("ids", "vocab")

    def case(ids: list, label: str, hint: Idea) -> Case:
        return Case((ids, vocab), small.decode(ids), label=label, hint=hint, names=names)

    cases = [
        case([], "no ids", _JOIN_FIRST),
        case([104, 105], "two bytes", _VOCAB),
        case(small.encode("the cat sat"), "merged tokens", _VOCAB),
        case([195, 169], "one character split over two tokens", _JOIN_FIRST),
        case([104, 255, 105], "invalid byte 0xff", _REPLACE),
        case([99, 97, 102, 195], "cut mid-character", _REPLACE),
    ]
    # Strict UTF-8 fails on a case's whole byte string only where it holds invalid UTF-8; failing on
    # other bytes means some tokens were decoded apart from the rest.
    whole = {_vocab_bytes(c.args[0], vocab) for c in cases}

    def piece_decoded(exc: Exception) -> bool:
        return isinstance(exc, UnicodeDecodeError) and bytes(exc.object) not in whole

    return check(
        "decode",
        fn,
        cases,
        hint=_JOIN_FIRST,
        mistakes=_DECODE_MISTAKES,
        form=_str_form,
        errors=[(piece_decoded, _JOIN_FIRST), (UnicodeDecodeError, _REPLACE), (_bytes_as_text, _TOKEN_BYTES)],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 6. special tokens


def _specials(text: str, special_tokens: dict, encode_ordinary: Callable, pattern: str) -> list[int]:
    ids: list[int] = []
    for piece in re.split(pattern, text) if pattern else [text]:
        if piece in special_tokens:
            ids.append(special_tokens[piece])
        elif piece:
            ids.extend(encode_ordinary(piece))
    return ids


def _escaped(special_tokens: dict) -> str:
    return "|".join(re.escape(s) for s in special_tokens)


_KEEP = Idea(
    "keep the special tokens when you split",
    "splitting on the special tokens must keep them in the result, so that each one can become its id; "
    "a split that throws the separators away loses them",
    more="'a<|endoftext|>b' should become the pieces 'a', '<|endoftext|>', 'b' -> ids of 'a', 300, ids "
    "of 'b'. In a regular expression, a group in parentheses makes re.split return the separators it "
    "matched along with the pieces between them.",
)
_ESCAPE = Idea(
    "special tokens are literal text",
    "'|' means OR in a regular expression (and '.', '*', '(' mean other things): a special token used as "
    "a pattern must have such characters escaped, so that it matches itself and nothing else",
    more="As a pattern, '<|endoftext|>' means '<' OR 'endoftext' OR '>': it matches every '<' in "
    "'if a < b'. The re module can escape a string for you, so that every character matches literally.",
)
_NOT_TEXT = Idea(
    "a special token is one id",
    "a special token is not text to encode: it becomes its single id from special_tokens, and only the "
    "text between special tokens goes through encode_ordinary",
    more="'the cat<|endoftext|>the hat' -> encode_ordinary('the cat') + [300] + "
    "encode_ordinary('the hat'). Encoding '<|endoftext|>' as text would give a dozen byte-level ids.",
)
_EMPTY_PIECES = Idea(
    "empty pieces",
    "a special token at either end (or two in a row) leaves empty pieces between them: they hold no "
    "text, so they add no ids",
    more="Splitting '<|endoftext|>x' keeps the separator and gives '', '<|endoftext|>', 'x': the empty "
    "piece adds nothing, the special token adds its id, 'x' its ids.",
)
_ALL_KINDS = Idea(
    "every special token",
    "look for every special token in special_tokens, not only the first or a fixed one",
    more="With {'<|endoftext|>': 300, '<|fim_middle|>': 301}, 'a<|fim_middle|>b' holds the second one: "
    "ids of 'a', 301, ids of 'b'.",
)
_SPECIAL_MISTAKES = (
    Mistake(lambda text, specials, enc: _specials(text, specials, enc, ""), _NOT_TEXT),
    Mistake(lambda text, specials, enc: _specials(text, specials, enc, _escaped(specials)), _KEEP),
    Mistake(
        lambda text, specials, enc: _specials(text, specials, enc, "(" + "|".join(specials) + ")"), _ESCAPE
    ),
    Mistake(
        lambda text, specials, enc: _specials(
            text, specials, enc, "(" + re.escape(next(iter(specials))) + ")"
        ),
        _ALL_KINDS,
    ),
)


def encode_with_specials(
    fn: Callable, *, raise_on_fail: bool = True, more: bool = False
) -> CheckResult | None:
    """Check ``fn(text, special_tokens, encode_ordinary) -> ids``: special tokens become their own id,
    the text between them goes through ``encode_ordinary`` (what ``allowed_special="all"`` does).

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    tokenizer = _trained(SMALL_TEXT, 300, pattern="gpt4")
    specials = {SPECIAL: 300, "<|fim_middle|>": 301}
    tokenizer.register_special_tokens(specials)
    names = ("text", "special_tokens", "encode_ordinary")

    plain = copy.deepcopy(tokenizer)
    plain.register_special_tokens({"<eot>": 300})  # no character a regular expression treats specially

    def case(text: str, label: str, hint: Idea = _KEEP, tok: bpe.Tokenizer = tokenizer) -> Case:
        expected = tok.encode(text, allowed_special="all")
        args = (text, tok.special_tokens, tok.encode_ordinary)
        return Case(args, expected, label=label, hint=hint, names=names)

    cases = [
        case("", "empty text", _EMPTY_PIECES),
        case("the cat", "no special token", _ESCAPE),
        case(f"the cat{SPECIAL}the hat", "one special token", _NOT_TEXT),
        case("the cat<eot>the hat", "a special token with no regex character", _NOT_TEXT, plain),
        case(f"{SPECIAL}the cat{SPECIAL}", "at both ends", _EMPTY_PIECES),
        case(f"a{SPECIAL}{SPECIAL}<|fim_middle|>b", "back to back, two kinds", _ALL_KINDS),
        case("if a < b or c | d: pass", "'<' and '|' in ordinary text", _ESCAPE),
        case("the <|endoftext marker, cut short", "an incomplete special token", _ESCAPE),
    ]
    return check(
        "encode_with_specials",
        fn,
        cases,
        compare=_same_list,
        hint=_KEEP,
        mistakes=_SPECIAL_MISTAKES,
        form=_list_form,
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 7. variant: train on chunks


def reference_train_chunks(chunks: list[str], vocab_size: int) -> dict:
    """BPE training that never merges across chunks: what ``RegexTokenizer.train`` does after its split.

    >>> reference_train_chunks(["ab", "ab", "ba"], 259)  # stops early: each chunk is one token
    {(97, 98): 256, (98, 97): 257}
    """
    return train_merges_naive([c.encode("utf-8") for c in chunks], vocab_size - 256)


def gpt4_chunks(text: str) -> list[str]:
    """``text`` split by GPT-4's pattern, as :class:`bltlib.bpe.RegexTokenizer` ("gpt4") splits it.

    >>> gpt4_chunks("the cat's hat, 2024!")
    ['the', ' cat', "'s", ' hat', ',', ' ', '202', '4', '!']
    """
    return regex.findall(bpe.GPT4_SPLIT_PATTERN, text)


def _chunk_ids(chunks: list[str]) -> list[list[int]]:
    return [list(c.encode("utf-8")) for c in chunks]


_BOUNDARY = Idea(
    "pairs never cross a chunk boundary",
    "count and merge pairs INSIDE each chunk only: the last id of one chunk and the first id of the next "
    "are not neighbours",
    more="['a', 'b'] holds no pair at all: 'a' and 'b' are in different chunks, so training stops at "
    "once and returns {}. Joining the chunks into 'ab' would learn (97, 98), a token that spans a word "
    "boundary; that is exactly what the regex split is there to prevent.",
)
_ALL_CHUNKS = Idea(
    "count over all chunks",
    "a pair's count is its total over EVERY chunk, and the chosen merge is applied in every chunk",
    more="['ab', 'cd', 'cd']: (97, 98) occurs once, (99, 100) twice (once in each 'cd'), so the first "
    "merge is (99, 100) -> 256, and both 'cd' chunks become [256].",
)
_REPEATS = Idea(
    "a repeated chunk counts each time",
    "a chunk that occurs k times contributes its pairs k times: the chunks are the text, repeats included",
    more="['cd', 'ab', 'cd'] is the text 'cd', 'ab', 'cd': (99, 100) is seen twice and wins. Counting each "
    "distinct chunk once would see a tie, which goes to (97, 98).",
)
_EACH_OCCURRENCE = Idea(
    "count every occurrence",
    "a pair that occurs twice inside one chunk counts twice: add the pair's count in each chunk, not 1 "
    "for each chunk that holds it",
    more="['abab', 'cd', 'cd']: 'abab' holds (97, 98) twice, so (97, 98) is seen twice in all, as is "
    "(99, 100) (once in each 'cd'); the tie goes to (97, 98). Adding 1 per chunk would give (97, 98) "
    "only 1 and merge (99, 100) first.",
)
_ADD_UP = Idea(
    "add the counts up",
    "a pair's count is the SUM of its counts in every chunk: storing one chunk's counts over the "
    "previous ones (as dict.update does) keeps only the last chunk's count",
    more="['cd', 'xcd', 'ab']: (99, 100) is once in 'cd' and once in 'xcd', 2 in all, and wins. Counts "
    "that overwrite each other say 1 for it, tied with (97, 98) and (120, 99), and the tie goes to "
    "(97, 98). Each chunk's count must be added to what the pair has so far.",
)


def _chunk_stats_once(chunks: list[list[int]]) -> dict:
    """1 per chunk that holds a pair, whatever its count there."""
    return dict(Counter(pair for chunk in chunks for pair in set(pairwise(chunk))))


def _chunk_stats_overwritten(chunks: list[list[int]]) -> dict:
    stats: dict = {}
    for chunk in chunks:
        stats.update(bpe.get_stats(chunk))
    return stats


_CHUNK_MISTAKES = (
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, count=_chunk_stats_once), _EACH_OCCURRENCE),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, count=_chunk_stats_overwritten), _ADD_UP),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, keep=False), _KEEP_MERGED),
    Mistake(lambda chunks, v: _train([list("".join(chunks).encode("utf-8"))], v - 256), _BOUNDARY),
    Mistake(lambda chunks, v: _train([list(" ".join(chunks).encode("utf-8"))], v - 256), _BOUNDARY),
    Mistake(lambda chunks, v: _train(_chunk_ids(list(dict.fromkeys(chunks))), v - 256), _REPEATS),
    Mistake(lambda chunks, v: _train(_chunk_ids(sorted(set(chunks))), v - 256), _REPEATS),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks[:1]), v - 256), _ALL_CHUNKS),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, recount=False), _RECOUNT),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, pick=lambda s: max(s, key=s.get)), _TIE),
    Mistake(lambda chunks, v: _train(_chunk_ids(chunks), v - 256, pick=lambda s: min(s, key=s.get)), _MOST),
)


def train_chunks(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(chunks, vocab_size) -> {(a, b): new_id}``: BPE training on a text already split into
    chunks (a list of strings), where pairs never cross from one chunk into the next.

    The last case splits a text with GPT-4's pattern (:func:`gpt4_chunks`) and expects the merges of
    ``bltlib.bpe.RegexTokenizer("gpt4")`` trained on that text. ``more=True`` explains a failure at
    length, with a worked example and the verdict on every case.

    >>> train_chunks(reference_train_chunks)
    ✓ train_chunks: all 10 cases pass
    """
    names = ("chunks", "vocab_size")

    def case(chunks: list[str], vocab_size: int, label: str, hint: Idea) -> Case:
        expected = reference_train_chunks(chunks, vocab_size)
        return Case((chunks, vocab_size), expected, label=label, hint=hint, names=names)

    cases = [
        case([], 260, "no chunks: nothing to merge", _STOP),
        case(["ab", "ab"], 257, "two chunks, one merge", _ALL_CHUNKS),
        case(["a", "b"], 258, "a pair across two chunks is no pair", _BOUNDARY),
        case(["cd", "ab", "cd"], 257, "a repeated chunk", _REPEATS),
        case(["ab", "cd", "cd"], 257, "counts over all chunks", _ALL_CHUNKS),
        case(["cd", "xcd", "ab"], 257, "one pair in two different chunks", _ADD_UP),
        case(["abab", "cd", "cd"], 257, "a pair twice in one chunk", _EACH_OCCURRENCE),
        case(["aaaa", "aa"], 259, "merges build on merges, per chunk", _RECOUNT),
        case(["the", " cat", " sat", " the", " hat"], 266, "words with their spaces", _BOUNDARY),
        case(gpt4_chunks(SMALL_TEXT), 300, "SMALL_TEXT split by GPT-4's pattern", _TIE),
    ]
    return check(
        "train_chunks",
        fn,
        cases,
        compare=_same_dict,
        hint=_ALL_CHUNKS,
        mistakes=_CHUNK_MISTAKES,
        form=_dict_form,
        errors=[(_empty_max, _STOP)],
        more=more,
        lesson="bpe",
        raise_on_fail=raise_on_fail,
    )


__all__ = [
    "decode",
    "encode",
    "encode_with_specials",
    "get_stats",
    "gpt4_chunks",
    "merge",
    "reference_train_chunks",
    "train",
    "train_chunks",
]
