"""Vendored corpora (Austen, CPython stdlib, UDHR), their loaders, and byte-level batching."""

from bltlib.data.batching import (
    BOE_ID,
    BOS_ID,
    BPE_ID,
    BYTE_VOCAB,
    EOS_ID,
    OFFSET,
    decode_bytes_ids,
    encode_bytes,
    random_windows,
    sequential_windows,
)
from bltlib.data.corpora import (
    SPLITS,
    UDHR_INFO,
    corpus_names,
    load_bytes,
    load_text,
    load_udhr,
    load_udhr_all,
    mixed_text,
    udhr_languages,
)
from bltlib.data.reference import blt_golden_example

__all__ = [
    "BOE_ID",
    "BOS_ID",
    "BPE_ID",
    "BYTE_VOCAB",
    "EOS_ID",
    "OFFSET",
    "SPLITS",
    "UDHR_INFO",
    "blt_golden_example",
    "corpus_names",
    "decode_bytes_ids",
    "encode_bytes",
    "load_bytes",
    "load_text",
    "load_udhr",
    "load_udhr_all",
    "mixed_text",
    "random_windows",
    "sequential_windows",
    "udhr_languages",
]
