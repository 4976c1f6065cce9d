"""Byte-level BPE tokenizers (lesson 1), minbpe-compatible, with a fast trainer and a tiktoken export.

- :class:`BasicTokenizer` learns merges over the raw UTF-8 bytes of the whole text;
- :class:`RegexTokenizer` first splits the text with a regex (GPT-4's by default) so that merges
  never cross a chunk boundary (no token spans " dog." or "the\\n");
- both register special tokens, save/load a versioned text format, and export to ``tiktoken``.

>>> tok = BasicTokenizer()
>>> tok.train("aaabdaaabac", 256 + 3)
>>> tok.merges
{(97, 97): 256, (97, 98): 257, (256, 257): 258}
>>> tok.encode("aaabdaaabac"), tok.decode([258, 100, 258, 97, 99])
([258, 100, 258, 97, 99], 'aaabdaaabac')

Encoding follows tiktoken exactly (``tok.to_tiktoken().encode(s) == tok.encode(s)``): each chunk that
is itself a token becomes that token; otherwise its bytes are merged pairwise, always merging the
adjacent pair whose joined bytes have the lowest rank (token id), leftmost first on a tie.
"""

from __future__ import annotations

import heapq
import json
import os
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import regex

from bltlib.bpe_train import get_stats, merge, train_merges, train_merges_naive
from bltlib.pretokenize import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, NAMED_PATTERNS, Splitter

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "BasicTokenizer",
    "RegexTokenizer",
    "Tokenizer",
    "encode_chunk",
    "get_stats",
    "merge",
    "render_token",
]


MODEL_HEADER = "bltlib-bpe v1"
# A BasicTokenizer does not split; exported to tiktoken, its "split" is one chunk per text.
_WHOLE_TEXT_PATTERN = r"[\s\S]+"


def render_token(b: bytes) -> str:
    r"""Printable form of a token's bytes: invalid UTF-8 becomes U+FFFD, control characters are escaped.

    >>> print(render_token(b"hi\n"), render_token(b"\xe2\x82"), render_token("é".encode()))
    hi\u000a � é
    """
    text = b.decode("utf-8", errors="replace")
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] == "C" else ch for ch in text)


class Tokenizer:
    """What every tokenizer has: merges, vocab, special tokens, encode/decode, save/load, export.

    ``merges`` maps a pair of ids to the id it merges into (ids 256, 257, ... in training order);
    ``vocab`` maps each id to its bytes; ``special_tokens`` maps a special string to its id;
    ``pattern`` is the split regex ("" for no split).
    """

    def __init__(self, pattern: str = "") -> None:
        self.pattern = pattern
        self._splitter = Splitter(pattern) if pattern else None
        self.merges: dict[tuple[int, int], int] = {}
        self.special_tokens: dict[str, int] = {}
        self._build_vocab()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab={len(self.vocab)}, special_tokens={len(self.special_tokens)})"

    # ------------------------------------------------------------------------------- training

    def train(self, text: str, vocab_size: int, verbose: bool = False, *, fast: bool = True) -> None:
        """Learn ``vocab_size - 256`` merges from ``text`` (replacing any earlier merges).

        Each step merges the most frequent adjacent pair (overlapping pairs all count); **ties go to
        the smallest pair as a tuple of ids**. Training stops early if no pair is left. ``fast=False``
        runs the naive reference trainer, which gives identical merges, only slower.

        >>> tok = RegexTokenizer()
        >>> tok.train("hello hello world", 256 + 4)
        >>> [render_token(tok.vocab[i]) for i in sorted(tok.merges.values())]
        ['el', 'hel', 'lo', 'hello']
        """
        _check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (one id per byte), got {vocab_size}")
        clash = {s: i for s, i in self.special_tokens.items() if i < vocab_size}
        if clash:
            raise ValueError(
                f"special token ids {clash} would collide with the ids training creates "
                f"(0..{vocab_size - 1}); register special tokens after training, with ids >= vocab_size"
            )
        start = time.perf_counter()
        if fast:
            counts = Counter(self._split(text))
            n_chunks = sum(counts.values())
            self.merges = train_merges(
                {c.encode("utf-8"): n for c, n in counts.items()}, vocab_size - 256, verbose
            )
        else:
            chunks = self._split(text)
            n_chunks = len(chunks)
            self.merges = train_merges_naive([c.encode("utf-8") for c in chunks], vocab_size - 256, verbose)
        self._build_vocab()
        if verbose:
            note = "" if len(self.vocab) == vocab_size else " (stopped early: no pair left to merge)"
            print(
                f"learned {len(self.merges)} merges from {n_chunks:,} chunks in "
                f"{time.perf_counter() - start:.2f}s; vocab size {len(self.vocab)}{note}"
            )

    # ---------------------------------------------------------------------------- special tokens

    def register_special_tokens(self, special_tokens: dict[str, int]) -> None:
        """Set the special tokens (replacing earlier ones), e.g. ``{"<|endoftext|>": 100257}``.

        Their ids must be distinct and not ids of the vocab (0..len(vocab)-1).
        """
        if not isinstance(special_tokens, dict):
            raise TypeError(f"special_tokens must be a dict str -> int, got {type(special_tokens).__name__}")
        seen: dict[int, str] = {}
        for name, idx in special_tokens.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"a special token must be a non-empty str, got {name!r}")
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise TypeError(f"the id of special token {name!r} must be an int, got {idx!r}")
            if idx < 0:
                raise ValueError(f"the id of special token {name!r} must be >= 0, got {idx}")
            if idx in self.vocab:
                raise ValueError(
                    f"special token {name!r} has id {idx}, which the vocab already uses "
                    f"(ids 0..{len(self.vocab) - 1}); pick an id >= {len(self.vocab)}"
                )
            if idx in seen:
                raise ValueError(f"special tokens {seen[idx]!r} and {name!r} share the id {idx}")
            seen[idx] = name
        self.special_tokens = dict(special_tokens)
        self._build_decoder()

    # -------------------------------------------------------------------------------- encoding

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text``, treating special-token strings as ordinary text.

        >>> BasicTokenizer().encode_ordinary("hé")
        [104, 195, 169]
        """
        _check_text(text)
        return self._encode_chunks(self._split(text), _ChunkCache(self._ranks))

    def encode(self, text: str, allowed_special: str | Collection[str] = "none_raise") -> list[int]:
        """Encode ``text``; ``allowed_special`` says which special tokens become their id (tiktoken's rules).

        - ``"none_raise"`` (default): none; a registered special string in the text raises ValueError
          (tiktoken's default, ``allowed_special=set(), disallowed_special="all"``);
        - ``"none"``: none; special strings are encoded as ordinary text (``disallowed_special=()``);
        - ``"all"``: all registered special tokens;
        - a set of special strings: those; any *other* registered special in the text raises.

        >>> tok = BasicTokenizer()
        >>> tok.register_special_tokens({"<|eot|>": 256})
        >>> tok.encode("hi<|eot|>", allowed_special="all")
        [104, 105, 256]
        >>> len(tok.encode("hi<|eot|>", allowed_special="none"))
        9
        """
        _check_text(text)
        allowed = self._allowed_specials(allowed_special)
        if allowed_special != "none":
            for name in sorted(self.special_tokens.keys() - allowed):
                if name in text:
                    raise ValueError(
                        f"the text contains the special token {name!r}, which is not allowed here: pass "
                        f"allowed_special={{{name!r}}} or 'all' to encode it as a special token, or "
                        "'none' to encode it as ordinary text"
                    )
        if not allowed:
            return self.encode_ordinary(text)
        # Longest first, so that a special token that extends another one wins.
        names = sorted(allowed, key=lambda s: (-len(s), s))
        parts = regex.split("(" + "|".join(regex.escape(s) for s in names) + ")", text)
        cache = _ChunkCache(self._ranks)
        ids: list[int] = []
        for i, part in enumerate(parts):
            if i % 2:  # the capturing group puts the specials at the odd positions
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self._encode_chunks(self._split(part), cache))
        return ids

    def _allowed_specials(self, allowed_special: str | Collection[str]) -> set[str]:
        if allowed_special in ("none", "none_raise"):
            return set()
        if allowed_special == "all":
            return set(self.special_tokens)
        if isinstance(allowed_special, str) or not isinstance(allowed_special, Collection):
            error = ValueError if isinstance(allowed_special, str) else TypeError
            raise error(
                f"allowed_special must be 'all', 'none', 'none_raise' or a set of special tokens, "
                f"got {allowed_special!r}"
            )
        unknown = [s for s in allowed_special if s not in self.special_tokens]
        if unknown:
            raise ValueError(
                f"allowed_special names {unknown[0]!r}, which is not a registered special token "
                f"(registered: {sorted(self.special_tokens)})"
            )
        return set(allowed_special)

    def _split(self, text: str) -> list[str]:
        """The chunks merges may not cross."""
        if self._splitter is None:
            return [text] if text else []
        chunks = self._splitter.findall(text)
        # GPT-2/4's patterns match every character (their last alternative is \s, the others take
        # letters, digits and all the rest), so only a custom pattern needs the (5%) check.
        if self.pattern not in NAMED_PATTERNS.values() and sum(map(len, chunks)) != len(text):
            raise ValueError(
                f"the split pattern {self.pattern!r} skips some characters of the text; a split pattern "
                r"must match every character (end it with an alternative such as |\s|[\s\S])"
            )
        return chunks

    def _encode_chunks(self, chunks: list[str], cache: _ChunkCache) -> list[int]:
        # map/chain run in C; the cache merges a chunk only the first time it is seen.
        return list(chain.from_iterable(map(cache.__getitem__, chunks)))

    # -------------------------------------------------------------------------------- decoding

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of ``ids`` (special tokens give their UTF-8 string).

        >>> BasicTokenizer().decode_bytes([104, 195])
        b'h\\xc3'
        """
        if isinstance(ids, Iterator):
            ids = list(ids)  # a generator can be read only once, and the slow path below reads again
        try:
            return b"".join(map(self._decoder.__getitem__, ids))
        except (KeyError, TypeError):
            # The slow path: say what is wrong, or accept ints of other types (numpy, torch).
            return b"".join(map(self._decoder.__getitem__, self._check_ids(ids)))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; bytes that are not valid UTF-8 become U+FFFD.

        >>> BasicTokenizer().decode([104, 105, 255])
        'hi�'
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def _check_ids(self, ids: object) -> list[int]:
        if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
            raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
        checked = []
        for pos, idx in enumerate(ids):
            try:
                idx = int(idx.__index__())
            except (AttributeError, TypeError, ValueError):
                raise TypeError(f"ids[{pos}] is {idx!r}, not an int") from None
            if idx not in self._decoder:
                specials = (
                    f" and special ids {sorted(self.special_tokens.values())}" if self.special_tokens else ""
                )
                raise ValueError(
                    f"ids[{pos}] = {idx} is not a token id: the vocab has ids "
                    f"0..{len(self.vocab) - 1}{specials}"
                )
            checked.append(idx)
        return checked

    # ------------------------------------------------------------------------------ vocabulary

    def _build_vocab(self) -> None:
        """Derive ``vocab`` from ``merges``, and the lookups encode and decode use."""
        vocab = {idx: bytes([idx]) for idx in range(256)}
        for (a, b), idx in sorted(self.merges.items(), key=lambda item: item[1]):
            vocab[idx] = vocab[a] + vocab[b]
        self.vocab = vocab
        # Two merges can spell the same bytes; encoding (like tiktoken) uses the lower id.
        self._ranks: dict[bytes, int] = {}
        for idx in sorted(vocab, reverse=True):
            self._ranks[vocab[idx]] = idx
        self._build_decoder()

    def _build_decoder(self) -> None:
        self._decoder = dict(self.vocab)
        self._decoder.update({idx: name.encode("utf-8") for name, idx in self.special_tokens.items()})

    def to_tiktoken(self, name: str = "bltlib") -> tiktoken.Encoding:
        """A ``tiktoken.Encoding`` with the same split, ranks (= ids) and special tokens.

        Its ``encode`` gives the same ids as ours. (If two merges spell the same bytes, only the lower
        id is in tiktoken's table: neither encoder ever emits the higher one.)
        """
        try:
            import tiktoken
        except ImportError as err:
            raise ImportError("to_tiktoken needs tiktoken: pip install tiktoken (or bltlib[dev])") from err
        return tiktoken.Encoding(
            name=name,
            pat_str=self.pattern or _WHOLE_TEXT_PATTERN,
            mergeable_ranks={b: idx for b, idx in self._ranks.items()},
            special_tokens=dict(self.special_tokens),
        )

    # ----------------------------------------------------------------------------- save / load

    def save(self, file_prefix: str | os.PathLike) -> None:
        """Write ``<prefix>.model`` (read back by :meth:`load`) and ``<prefix>.vocab`` (for people).

        The ``.model`` format, version 1, one item per line::

            bltlib-bpe v1
            pattern "<the split regex as a JSON string; "" for none>"
            special_tokens <n>
            "<special token as a JSON string>" <id>      (n lines)
            merges <m>
            <a> <b>                                      (m lines; line i merges into id 256 + i)
        """
        prefix = os.fspath(file_prefix)
        merges = sorted(self.merges.items(), key=lambda item: item[1])
        if [idx for _, idx in merges] != list(range(256, 256 + len(merges))):
            raise ValueError("merges must create the ids 256, 257, ... in order to be saved")
        lines = [MODEL_HEADER, f"pattern {json.dumps(self.pattern)}"]
        lines.append(f"special_tokens {len(self.special_tokens)}")
        lines += [f"{json.dumps(name)} {idx}" for name, idx in self.special_tokens.items()]
        lines.append(f"merges {len(merges)}")
        lines += [f"{a} {b}" for (a, b), _ in merges]
        Path(prefix + ".model").write_text("\n".join(lines) + "\n", encoding="utf-8")

        children = {idx: pair for pair, idx in self.merges.items()}
        with open(prefix + ".vocab", "w", encoding="utf-8") as f:
            for idx, token in self.vocab.items():
                if idx in children:
                    a, b = children[idx]
                    f.write(f"[{render_token(self.vocab[a])}][{render_token(self.vocab[b])}] -> ")
                f.write(f"[{render_token(token)}] {idx}\n")
            for name, idx in self.special_tokens.items():
                f.write(f"[{render_token(name.encode('utf-8'))}] {idx} (special)\n")

    def load(self, model_file: str | os.PathLike) -> None:
        """Read a ``.model`` file written by :meth:`save`; a bad one raises ValueError naming the line."""
        pattern, special_tokens, merges = _read_model(model_file)
        expected = _expected_pattern_kind(self)
        if expected is not None and bool(pattern) != expected:
            kind = "RegexTokenizer" if pattern else "BasicTokenizer"
            raise ValueError(
                f"{os.fspath(model_file)}: is a {kind} model; load it with {kind}.from_file "
                "or Tokenizer.from_file"
            )
        self.pattern = pattern
        self._splitter = Splitter(pattern) if pattern else None
        self.merges = merges
        self.special_tokens = {}
        self._build_vocab()
        self.special_tokens = special_tokens
        self._build_decoder()

    @classmethod
    def from_file(cls, model_file: str | os.PathLike) -> Tokenizer:
        """Load a ``.model`` file; ``Tokenizer.from_file`` picks Basic or Regex from the file's pattern."""
        if cls is Tokenizer:
            pattern = _read_model(model_file)[0]
            tokenizer: Tokenizer = RegexTokenizer(pattern) if pattern else BasicTokenizer()
        else:
            tokenizer = cls()
        tokenizer.load(model_file)
        return tokenizer


class BasicTokenizer(Tokenizer):
    """BPE over the raw bytes of the whole text: merges may cross words, spaces and punctuation."""

    def __init__(self) -> None:
        super().__init__("")


class RegexTokenizer(Tokenizer):
    """BPE within the chunks of a split regex: ``"gpt4"`` (default), ``"gpt2"``, or any regex string.

    >>> RegexTokenizer("gpt2")._split("Hello world's  end!!")
    ['Hello', ' world', "'s", ' ', ' end', '!!']
    """

    def __init__(self, pattern: str | None = None) -> None:
        if pattern is None:
            pattern = GPT4_SPLIT_PATTERN
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str (a regex, 'gpt2', 'gpt4'), got {type(pattern).__name__}")
        super().__init__(_check_pattern(NAMED_PATTERNS.get(pattern, pattern)))


# ------------------------------------------------------------------------------------- helpers


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        hint = " (decode bytes first: data.decode('utf-8'))" if isinstance(text, bytes | bytearray) else ""
        raise TypeError(f"text must be a str, got {type(text).__name__}{hint}")


def _check_pattern(pattern: str) -> str:
    if not pattern:
        raise ValueError("the split pattern is empty; use BasicTokenizer for no split")
    try:
        compiled = regex.compile(pattern)
    except regex.error as err:
        raise ValueError(f"invalid split pattern {pattern!r}: {err}") from None
    if compiled.groups:
        # findall would return the groups instead of the chunks.
        raise ValueError(f"the split pattern {pattern!r} has capturing groups; use non-capturing (?:...)")
    return pattern


def _expected_pattern_kind(tokenizer: Tokenizer) -> bool | None:
    """True if this tokenizer class needs a split pattern, False if it must have none, None if either."""
    if isinstance(tokenizer, BasicTokenizer):
        return False
    if isinstance(tokenizer, RegexTokenizer):
        return True
    return None


_BYTES = [bytes([b]) for b in range(256)]
_NO_RANK = 1 << 62  # ranks beyond any id: "this pair is not a token"
_SHORT_PIECE = 64  # up to here a plain scan is faster than a heap


def encode_chunk(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """tiktoken's byte-pair merge of one chunk: a chunk that is a token is that token; otherwise merge
    the adjacent parts whose joined bytes have the lowest rank (leftmost on a tie) until no joined pair
    is a token.

    >>> byte_ranks = {bytes([i]): i for i in range(256)}
    >>> encode_chunk(b"abc", byte_ranks | {b"bc": 256, b"ab": 257})
    [97, 256]
    >>> encode_chunk(b"abc", byte_ranks | {b"bc": 256, b"ab": 257, b"abc": 258})
    [258]
    """
    rank = ranks.get(piece)
    if rank is not None:
        return [rank]
    if len(piece) > _SHORT_PIECE:
        return _encode_long_piece(piece, ranks)
    parts = list(map(_BYTES.__getitem__, piece))
    get = ranks.get
    # pair_ranks[i]: the rank of parts[i] + parts[i + 1]; min() and index() scan it in C.
    pair_ranks = [get(piece[i : i + 2], _NO_RANK) for i in range(len(piece) - 1)]
    while pair_ranks:
        best = min(pair_ranks)
        if best == _NO_RANK:
            break
        i = pair_ranks.index(best)
        parts[i] += parts[i + 1]
        del parts[i + 1], pair_ranks[i]
        if i > 0:
            pair_ranks[i - 1] = get(parts[i - 1] + parts[i], _NO_RANK)
        if i < len(pair_ranks):
            pair_ranks[i] = get(parts[i] + parts[i + 1], _NO_RANK)
    return list(map(ranks.__getitem__, parts))


def _encode_long_piece(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """:func:`encode_chunk` in O(n log n) for long chunks (a BasicTokenizer's whole text, long runs of
    spaces): parts are a linked list of start offsets and the candidate merges sit in a heap.

    >>> ids = _encode_long_piece(b"a" * 101, {bytes([i]): i for i in range(256)} | {b"aa": 256})
    >>> ids == [256] * 50 + [97]
    True
    """
    n = len(piece)
    nxt = list(range(1, n + 1))  # nxt[i]: where the part starting at i ends; 0 once i is merged away
    prv = list(range(-1, n - 1))
    # An entry (rank, start, end) stands for merging the two parts that span piece[start:end].
    heap = [(r, i, i + 2) for i in range(n - 1) if (r := ranks.get(piece[i : i + 2])) is not None]
    heapq.heapify(heap)
    while heap:
        _, i, end = heapq.heappop(heap)
        j = nxt[i]
        if j == 0 or j >= n or nxt[j] != end:
            continue  # stale: part i was merged away, or its pair has changed since
        nxt[i], nxt[j] = end, 0
        if end < n:
            prv[end] = i
            if (r := ranks.get(piece[i : nxt[end]])) is not None:
                heapq.heappush(heap, (r, i, nxt[end]))
        p = prv[i]
        if p >= 0 and (r := ranks.get(piece[p:end])) is not None:
            heapq.heappush(heap, (r, p, end))
    ids = []
    i = 0
    while i < n:
        ids.append(ranks[piece[i : nxt[i]]])
        i = nxt[i]
    return ids


class _ChunkCache(dict):
    """chunk -> ids for one encode call: each distinct chunk is merged once, on first sight."""

    def __init__(self, ranks: dict[bytes, int]) -> None:
        super().__init__()
        self.ranks = ranks

    def __missing__(self, chunk: str) -> list[int]:
        ids = self[chunk] = encode_chunk(chunk.encode("utf-8"), self.ranks)
        return ids


def _read_model(model_file: str | os.PathLike) -> tuple[str, dict[str, int], dict[tuple[int, int], int]]:
    """Parse a version-1 ``.model`` file into (pattern, special_tokens, merges), checking every line."""
    path = os.fspath(model_file)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a bltlib BPE model (not UTF-8 text)") from None
    if lines and lines[-1] == "":
        lines.pop()
    reader = _LineReader(path, lines)

    header = reader.next("the header")
    if header != MODEL_HEADER:
        reader.fail(f"expected the header {MODEL_HEADER!r}, found {header[:60]!r}: not a bltlib BPE model")
    pattern = reader.json_str(reader.field("pattern"), "the pattern")
    if pattern:
        try:
            _check_pattern(pattern)
        except ValueError as err:
            reader.fail(str(err))

    special_tokens: dict[str, int] = {}
    for _ in range(reader.count(reader.field("special_tokens"), "special_tokens")):
        line = reader.next("a special token line")
        name_json, _, idx_text = line.rpartition(" ")
        name = reader.json_str(name_json, "a special token")
        idx = reader.integer(idx_text, "a special token id")
        if not name:
            reader.fail("a special token is empty")
        if name in special_tokens:
            reader.fail(f"duplicate special token {name!r}")
        if idx in special_tokens.values():
            reader.fail(f"special token {name!r} reuses the id {idx}")
        special_tokens[name] = idx

    merges: dict[tuple[int, int], int] = {}
    for idx in range(256, 256 + reader.count(reader.field("merges"), "merges")):
        fields = reader.next("a merge line").split(" ")
        if len(fields) != 2:
            reader.fail(f"a merge line is two ids 'a b', found {' '.join(fields)[:60]!r}")
        a, b = (reader.integer(x, "a merge id") for x in fields)
        if a >= idx or b >= idx:
            reader.fail(f"merge {a} {b} refers to an id not yet defined (this merge creates id {idx})")
        if (a, b) in merges:
            reader.fail(f"duplicate merge {a} {b}")
        merges[a, b] = idx
    if reader.pos < len(lines):
        reader.pos += 1
        reader.fail(f"unexpected text after the last merge: {lines[reader.pos - 1][:60]!r}")

    vocab_size = 256 + len(merges)
    for name, idx in special_tokens.items():
        if idx < vocab_size:
            raise ValueError(
                f"{path}: special token {name!r} has id {idx}, which a byte or merge uses "
                f"(0..{vocab_size - 1})"
            )
    return pattern, special_tokens, merges


class _LineReader:
    """Walks the lines of a model file; every error names the file and the 1-based line number."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.path, self.lines, self.pos = path, lines, 0

    def fail(self, message: str) -> NoReturn:
        raise ValueError(f"{self.path}, line {max(self.pos, 1)}: {message}")

    def next(self, what: str) -> str:
        if self.pos >= len(self.lines):
            self.pos += 1
            self.fail(f"the file ends where {what} was expected (truncated?)")
        self.pos += 1
        return self.lines[self.pos - 1]

    def field(self, key: str) -> str:
        line = self.next(f"the {key!r} line")
        name, _, value = line.partition(" ")
        if name != key:
            self.fail(f"expected a line starting with {key!r}, found {line[:60]!r}")
        return value

    def integer(self, text: str, what: str) -> int:
        if not text.isascii() or not text.isdigit():
            self.fail(f"{what} must be a non-negative integer, found {text[:60]!r}")
        return int(text)

    def count(self, text: str, what: str) -> int:
        return self.integer(text, f"the number of {what}")

    def json_str(self, text: str, what: str) -> str:
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, str):
            self.fail(f"{what} must be a JSON string, found {text[:60]!r}")
        return value
