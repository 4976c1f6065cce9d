"""Learning BPE merges: the naive reference trainer and the fast incremental one.

Both trainers take *chunks* (byte strings the merges may not cross, e.g. the pieces a split regex cut
the text into) and learn ``num_merges`` merges, numbered from 256 up. They follow one rule, so their
merges are identical:

- each step merges the adjacent pair with the highest count, counting overlapping pairs
  (``b"aaa"`` holds ``(97, 97)`` twice), and replaces it left to right without overlap;
- **ties go to the smallest pair**: among pairs with the same count, the one that sorts first as a
  tuple of ids, e.g. ``(97, 98)`` before ``(97, 99)`` before ``(256, 97)``;
- training stops early when no pair is left (every chunk is a single token).

>>> train_merges_naive([b"aaabdaaabac"], 3)
{(97, 97): 256, (97, 98): 257, (256, 257): 258}
>>> train_merges({b"aaabdaaabac": 1}, 3)
{(97, 97): 256, (97, 98): 257, (256, 257): 258}
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
from tqdm.auto import tqdm

Pair = tuple[int, int]

# Show a progress bar on their own when training is this long, even without verbose.
_PROGRESS_MIN_MERGES = 5000
_BIG = 1 << 62
_ID_MASK = (1 << 21) - 1


def _heap_key(count: int, pair: str) -> int:
    """One int that orders like ``(-count, pair)``: a heap of ints compares far faster than of tuples.

    Token ids fit in 21 bits (``chr`` stops at 0x10FFFF), counts below ``_BIG``.

    >>> _heap_key(5, "ab") < _heap_key(5, "ac") < _heap_key(4, "ab")
    True
    """
    return (_BIG - count) << 42 | ord(pair[0]) << 21 | ord(pair[1])


def get_stats(ids: list[int], counts: dict[Pair, int] | None = None) -> dict[Pair, int]:
    """Count adjacent pairs in ``ids``, adding to ``counts`` if given (overlapping pairs all count).

    >>> get_stats([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_stats([7, 7, 7])
    {(7, 7): 2}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: Pair, idx: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``idx``, scanning left to right.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)
    [8, 7]
    """
    out = []
    i, n = 0, len(ids)
    first, second = pair
    while i < n:
        if ids[i] == first and i + 1 < n and ids[i + 1] == second:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _best_pair(stats: dict[Pair, int]) -> Pair:
    """Highest count, ties to the smallest pair: ``{(2, 1): 5, (1, 3): 5, (0, 9): 4}`` -> ``(1, 3)``."""
    return min(stats, key=lambda pair: (-stats[pair], pair))


def _progress(num_merges: int, verbose: bool) -> tqdm:
    show = verbose or num_merges >= _PROGRESS_MIN_MERGES
    return tqdm(total=num_merges, desc="BPE merges", unit="merge", disable=not show)


def train_merges_naive(chunks: Iterable[bytes], num_merges: int, verbose: bool = False) -> dict[Pair, int]:
    """The textbook trainer: recount every pair of every chunk at each step (minbpe's loop).

    O(merges x text): use it to check the fast trainer and to see why we need one.

    >>> train_merges_naive([b"ab", b"ab", b"ba"], 3)  # stops early: each chunk is one token
    {(97, 98): 256, (98, 97): 257}
    """
    ids = [list(chunk) for chunk in chunks]
    merges: dict[Pair, int] = {}
    with _progress(num_merges, verbose) as bar:
        for idx in range(256, 256 + num_merges):
            stats: dict[Pair, int] = {}
            for chunk_ids in ids:
                get_stats(chunk_ids, stats)
            if not stats:
                break
            pair = _best_pair(stats)
            ids = [merge(chunk_ids, pair, idx) for chunk_ids in ids]
            merges[pair] = idx
            bar.update()
    return merges


def train_merges(
    chunk_counts: Mapping[bytes, int], num_merges: int, verbose: bool = False
) -> dict[Pair, int]:
    """The fast trainer: same merges as :func:`train_merges_naive`, given each distinct chunk's count.

    Why it is fast: real text repeats its chunks (words), so we count each distinct chunk once and
    weight it; an index ``pair -> chunks holding it`` means a merge only touches the chunks it
    changes; only the pairs next to a merged position change count; and a lazy max-heap finds the
    best pair (an entry whose stored count is stale is re-pushed with the current one).

    A chunk is held as a ``str`` with one character per token id (``chr(id)``), so that ``str.replace``
    does a whole merge (left to right, no overlap) in C, and a pair is a 2-character string; the heap
    orders pairs as it would ``(int, int)`` tuples (see :func:`_heap_key`), so ties break the same way.

    >>> train_merges({b"ab": 2, b"ba": 1}, 3)
    {(97, 98): 256, (98, 97): 257}
    """
    chunks = [chunk for chunk, count in chunk_counts.items() if len(chunk) > 1 and count > 0]
    freqs = [chunk_counts[chunk] for chunk in chunks]
    # latin-1 maps each byte b to chr(b): the chunk's token string, decoded in C.
    words = [chunk.decode("latin-1") for chunk in chunks]
    stats, where = _index_byte_pairs(chunks, freqs)
    # heapq is a min-heap: the smallest key is the highest count and, on a tie, the smallest pair.
    heap = [_heap_key(count, pair) for pair, count in stats.items()]
    heapq.heapify(heap)

    merges: dict[Pair, int] = {}
    idx = 256
    with _progress(num_merges, verbose) as bar:
        while heap and len(merges) < num_merges:
            key = heapq.heappop(heap)
            pair = chr(key >> 21 & _ID_MASK) + chr(key & _ID_MASK)
            count = stats.get(pair, 0)
            if count != _BIG - (key >> 42):
                # Counts only ever fall for pairs already in the heap, so a stale entry is too high:
                # put it back with its true count and look again.
                if count > 0:
                    heapq.heappush(heap, _heap_key(count, pair))
                continue
            merges[ord(pair[0]), ord(pair[1])] = idx
            created = _apply_merge(words, freqs, where.pop(pair), pair, chr(idx), stats, where)
            for new_pair, new_count in created:
                heapq.heappush(heap, _heap_key(new_count, new_pair))
            idx += 1
            bar.update()
    return merges


def _index_byte_pairs(chunks: list[bytes], freqs: list[int]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Count the byte pairs of all chunks (each weighted by its chunk's count) and list the chunks that
    hold each pair (a chunk twice if it holds the pair twice), vectorised with numpy.

    >>> stats, where = _index_byte_pairs([b"aab", b"ab"], [3, 1])
    >>> dict(stats), dict(where)
    ({'aa': 3, 'ab': 4}, {'aa': [0], 'ab': [0, 1]})
    """
    stats: dict[str, int] = defaultdict(int)
    # pair -> chunks that held it; may list a chunk twice or one that lost the pair since (checked on use)
    where: dict[str, list[int]] = defaultdict(list)
    lengths = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
    flat = np.frombuffer(b"".join(chunks), dtype=np.uint8).astype(np.int64)
    owner = np.repeat(np.arange(len(chunks)), lengths)
    inside = owner[:-1] == owner[1:]  # the pair at (i, i + 1) lies within one chunk
    codes = (flat[:-1] * 256 + flat[1:])[inside]
    if codes.size == 0:
        return stats, where
    owners = owner[:-1][inside]
    counts = np.bincount(codes, weights=np.asarray(freqs, dtype=np.float64)[owners], minlength=1 << 16)
    order = np.argsort(codes, kind="stable")  # stable: each pair's chunks stay in chunk order
    codes, owners = codes[order], owners[order]
    starts = np.flatnonzero(np.diff(codes)) + 1
    for code, holders in zip(codes[np.r_[0, starts]].tolist(), np.split(owners, starts), strict=True):
        pair = chr(code >> 8) + chr(code & 255)
        stats[pair] = int(counts[code])
        where[pair] = holders.tolist()
    return stats, where


def _apply_merge(
    words: list[str],
    freqs: list[int],
    holders: list[int],
    pair: str,
    new: str,
    stats: dict[str, int],
    where: dict[str, list[int]],
) -> list[tuple[str, int]]:
    """Merge ``pair`` into the token ``new`` in the chunks ``holders``; update ``stats`` and ``where``.

    Returns the pairs the merge created, with their counts (all hold ``new``, so they are new pairs).
    """
    # new pair -> the chunks holding it, a chunk once per occurrence (so the counts follow from freqs)
    created: dict[str, list[int]] = defaultdict(list)
    for w in holders:
        word = words[w]
        merged = word.replace(pair, new)
        n = len(word)
        n_merged = n - len(merged)
        if n_merged == 0:
            continue  # listed twice, or an earlier merge took this chunk's occurrences
        freq = freqs[w]
        if n_merged == 1:
            # The common case: one occurrence at p; its left and right pairs change, nothing else.
            p = word.find(pair)
            if p > 0:
                stats[word[p - 1 : p + 1]] -= freq
                created[merged[p - 1 : p + 1]].append(w)
            if p + 2 < n:
                stats[word[p + 1 : p + 3]] -= freq
                created[merged[p : p + 2]].append(w)
        else:
            # Several occurrences (maybe side by side): recount the whole chunk, it is short.
            for k in range(n - 1):
                stats[word[k : k + 2]] -= freq
            for k in range(len(merged) - 1):
                two = merged[k : k + 2]
                if new in two:
                    created[two].append(w)
                else:
                    stats[two] += freq
        words[w] = merged
    del stats[pair]
    counts = []
    for new_pair, chunk_ids in created.items():
        count = stats[new_pair] = sum(map(freqs.__getitem__, chunk_ids))
        where[new_pair] = chunk_ids  # a new pair: it held no chunk before
        counts.append((new_pair, count))
    return counts
