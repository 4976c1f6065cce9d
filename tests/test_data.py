"""Tests for bltlib.data: the vendored corpora, their loaders and byte-level batching."""

import gzip
import re
from pathlib import Path

import pytest
import torch

from bltlib.data import (
    BOS_ID,
    BYTE_VOCAB,
    EOS_ID,
    OFFSET,
    SPLITS,
    UDHR_INFO,
    corpus_names,
    decode_bytes_ids,
    encode_bytes,
    load_bytes,
    load_text,
    load_udhr,
    load_udhr_all,
    mixed_text,
    random_windows,
    sequential_windows,
    udhr_languages,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "bltlib" / "data"

# Unicode blocks that identify each script (main letters only; enough to tell the scripts apart).
SCRIPT_RANGES = {
    "Latin": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)],
    "Cyrillic": [(0x400, 0x4FF)],
    "Greek": [(0x370, 0x3FF)],
    "Arabic": [(0x600, 0x6FF)],
    "Hebrew": [(0x590, 0x5FF)],
    "Devanagari": [(0x900, 0x97F)],
    "Bengali": [(0x980, 0x9FF)],
    "Tamil": [(0xB80, 0xBFF)],
    "Thai": [(0xE00, 0xE7F)],
    "Han": [(0x4E00, 0x9FFF)],
    "Kana": [(0x3040, 0x30FF)],
    "Hangul": [(0xAC00, 0xD7AF), (0x1100, 0x11FF)],
    "Ethiopic": [(0x1200, 0x137F)],
}


def script_shares(text: str) -> dict[str, float]:
    """Fraction of the letters of text that fall in each script's ranges."""
    letters = [ord(c) for c in text if c.isalpha()]
    return {
        script: sum(any(lo <= cp <= hi for lo, hi in ranges) for cp in letters) / len(letters)
        for script, ranges in SCRIPT_RANGES.items()
    }


# ---------------------------------------------------------------------------------------- corpora


def test_corpus_names():
    assert {"austen", "code", "udhr"} <= set(corpus_names())


@pytest.mark.parametrize("name", ["austen", "code", "udhr"])
def test_every_corpus_loads_as_text_and_bytes(name):
    text = load_text(name)
    assert isinstance(text, str) and len(text) > 100_000
    assert load_bytes(name) == text.encode("utf-8")


def test_corpora_hold_what_they_claim():
    austen, code = load_text("austen"), load_text("code")
    assert "It is a truth universally acknowledged" in austen  # Pride and Prejudice's first line
    for title in ["SENSE AND SENSIBILITY", "EMMA", "MANSFIELD PARK", "NORTHANGER ABBEY"]:
        assert title in austen
    assert "# ---- file: json/__init__.py ----" in code and "\ndef dumps(" in code
    assert len(austen.encode()) + len(code.encode()) > 10 * 2**20  # the BPE benchmark's slice


def test_vendored_total_stays_small():
    files = [p for p in DATA_DIR.rglob("*") if p.is_file() and p.suffix in {".gz", ".txt", ".md"}]
    assert len(files) >= 22
    assert sum(p.stat().st_size for p in files) < 6_000_000


def test_every_udhr_language_loads():
    texts = load_udhr_all()
    assert list(texts) == udhr_languages() == list(UDHR_INFO)
    for lang, text in texts.items():
        assert text == load_udhr(lang)
        assert len(text.splitlines()) >= 60, lang  # ~30 articles, each with a heading and paragraphs
        assert set(UDHR_INFO[lang]) >= {"name", "script"}
    assert load_text("udhr") == "".join(texts.values())


def test_udhr_scripts_are_really_there():
    """The dominant script of each text, read from its code points, matches the metadata, and together
    the languages cover the scripts the course compares."""
    found = {}
    for lang, text in load_udhr_all().items():
        shares = script_shares(text)
        expected = UDHR_INFO[lang]["script"]
        if expected == "Japanese":  # kanji plus kana
            assert shares["Kana"] > 0.2 and shares["Han"] > 0.2, lang
        else:
            assert max(shares, key=shares.get) == expected, (lang, shares)
            assert shares[expected] > 0.8, (lang, shares[expected])
        found[lang] = expected
    required = {"Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Devanagari", "Thai", "Han", "Japanese"}
    assert required | {"Hangul"} <= set(found.values())
    assert {"Bengali", "Tamil"} & set(found.values())
    assert len(found) >= 12


def test_udhr_bytes_per_char_grows_with_script():
    """Same declaration, different byte cost: what a byte-level model pays per language."""
    ratio = {lang: len(t.encode()) / len(t) for lang, t in load_udhr_all().items()}
    assert ratio["eng"] < 1.01
    assert 1.5 < ratio["rus"] < 2.0
    assert ratio["hin"] > 2.5 and ratio["cmn_hans"] > 2.5


# ----------------------------------------------------------------------------------------- splits


@pytest.mark.parametrize("name", ["austen", "code", "udhr"])
def test_splits_partition_the_text(name):
    text = load_text(name)
    parts = [load_text(name, s) for s in SPLITS]
    assert "".join(parts) == text  # contiguous, disjoint, complete
    assert all(parts), "every split is non-empty"
    for part, share in zip(parts, [0.90, 0.05, 0.05], strict=True):
        assert abs(len(part) / len(text) - share) < 0.01
    assert parts[0].endswith("\n") and parts[1].endswith("\n")  # cut at line boundaries
    assert load_bytes(name, "val") == parts[1].encode()


def test_splits_are_deterministic_across_cache_clears():
    before = [load_text("austen", s) for s in SPLITS]
    import bltlib.data.corpora as corpora

    corpora._load_corpus.cache_clear()
    corpora._read_file.cache_clear()
    assert [load_text("austen", s) for s in SPLITS] == before


def test_split_of_local_file_cuts_after_a_newline(tmp_path):
    lines = [f"line {i:03d}" for i in range(100)]  # 100 lines of 9 chars + "\n"
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    train, val, test = (load_text(path, s) for s in SPLITS)
    assert train.splitlines() == lines[:90]
    assert val.splitlines() == lines[90:95]
    assert test.splitlines() == lines[95:]


# ------------------------------------------------------------------------------------ local files


def test_local_txt_and_gz_files(tmp_path):
    text = "héllo wörld\nΓειά σου\n"
    txt = tmp_path / "a.txt"
    txt.write_text(text, encoding="utf-8")
    gz = tmp_path / "a.txt.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert load_text(txt) == load_text(str(txt)) == load_text(gz) == text
    assert load_bytes(gz) == text.encode()


def test_edited_local_file_is_read_again(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one\n", encoding="utf-8")
    assert load_text(path) == "one\n"
    path.write_text("two, longer\n", encoding="utf-8")
    assert load_text(path) == "two, longer\n"


def test_invalid_utf8_file_raises(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok \xff\xfe bad")
    with pytest.raises(ValueError, match="UTF-8"):
        load_text(path)
    gz = tmp_path / "bad.txt.gz"
    gz.write_bytes(gzip.compress(b"\xc3("))
    with pytest.raises(ValueError, match="UTF-8"):
        load_text(gz)


def test_unknown_names_and_missing_files_list_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match="austen, code, udhr"):
        load_text("shakespeare")
    with pytest.raises(FileNotFoundError, match="austen, code, udhr"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError):
        load_bytes(str(tmp_path / "missing.txt.gz"))
    with pytest.raises(ValueError, match="eng"):
        load_udhr("klingon")


@pytest.mark.parametrize("split", ["training", "", "TRAIN", 0])
def test_bad_split_raises(split):
    with pytest.raises(ValueError, match="split"):
        load_text("udhr", split)


@pytest.mark.parametrize("bad", [123, None, b"austen", ["austen"]])
def test_wrong_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="name_or_path"):
        load_text(bad)
    with pytest.raises(TypeError):
        load_udhr(bad)


# ------------------------------------------------------------------------------------- mixed_text


@pytest.mark.parametrize("n", [5_000, 300_000])
def test_mixed_text_size_and_content(n):
    text = mixed_text(n)
    size = len(text.encode("utf-8"))
    assert abs(size - n) <= 0.01 * n
    assert text.startswith(load_text("austen", "train")[:1000])  # prose first
    assert "# ---- file: __future__.py ----" in text  # then code
    assert mixed_text(n) == text


def test_mixed_text_interleaves_many_pieces():
    text = mixed_text(1_000_000)
    headers = [m.start() for m in re.finditer("# ---- file:", text)]
    chapters = [m.start() for m in re.finditer("CHAPTER", text)]
    assert len(headers) > 20 and len(chapters) > 5
    # prose keeps coming back between code files, i.e. the two are interleaved, not concatenated
    assert sum(headers[0] < c < headers[-1] for c in chapters) >= 3


def test_mixed_text_multibyte_boundaries(monkeypatch):
    """A prefix cut never splits a UTF-8 character, even when the cut lands inside one."""
    import bltlib.data.corpora as corpora

    fake = {"austen": "ééé\n" * 50, "code": "日本語\n" * 50}
    monkeypatch.setattr(corpora, "load_bytes", lambda name, split=None: fake[name].encode())
    corpora._mixed_text.cache_clear()
    for n in range(1, 200, 7):
        data = corpora.mixed_text(n).encode()
        assert n - 6 <= len(data) <= n
    corpora._mixed_text.cache_clear()


def test_mixed_text_errors():
    with pytest.raises(ValueError, match="only"):
        mixed_text(100 * 2**20)
    with pytest.raises(ValueError, match="positive"):
        mixed_text(0)
    with pytest.raises(TypeError):
        mixed_text(1.5e6)
    with pytest.raises(TypeError):
        mixed_text(True)
    with pytest.raises(ValueError, match="split"):
        mixed_text(1000, split="dev")


# --------------------------------------------------------------------------------------- byte ids


def test_byte_id_constants():
    assert (BOS_ID, EOS_ID, OFFSET, BYTE_VOCAB) == (1, 2, 4, 260)


def test_encode_decode_round_trip_on_every_language():
    for text in load_udhr_all().values():
        ids = encode_bytes(text, bos=True, eos=True)
        assert ids.dtype == torch.long and ids.dim() == 1
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID
        assert len(ids) == len(text.encode()) + 2
        assert int(ids[1:-1].min()) >= OFFSET and int(ids.max()) < BYTE_VOCAB
        assert decode_bytes_ids(ids).decode("utf-8") == text


def test_encode_bytes_maps_each_byte():
    assert encode_bytes(b"\x00\xff", bos=False).tolist() == [4, 259]
    assert encode_bytes("", bos=False).tolist() == []
    assert encode_bytes("", eos=True).tolist() == [BOS_ID, EOS_ID]
    with pytest.raises(TypeError):
        encode_bytes(42)


def test_decode_drops_specials_and_rejects_invalid_ids():
    assert decode_bytes_ids([0, 1, 2, 3, 4 + 65, 2]) == b"A"
    for bad in ([260], [-1], torch.tensor([5, 999])):
        with pytest.raises(ValueError, match="260"):
            decode_bytes_ids(bad)


# ---------------------------------------------------------------------------------------- windows


def test_random_windows_shapes_shift_and_contiguity():
    ids = torch.arange(1000)
    x, y = random_windows(ids, batch_size=8, block_size=16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(8, 15, dtype=torch.long))  # real slices
    assert int(y.max()) <= 999 and int(x.min()) >= 0


def test_random_windows_generator_determinism():
    ids = encode_bytes(load_text("udhr"))
    a = random_windows(ids, 4, 32, torch.Generator().manual_seed(123))
    b = random_windows(ids, 4, 32, torch.Generator().manual_seed(123))
    c = random_windows(ids, 4, 32, torch.Generator().manual_seed(124))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_random_windows_edge_and_errors():
    x, y = random_windows(torch.arange(5), 3, 4)  # exactly block_size + 1: one possible window
    assert x.tolist() == [[0, 1, 2, 3]] * 3 and y.tolist() == [[1, 2, 3, 4]] * 3
    with pytest.raises(ValueError, match="block_size \\+ 1"):
        random_windows(torch.arange(4), 1, 4)
    with pytest.raises(TypeError):
        random_windows([1, 2, 3], 1, 1)
    with pytest.raises(ValueError, match="batch_size"):
        random_windows(torch.arange(10), 0, 2)


@pytest.mark.parametrize("n", [2, 17, 64, 65, 100])
def test_sequential_windows_cover_every_target_once(n):
    ids = torch.arange(n) * 3
    windows = list(sequential_windows(ids, block_size=16))
    assert all(x.shape == y.shape and x.shape[0] == 1 and x.shape[1] <= 16 for x, y in windows)
    assert torch.equal(torch.cat([x[0] for x, _ in windows]), ids[:-1])
    assert torch.equal(torch.cat([y[0] for _, y in windows]), ids[1:])


def test_sequential_windows_with_stride():
    starts = [int(x[0, 0]) for x, _ in sequential_windows(torch.arange(20), block_size=8, stride=4)]
    assert starts == [0, 4, 8, 12]  # the window at 12 reaches the last target, 19
    with pytest.raises(ValueError, match="stride"):
        sequential_windows(torch.arange(20), 8, stride=9)  # raises on the call, not on first next()
    with pytest.raises(ValueError, match="block_size \\+ 1"):
        sequential_windows(torch.arange(1), 8)
