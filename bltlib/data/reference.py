"""The official BLT patching example, shipped as data so lessons, checks and tests share one copy.

It is the example of the BLT paper's Figure 4 (see ATTRIBUTION.md): the byte ids of one sentence with
BOS, the official entropy model's per-position entropies (nats), and the patch starts the official
global rule gives at its threshold.

>>> example = blt_golden_example()
>>> len(example["token_ids"]), sum(example["start"]), round(example["threshold"], 4)
(81, 23, 1.3354)
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

_GOLDEN = Path(__file__).resolve().parent / "reference" / "blt_golden.json"


@functools.lru_cache(maxsize=1)
def _load() -> str:
    return _GOLDEN.read_text(encoding="utf-8")


def blt_golden_example() -> dict:
    """A fresh dict with ``text``, ``threshold``, ``token_ids``, ``entropies``, ``patch`` and ``start``."""
    return json.loads(_load())
