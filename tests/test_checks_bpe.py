"""Lesson 1's checks pass the reference solutions, however written, and name the idea behind each
typical mistake without ever printing a line of the solution, at either level of help."""

import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from bltlib import bpe
from bltlib.checks import bpe as checks
from bltlib.checks.core import code_fragments, gives_away, markdown_cells, notebook_solutions
from tests.check_messages import assert_names_the_mistake, without_the_learners_line

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "01_bpe.ipynb"

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


def utf8_ids(text):
    return list(text.encode("utf-8"))


def train(text, vocab_size, pick=most_frequent_then_smallest, stop_when_done=True, start=utf8_ids, keep=True):
    """The reference answer; ``pick``, ``stop_when_done``, ``start`` (the first ids) and ``keep`` (the
    merged ids) let the wrong answers below vary one step."""
    ids, merges = start(text), {}
    for idx in range(256, vocab_size):
        stats = get_stats(ids)
        if not stats and stop_when_done:
            break
        pair = pick(stats)
        merged = merge(ids, pair, idx)
        ids = merged if keep else ids
        merges[pair] = idx
    return merges


def merge_id_or_infinity(merges, pair):
    return merges.get(pair, float("inf"))


def encode(text, merges, rank=merge_id_or_infinity):
    """The reference answer; ``rank`` (the pair of lowest rank is merged next) lets the wrong answers
    below vary one step."""
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = get_stats(ids)
        pair = min(stats, key=lambda p: rank(merges, p))
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


def add_counts(stats, chunk):
    for pair, count in get_stats(chunk).items():
        stats[pair] = stats.get(pair, 0) + count


def train_chunks(chunks, vocab_size, pick=most_frequent_then_smallest, count=add_counts, keep=True):
    """The reference answer; ``pick``, ``count`` (a chunk's pairs into the counts) and ``keep`` (the
    merged ids) let the wrong answers below vary one step."""
    ids, merges = [list(chunk.encode("utf-8")) for chunk in chunks], {}
    for idx in range(256, vocab_size):
        stats = {}
        for chunk in ids:
            count(stats, chunk)
        if not stats:
            break
        pair = pick(stats)
        merged = [merge(chunk, pair, idx) for chunk in ids]
        ids = merged if keep else ids
        merges[pair] = idx
    return merges


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


def stats_unordered(ids):
    return dict(Counter(tuple(sorted(p)) for p in pairwise(ids)))


def stats_presence_only(ids):
    return {pair: 1 for pair in pairwise(ids)}


def stats_from_bytes(ids):
    return dict(Counter(pairwise(bytes(ids))))


def merge_no_skip(ids, pair, idx):
    """Moves on by one after a match, so the second id of the pair is kept as well."""
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
        else:
            out.append(ids[i])
        i += 1
    return out


def merge_first_only(ids, pair, idx):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [idx] + ids[i + 2 :]
    return list(ids)


def merge_no_bounds(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_largest_pair_on_ties(text, vocab_size):
    return train(text, vocab_size, pick=lambda stats: max(stats, key=lambda p: (stats[p], p)))


def train_counts_once(text, vocab_size):
    ids = list(text.encode("utf-8"))
    stats = get_stats(ids)
    ranked = sorted(stats, key=lambda p: (-stats[p], p))[: vocab_size - 256]
    return {pair: 256 + i for i, pair in enumerate(ranked)}


def train_on_code_points(text, vocab_size):
    return train(text, vocab_size, start=lambda text: [ord(c) for c in text])


def train_ids_from_257(text, vocab_size):
    return {pair: idx + 1 for pair, idx in train(text, vocab_size).items()}


def encode_leftmost_first(text, merges):
    ids = list(text.encode("utf-8"))
    while True:
        pair = next((p for p in pairwise(ids) if p in merges), None)
        if pair is None:
            return ids
        ids = merge(ids, pair, merges[pair])


def encode_code_points(text, merges):
    ids = [ord(c) for c in text]
    for pair, idx in merges.items():
        ids = merge(ids, pair, idx)
    return ids


def encode_no_length_check(text, merges):
    ids = list(text.encode("utf-8"))
    while True:
        stats = get_stats(ids)
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            return ids
        ids = merge(ids, pair, merges[pair])


def encode_never_stops_looking(text, merges):
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = get_stats(ids)
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        ids = merge(ids, pair, merges[pair])  # KeyError for a pair that was never learned
    return ids


def decode_ignoring_errors(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore")


def decode_chr(ids, vocab):
    return "".join(chr(i) for i in ids)


def decode_latin1(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("latin-1")


def specials_first_kind_only(text, special_tokens, encode_ordinary):
    first = next(iter(special_tokens))
    return encode_with_specials(text, {first: special_tokens[first]}, encode_ordinary) if text else []


def chunks_joined(chunks, vocab_size):
    return train("".join(chunks), vocab_size)


def chunks_distinct(chunks, vocab_size):
    return train_chunks(list(set(chunks)), vocab_size)


def chunks_first_only(chunks, vocab_size):
    return train_chunks(chunks[:1], vocab_size)


def chunks_first_seen_ties(chunks, vocab_size):
    return train_chunks(chunks, vocab_size, pick=lambda stats: max(stats, key=stats.get))


# Wrong answers found in a review of the checks: each was told about another idea (or passed).


def stats_count_never_started(ids):
    counts = {}
    for pair in pairwise(ids):
        counts[pair] += 1  # KeyError: a pair seen for the first time has no count yet
    return counts


def stats_one_past_the_end(ids):
    counts = {}
    for i in range(len(ids)):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def stats_without_return(ids):
    counts = {}
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1


def merge_in_place(ids, pair, idx):
    """The right ids, but written into the caller's list: the exercise asks for a new list."""
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            ids[i : i + 2] = [idx]
        i += 1
    return ids


def merge_deletes_while_looping(ids, pair, idx):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            ids[i] = idx
            del ids[i + 1]
    return ids


def merge_always_appends_last(ids, pair, idx):
    out, used = [], False
    for a, b in pairwise(ids):
        if used:
            used = False
        elif (a, b) == pair:
            out.append(idx)
            used = True
        else:
            out.append(a)
    return out + ids[-1:]  # the last id, even when the last pair used it


def train_one_merge_short(text, vocab_size):
    return train(text, vocab_size - 1)


def train_discards_merged_ids(text, vocab_size):
    """Calls merge without keeping the new list it returns."""
    return train(text, vocab_size, keep=False)


def train_on_characters(text, vocab_size):
    return train(text, vocab_size, start=list)


def train_id_to_pair(text, vocab_size):
    return {idx: pair for pair, idx in train(text, vocab_size).items()}


def train_ties_by_first_id(text, vocab_size):
    return train(text, vocab_size, pick=lambda stats: min(stats, key=lambda p: (-stats[p], p[0])))


def encode_get_without_default(text, merges):
    return encode(text, merges, rank=lambda merges, p: merges.get(p))  # None for a pair never learned


def encode_unlearned_pairs_win(text, merges):
    return encode(text, merges, rank=lambda merges, p: merges.get(p, 0))


def encode_latest_present_first(text, merges):
    """The present pair of HIGHEST merge id first."""
    return encode(text, merges, rank=lambda merges, p: -merges.get(p, -1))


def decode_str_join(ids, vocab):
    return "".join(vocab[i] for i in ids)


def decode_each_token_strictly(ids, vocab):
    return "".join(vocab[i].decode("utf-8") for i in ids)


def decode_with_str(ids, vocab):
    return str(b"".join(vocab[i] for i in ids))


def specials_appended_as_lists(text, special_tokens, encode_ordinary):
    """A piece's ids go in as one item: a list inside the list."""
    pieces = re.split("(" + "|".join(map(re.escape, special_tokens)) + ")", text)
    return [special_tokens[p] if p in special_tokens else encode_ordinary(p) for p in pieces if p]


def add_one_per_chunk(stats, chunk):
    for pair in get_stats(chunk):  # the keys only: 1 per chunk, whatever the count
        stats[pair] = stats.get(pair, 0) + 1


def chunks_count_pairs_once_per_chunk(chunks, vocab_size):
    return train_chunks(chunks, vocab_size, count=add_one_per_chunk)


def chunks_counts_overwritten(chunks, vocab_size):
    # dict.update replaces a pair's count with this chunk's instead of adding to it
    return train_chunks(chunks, vocab_size, count=lambda stats, chunk: stats.update(get_stats(chunk)))


def chunks_merged_ids_discarded(chunks, vocab_size):
    """Merges with `for chunk in ids: chunk = merge(...)`, which leaves ids holding the old lists."""
    return train_chunks(chunks, vocab_size, keep=False)


# ------------------------------------------------------------------ tests

CORRECT = [
    (checks.get_stats, get_stats),
    (checks.merge, merge),
    (checks.train, train),
    (checks.encode, encode),
    (checks.decode, decode),
    (checks.encode_with_specials, encode_with_specials),
    (checks.train_chunks, train_chunks),
]


@pytest.mark.parametrize(("check", "solution"), CORRECT, ids=[c.__name__ for c, _ in CORRECT])
def test_the_reference_solution_passes(check, solution, capsys):
    assert check(solution, raise_on_fail=False).passed
    # The notebook form prints the pass line and returns nothing, so the cell shows only that line.
    assert check(solution) is None
    assert check(solution, more=True) is None
    assert capsys.readouterr().out.count("✓") == 3


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


def train_chunks_with_counts(chunks, vocab_size):
    """Another right answer: each distinct chunk once, weighted by how often it occurs (the fast way)."""
    counts = Counter(chunks)
    ids = {chunk: list(chunk.encode("utf-8")) for chunk in counts}
    merges = {}
    for idx in range(256, vocab_size):
        stats = Counter()
        for chunk, chunk_ids in ids.items():
            for pair in pairwise(chunk_ids):
                stats[pair] += counts[chunk]
        if not stats:
            break
        pair = most_frequent_then_smallest(stats)
        ids = {chunk: merge(chunk_ids, pair, idx) for chunk, chunk_ids in ids.items()}
        merges[pair] = idx
    return merges


OTHER_RIGHT_ANSWERS = [
    (checks.encode, encode_merge_by_merge),
    (checks.get_stats, stats_with_counter),
    (checks.decode, decode_with_bytearray),
    (checks.train_chunks, train_chunks_with_counts),
    (checks.train_chunks, checks.reference_train_chunks),
]


@pytest.mark.parametrize(
    ("check", "answer"), OTHER_RIGHT_ANSWERS, ids=[a.__name__ for _, a in OTHER_RIGHT_ANSWERS]
)
def test_other_right_answers_pass_too(check, answer):
    assert check(answer, raise_on_fail=False).passed


def test_bltlibs_own_functions_pass():
    assert checks.get_stats(bpe.get_stats, raise_on_fail=False).passed
    assert checks.merge(bpe.merge, raise_on_fail=False).passed


def test_the_chunk_variant_matches_the_regex_tokenizer():
    # The last train_chunks case expects what RegexTokenizer("gpt4") learns from the unsplit text.
    tokenizer = bpe.RegexTokenizer("gpt4")
    tokenizer.train(checks.SMALL_TEXT, 300)
    assert checks.reference_train_chunks(checks.gpt4_chunks(checks.SMALL_TEXT), 300) == tokenizer.merges


# (check, wrong answer, words of the case it must fail on, the idea its hint must name)
MISTAKES = [
    (checks.get_stats, stats_missing_last_pair, "the last pair counts too", "every adjacent position"),
    (checks.get_stats, stats_of_single_ids, "a single id", "count PAIRS"),
    (checks.get_stats, stats_without_overlaps, "overlapping pairs", "pairs overlap"),
    (checks.get_stats, stats_unordered, "order inside a pair", "order inside a pair"),
    (checks.get_stats, stats_presence_only, "overlapping pairs", "count every occurrence"),
    (checks.get_stats, stats_from_bytes, "ids above 255", "ids above 255"),
    (checks.merge, merge_overlapping_twice, "overlapping pairs", "skip past both ids"),
    (checks.merge, merge_no_skip, "the pair at the end", "skip past both ids"),
    (checks.merge, merge_drops_last, "a single id", "the last id"),
    (checks.merge, merge_no_bounds, "a single id", "the last id"),
    (checks.merge, merge_unordered_pair, "order inside a pair matters", "order inside a pair"),
    (checks.merge, merge_first_only, "the pair twice", "every occurrence"),
    (checks.train, train_with_min, "one merge", "merge the MOST frequent pair"),
    (checks.train, train_first_seen_ties, "a tie at merge 2", "ties go to the smaller pair"),
    (checks.train, train_largest_pair_on_ties, "one merge", "ties go to the smaller pair"),
    (checks.train, train_counts_once, "a tie at merge 2", "count again after each merge"),
    (checks.train, train_never_stops, "nothing left to merge", "stop when no pair is left"),
    (checks.train, train_on_code_points, "multi-byte characters", "train on UTF-8 bytes"),
    (checks.train, train_ids_from_257, "one merge", "new ids"),
    (checks.encode, encode_latest_merge_first, "on the right", "replay merges in the order"),
    (checks.encode, encode_most_frequent_first, "on the right", "encoding does not count frequencies"),
    (checks.encode, encode_leftmost_first, "on the right", "earliest learned, not leftmost"),
    (checks.encode, encode_code_points, "no merges: the UTF-8 bytes", "start from the UTF-8 bytes"),
    (checks.encode, encode_no_length_check, "empty text", "fewer than two ids"),
    (checks.encode, encode_never_stops_looking, "no merges", "stop when no present pair"),
    (checks.decode, decode_strict, "invalid byte 0xff", "invalid UTF-8 is replaced"),
    (checks.decode, decode_ignoring_errors, "invalid byte 0xff", "invalid UTF-8 is replaced"),
    (checks.decode, decode_token_by_token, "one character split over two tokens", "join the bytes"),
    (checks.decode, decode_chr, "merged tokens", "look tokens up in vocab"),
    (checks.decode, decode_latin1, "one character split over two tokens", "decode as UTF-8"),
    (checks.encode_with_specials, specials_as_text, "one special token", "a special token is one id"),
    (checks.encode_with_specials, specials_dropped, "one special token", "keep the special tokens"),
    (checks.encode_with_specials, specials_unescaped, "one special token", "special tokens are literal"),
    (checks.encode_with_specials, specials_first_kind_only, "two kinds", "every special token"),
    (checks.train_chunks, chunks_joined, "across two chunks", "pairs never cross a chunk boundary"),
    (checks.train_chunks, chunks_distinct, "a repeated chunk", "a repeated chunk counts each time"),
    (checks.train_chunks, chunks_first_only, "counts over all chunks", "count over all chunks"),
    (checks.train_chunks, chunks_first_seen_ties, "words with their spaces", "ties go to the smaller pair"),
    # found in review: each of these was told about another idea, or passed
    (checks.get_stats, stats_count_never_started, "the last pair counts too", "a new pair's count"),
    (checks.get_stats, stats_one_past_the_end, "a single id", "no pair starts at the last id"),
    (checks.get_stats, stats_without_return, "empty list", "return the answer"),
    (checks.merge, merge_in_place, "the pair at the end", "a new list"),
    (checks.merge, merge_deletes_while_looping, "the pair at the end", "a new list"),
    (checks.merge, merge_always_appends_last, "the pair at the end", "the last id may be used up"),
    (checks.train, train_one_merge_short, "one merge", "new ids"),
    (checks.train, train_discards_merged_ids, "a tie at merge 2", "keep the merged ids"),
    (checks.train, train_on_characters, "one merge", "train on UTF-8 bytes"),
    (checks.train, train_id_to_pair, "one merge", "merges map a pair to its id"),
    (checks.train, train_ties_by_first_id, "multi-byte characters", "ties go to the smaller pair"),
    (checks.encode, encode_get_without_default, "most frequent", "a pair never learned must lose"),
    (checks.encode, encode_unlearned_pairs_win, "most frequent", "a pair never learned must lose"),
    (checks.encode, encode_latest_present_first, "on the right", "replay merges in the order"),
    (checks.decode, decode_str_join, "two bytes", "tokens are bytes"),
    (checks.decode, decode_each_token_strictly, "one character split over two tokens", "join the bytes"),
    (checks.decode, decode_with_str, "no ids", "decode the bytes"),
    (checks.encode_with_specials, specials_appended_as_lists, "no special token", "one flat list"),
    (checks.train_chunks, chunks_count_pairs_once_per_chunk, "twice in one chunk", "count every occurrence"),
    (checks.train_chunks, chunks_counts_overwritten, "a repeated chunk", "add the counts up"),
    (checks.train_chunks, chunks_merged_ids_discarded, "merges build on merges", "keep the merged ids"),
]

# Every piece of code a message must not show: the solutions above, the notebook's and bltlib's.
SOLUTIONS = {
    name: [globals()[name], *([source] if source else [])]
    for name, source in [(c.__name__, notebook_solutions(NOTEBOOK).get(c.__name__)) for c, _ in CORRECT]
}
SOLUTIONS["get_stats"].append(bpe.get_stats)
SOLUTIONS["merge"].append(bpe.merge)
SOLUTIONS["train_chunks"].append(checks.reference_train_chunks)


def _fragments(name):
    return set().union(*(code_fragments(s) for s in SOLUTIONS[name]))


@pytest.mark.parametrize(
    ("check", "wrong", "case", "concept"), MISTAKES, ids=[w.__name__ for _, w, _, _ in MISTAKES]
)
def test_each_mistake_is_named_and_no_solution_line_is_shown(check, wrong, case, concept):
    message, longer, result = assert_names_the_mistake(check, wrong, case, concept, lesson="bpe")
    assert result.idea.name.startswith(concept), message
    assert "call:" in message and len(message) < 1200, message
    assert "  cases:    " in longer
    fragments = _fragments(check.__name__)
    for text in (message, longer):
        text = without_the_learners_line(text)
        assert not gives_away(text, fragments), gives_away(text, fragments)


def test_a_hint_belongs_to_the_mistake_not_to_the_case():
    # Both fail case 2 (a single id), for different reasons, and are told different things.
    dropped = checks.merge(merge_drops_last, raise_on_fail=False)
    pairs = checks.get_stats(stats_of_single_ids, raise_on_fail=False)
    assert dropped.case_index == pairs.case_index == 1
    assert dropped.idea.name == "the last id" and pairs.idea.name == "count PAIRS"
    # Two mistakes failing on the same case: skipping one id only, and keeping the pair order loose.
    no_skip = checks.merge(merge_no_skip, raise_on_fail=False)
    assert no_skip.idea.name == "skip past both ids", no_skip.message


def test_the_second_level_shows_every_case_and_a_worked_example():
    message = checks.merge(merge_no_skip, raise_on_fail=False, more=True).message
    assert "✓ 1 (empty list)" in message and "✗ 4 (the pair at the end) -> skip past both ids" in message
    assert "[5, 9, 2]" in message  # the worked example walks through the very input that failed


def test_inputs_are_summarised_not_dumped():
    message = checks.decode(decode_strict, raise_on_fail=False).message
    call = next(line for line in message.splitlines() if "call:" in line)
    assert "vocab={0: b'\\x00', 1: b'\\x01', 2: b'\\x02', ..., " in call and "(300 items)" in call
    assert len(call) < 200, call
    message = checks.encode_with_specials(specials_as_text, raise_on_fail=False).message
    assert "encode_ordinary=Tokenizer.encode_ordinary (a function)" in message
    message = checks.train(train_first_seen_ties, raise_on_fail=False, more=True).message
    assert "differs:" not in message or "missing" in message


def test_a_long_answer_says_where_it_differs():
    message = checks.train_chunks(chunks_first_seen_ties, raise_on_fail=False).message
    assert "chunks=['the', ' cat', ' sat', ' the', ' hat']" in message, message
    assert "differs:  missing (104, 101): 257; not expected (116, 104): 257; " in message, message
    assert all(len(line) <= 160 for line in message.splitlines()), message
    message = checks.encode(encode_leftmost_first, raise_on_fail=False, more=True).message
    assert "merges={(98, 99): 256, (97, 98): 257}" in message


def test_the_exercise_markdown_gives_no_solution_away():
    fragments = set().union(*(_fragments(c.__name__) for c, _ in CORRECT))
    giveaways = [
        "min(stats, key=lambda p: (-stats[p], p))",
        'merges.get(p, float("inf"))',
        "re.escape(s) for s in",
        'errors="replace"',
    ]
    for text in markdown_cells(NOTEBOOK):
        assert not gives_away(text, fragments), gives_away(text, fragments)
        assert not gives_away(text, {re.sub(r"\s+", "", g).replace("'", '"') for g in giveaways}), text


def test_a_stub_is_told_to_write_code():
    def stub(*args):
        raise NotImplementedError()

    result = checks.merge(stub, raise_on_fail=False)
    assert not result.passed and "YOUR CODE HERE" in result.message and "more help" not in result.message


def test_a_tuple_is_not_accepted_for_a_list():
    result = checks.merge(lambda ids, pair, idx: tuple(merge(ids, pair, idx)), raise_on_fail=False)
    assert not result.passed and "got a tuple, expected a list" in result.message
    assert result.idea.name == "return a list"


def test_a_merge_that_changes_its_ids_is_told_so_whatever_it_returns():
    # Its answer is right, but the caller's list now holds it too: the exercise asks for a new list.
    result = checks.merge(merge_in_place, raise_on_fail=False)
    assert "ids was [5, 1, 2] and your call left it [5, 9]" in " ".join(result.message.split())
    # An in-place loop that then runs past the shortened list is told the same, not "the last id".
    longer = checks.merge(merge_deletes_while_looping, raise_on_fail=False, more=True).message
    assert "✗ 6 (the pair twice) -> a new list" in longer, longer
    # The watch keeps what the check says of a non-function and of a right answer.
    assert "expected a function, got an int" in checks.merge(5, raise_on_fail=False).message
    assert checks.merge(merge, raise_on_fail=False).passed


def test_the_instructions_say_what_the_checks_enforce():
    steps = {text.split("\n")[0]: " ".join(text.split()) for text in markdown_cells(NOTEBOOK)}
    assert "`ids` itself left as it was" in steps["## Step 2: `merge`"]
    assert "a pair seen twice in one chunk counts twice" in steps["## Step 7 (a variant): train on chunks"]
