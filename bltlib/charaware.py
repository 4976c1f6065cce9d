"""Lesson 5's question: does a character-aware token embedding help a token model with character tasks?

A BPE model sees ``" strawberry"`` as one or two ids and never the letters inside. One proposed fix adds a
*char embedding*: an LSTM reads the bytes of each token, and its final hidden state, projected to the
model width, is added to the token embedding (:class:`CharLSTMEmbedding`). It was claimed to help no more
than the same number of extra parameters spent any other way. So the fair baseline is
:class:`MatchedEmbedding`: a second, low-rank token embedding (an ``nn.Embedding(V, e)`` and a linear map
to the model width) with ``e`` chosen so that it has as many parameters as the LSTM path.

:class:`CharAwareLM` is a :class:`~bltlib.transformer.TransformerLM` (same blocks, loss, ``generate``,
KV cache, and it trains with :class:`bltlib.train.Trainer`) whose :meth:`~CharAwareLM.embed` adds one of
these paths, by ``config.extra``: ``"none"`` (the plain BPE model), ``"char"`` or ``"matched"``. The byte
models of the comparison are a plain ``TransformerLM`` over the 260 byte ids with the same body, and
lesson 4's :class:`~bltlib.blt.BLT` whose latent transformer has that body's shape. :func:`answer` and
:func:`load_models` take all of them.

The study's other pieces live here too, shared by ``scripts/char_study.py`` and lesson 5: the fine-tuning
rows (:func:`encode_item`, :func:`pack_items`, :func:`task_rows`), any study model's logits
(:func:`model_logits`; a BLT's patches come from its patcher, row by row), the noise measurement
(:func:`noise_passages`, :func:`continuation_bits`, :func:`noise_table`) and :func:`blt_param_counts`.

>>> tokens = [bytes([i]) for i in range(256)] + [b"th", b"the", b" the"]
>>> config = CharAwareConfig(vocab_size=len(tokens), dim=32, n_layers=1, n_heads=2, max_seq_len=16,
...                          extra="char", char_dim=8, char_hidden=16)
>>> model = CharAwareLM(config, tokens)
>>> logits, loss = model(torch.tensor([[258, 32, 257]]), targets=torch.tensor([[32, 257, 116]]))
>>> tuple(logits.shape), loss.shape
((1, 3, 259), torch.Size([]))
>>> counts = param_counts(model)
>>> counts["extra"], counts["body"] == param_counts(CharAwareLM(config.but(extra="none")))["body"]
(4232, True)
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from bltlib import flops
from bltlib.blt import BLT, blt_card, load_blt, stack_dims
from bltlib.bpe import Tokenizer
from bltlib.config import int_at_least
from bltlib.data.batching import BOS_ID, BYTE_VOCAB, OFFSET
from bltlib.tasks import NOISES, CharItem, apply_noise
from bltlib.train import CheckpointError, load_weights, read_metadata, save_weights
from bltlib.transformer import IGNORE_INDEX, TransformerConfig, TransformerLM

FORMAT = "bltlib.charaware/1"
EXTRAS = ("none", "char", "matched")
Extra = Literal["none", "char", "matched"]
BYTE_ROWS = 257  # byte value + 1, and row 0 for padding


# ----------------------------------------------------------------------------- the tokens' bytes


def token_byte_table(
    token_bytes: Sequence[bytes], max_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's bytes as a padded ``[V, L]`` long tensor (byte value + 1; 0 is padding) and the
    lengths ``[V]``.

    ``L`` is the longest token, or ``max_len`` if that is shorter (at least 1). A longer token keeps its
    first ``max_len`` bytes: the cap only bounds the LSTM's padded length (its time and memory grow
    with ``L``), the tokens it cuts are rare long runs (spaces, repeated characters) whose first bytes
    already say what they are, and the token keeps its own full token embedding besides. An empty byte
    string (a special token, which spells no text) gets length 0 and, in :class:`CharLSTMEmbedding`,
    a zero char embedding.

    >>> table, lengths = token_byte_table([b"a", b"the", b""])
    >>> table.tolist(), lengths.tolist()
    ([[98, 0, 0], [117, 105, 102], [0, 0, 0]], [1, 3, 0])
    >>> token_byte_table([b"abcdef"], max_len=2)[0].tolist()  # the first two bytes, a and b
    [[98, 99]]
    """
    if isinstance(token_bytes, str | bytes) or not isinstance(token_bytes, Sequence) or not token_bytes:
        raise ValueError("token_bytes must be a non-empty sequence of bytes, one per token id")
    for i, b in enumerate(token_bytes):
        if not isinstance(b, bytes):
            raise TypeError(f"token_bytes[{i}] must be bytes, got {type(b).__name__}")
    if max_len is not None and not int_at_least(max_len, 1):
        raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
    longest = max(len(b) for b in token_bytes)
    width = max(1, longest if max_len is None else min(longest, max_len))
    table = torch.zeros(len(token_bytes), width, dtype=torch.long)
    lengths = torch.zeros(len(token_bytes), dtype=torch.long)
    for i, b in enumerate(token_bytes):
        b = b[:width]
        table[i, : len(b)] = torch.tensor(list(b), dtype=torch.long) + 1
        lengths[i] = len(b)
    return table, lengths


def tokenizer_bytes(tokenizer: object, vocab_size: int | None = None) -> list[bytes]:
    """The bytes of token ids ``0 .. vocab_size - 1`` of a :class:`bltlib.bpe.Tokenizer` (default: its
    vocab and special tokens). Special tokens and unused ids (a model's vocab may be rounded up) are
    ``b""``: they spell no text.

    >>> from bltlib.bpe import BasicTokenizer
    >>> tok = BasicTokenizer()
    >>> tok.register_special_tokens({"<|endoftext|>": 256})
    >>> spelled = tokenizer_bytes(tok, vocab_size=258)
    >>> spelled[104], spelled[256], spelled[257]
    (b'h', b'', b'')
    """
    vocab = getattr(tokenizer, "vocab", None)
    if not isinstance(vocab, dict):
        raise TypeError(
            f"tokenizer must be a bltlib.bpe.Tokenizer (with .vocab), got {type(tokenizer).__name__}"
        )
    specials = getattr(tokenizer, "special_tokens", {})
    needed = max([*vocab, *specials.values()]) + 1
    vocab_size = needed if vocab_size is None else vocab_size
    if not int_at_least(vocab_size, needed):
        raise ValueError(f"vocab_size must be an int >= {needed} (the tokenizer's ids), got {vocab_size!r}")
    return [vocab.get(i, b"") for i in range(vocab_size)]


def _check_ids(idx: torch.Tensor, vocab: int) -> None:
    if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.long, torch.int32):
        raise TypeError(
            f"token ids must be an integer tensor, got {getattr(idx, 'dtype', type(idx).__name__)}"
        )
    if not torch.compiler.is_compiling() and idx.numel() and (idx.min() < 0 or idx.max() >= vocab):
        raise ValueError(f"token ids must lie in [0, {vocab}), got {idx.min().item()}..{idx.max().item()}")


# ----------------------------------------------------------------------------- the two extra paths


def char_path_params(dim: int, char_dim: int, hidden: int) -> int:
    """Parameters of a :class:`CharLSTMEmbedding`: byte embedding + LSTM (four gates, two bias vectors, as
    ``nn.LSTM`` has) + projection to ``dim``. It does not depend on the vocab size.

    >>> char_path_params(dim=128, char_dim=32, hidden=128)  # 8224 + 82944 + 16384
    107552
    """
    return BYTE_ROWS * char_dim + 4 * hidden * (char_dim + hidden) + 8 * hidden + hidden * dim


def matched_width(target_params: int, vocab: int, dim: int) -> int:
    """The width ``e`` of a :class:`MatchedEmbedding` whose ``e * (vocab + dim)`` parameters come closest
    to ``target_params`` (at least 1). It moves in steps of ``vocab + dim`` parameters, so the match is
    within half a step, not exact.

    >>> e = matched_width(107552, vocab=4096, dim=128)
    >>> e, e * (4096 + 128)  # 25.46 rounds to 25: 1.8% fewer parameters than the LSTM path
    (25, 105600)
    """
    for name, value in (("target_params", target_params), ("vocab", vocab), ("dim", dim)):
        if not int_at_least(value, 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return max(1, round(target_params / (vocab + dim)))


class CharLSTMEmbedding(nn.Module):
    """A token's char embedding: an LSTM reads its bytes; the final hidden state, projected to ``dim``.

    The spelling of every token is a fixed table (buffers that move with ``.to(device)``, left out of
    the state dict: they come from the tokenizer, not from training). A batch runs the LSTM once per
    *distinct* token id in it, not once per position: a batch of 16k positions holds maybe 2k distinct
    tokens. Every token's bytes are run right-padded to the batch's longest and the hidden state is
    read at the token's last byte, which, as the LSTM reads left to right, equals its final state on
    the unpadded bytes.

    Initialisation: byte embedding N(0, 1) (``nn.Embedding``'s default: unit-scale LSTM inputs), the LSTM
    at PyTorch's default, the projection N(0, 0.02) like every linear layer of the transformer.

    >>> emb = CharLSTMEmbedding([b"a", b"ab", b""], dim=4, char_dim=3, hidden=5)
    >>> out = emb(torch.tensor([[0, 1, 2, 1]]))
    >>> tuple(out.shape), out[0, 1].equal(out[0, 3]), out[0, 2].abs().sum().item()  # b"" -> zeros
    ((1, 4, 4), True, 0.0)
    """

    def __init__(
        self,
        token_bytes: Sequence[bytes],
        dim: int,
        char_dim: int = 32,
        hidden: int = 128,
        max_len: int | None = None,
    ) -> None:
        super().__init__()
        table, lengths = token_byte_table(token_bytes, max_len)
        self.register_buffer("table", table, persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)
        self.byte_emb = nn.Embedding(BYTE_ROWS, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True)
        self.proj = nn.Linear(hidden, dim, bias=False)
        nn.init.normal_(self.proj.weight, mean=0.0, std=0.02)

    @property
    def vocab_size(self) -> int:
        return self.table.shape[0]

    def token_states(self, ids: torch.Tensor) -> torch.Tensor:
        """The LSTM's final hidden state ``[N, hidden]`` for each token id of ``ids [N]`` (zero for a
        token with no bytes)."""
        lengths = self.lengths[ids]
        width = max(1, int(lengths.max()))  # the longest token here: no LSTM steps over pure padding
        out, _ = self.lstm(self.byte_emb(self.table[ids, :width]))  # [N, width, hidden]
        last = out[torch.arange(len(ids), device=ids.device), (lengths - 1).clamp(min=0)]
        return last * (lengths > 0).unsqueeze(-1).to(last.dtype)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Char embeddings ``[B, T, dim]`` for token ids ``idx [B, T]``."""
        _check_ids(idx, self.vocab_size)
        unique, inverse = torch.unique(idx, return_inverse=True)
        return self.proj(self.token_states(unique))[inverse]


class MatchedEmbedding(nn.Module):
    """The parameter-matched baseline: an ``e``-wide token embedding mapped linearly to ``dim``, with
    ``e`` from :func:`matched_width` so it has (about) the parameters of a :class:`CharLSTMEmbedding`.

    Initialised like the char path: embedding N(0, 1), projection N(0, 0.02).

    >>> emb = MatchedEmbedding(vocab_size=10, dim=4, width=3)
    >>> tuple(emb(torch.tensor([[1, 2]])).shape), sum(p.numel() for p in emb.parameters())  # 3 * (10 + 4)
    ((1, 2, 4), 42)
    """

    def __init__(self, vocab_size: int, dim: int, width: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab_size, width)
        self.proj = nn.Linear(width, dim, bias=False)
        nn.init.normal_(self.proj.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        _check_ids(idx, self.emb.num_embeddings)
        return self.proj(self.emb(idx))


# ----------------------------------------------------------------------------- the model


@dataclass
class CharAwareConfig(TransformerConfig):
    """A :class:`~bltlib.transformer.TransformerConfig` plus the extra embedding path.

    ``extra``: ``"none"``, ``"char"`` (:class:`CharLSTMEmbedding` with ``char_dim``, ``char_hidden`` and
    ``max_token_len``) or ``"matched"`` (:class:`MatchedEmbedding` as big as that char path would be).
    The char fields fix the matched path's size too, so a ``char`` and a ``matched`` config differ in
    ``extra`` alone.

    >>> CharAwareConfig(vocab_size=300, extra="matched").matched_width  # 107552 / (300 + 128)
    251
    """

    extra: Extra = "none"
    char_dim: int = 32
    char_hidden: int = 128
    max_token_len: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.extra not in EXTRAS:
            raise ValueError(f"extra must be one of {', '.join(EXTRAS)}, got {self.extra!r}")
        for name in ("char_dim", "char_hidden"):
            value = getattr(self, name)
            if not int_at_least(value, 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        value = self.max_token_len
        if value is not None and not int_at_least(value, 1):
            raise ValueError(f"max_token_len must be a positive int or None, got {value!r}")

    @property
    def char_params(self) -> int:
        """Parameters of the char path (whether or not this model has it)."""
        return char_path_params(self.dim, self.char_dim, self.char_hidden)

    @property
    def matched_width(self) -> int:
        """The matched path's embedding width ``e``."""
        return matched_width(self.char_params, self.vocab_size, self.dim)

    def but(self, **changes: object) -> CharAwareConfig:
        """A copy with some fields changed, e.g. ``config.but(extra="matched")``."""
        return replace(self, **changes)

    def transformer_config(self) -> TransformerConfig:
        """The same shape as a plain :class:`~bltlib.transformer.TransformerConfig` (no extra path)."""
        names = {f.name for f in fields(TransformerConfig)}
        return TransformerConfig(**{k: v for k, v in asdict(self).items() if k in names})


class CharAwareLM(TransformerLM):
    """A :class:`~bltlib.transformer.TransformerLM` whose input is the token embedding plus
    ``extra_emb(idx)`` (``None`` for ``extra="none"``). ``token_bytes`` (the bytes of each of the
    ``vocab_size`` ids, e.g. from :func:`tokenizer_bytes`) is needed for ``extra="char"`` only.

    The body is built first, so under the same seed the ``none``, ``char`` and ``matched`` models
    start from the same body weights and differ only by the extra path. ``num_params(exclude_embeddings=
    True)`` leaves out the token table only (the extra path counts); :func:`param_counts` splits them.
    """

    config: CharAwareConfig

    def __init__(self, config: CharAwareConfig, token_bytes: Sequence[bytes] | None = None) -> None:
        if not isinstance(config, CharAwareConfig):
            raise TypeError(f"config must be a CharAwareConfig, got {type(config).__name__}")
        super().__init__(config)
        self.token_bytes = None if token_bytes is None else [bytes(b) for b in token_bytes]
        if self.token_bytes is not None and len(self.token_bytes) != config.vocab_size:
            raise ValueError(
                f"token_bytes has {len(self.token_bytes)} entries; vocab_size is {config.vocab_size}"
            )
        self.extra_emb: nn.Module | None = None
        if config.extra == "char":
            if self.token_bytes is None:
                raise ValueError("extra='char' needs token_bytes: the bytes of every token id")
            self.extra_emb = CharLSTMEmbedding(
                self.token_bytes, config.dim, config.char_dim, config.char_hidden, config.max_token_len
            )
        elif config.extra == "matched":
            self.extra_emb = MatchedEmbedding(config.vocab_size, config.dim, config.matched_width)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(idx)
        return x if self.extra_emb is None else x + self.extra_emb(idx)


def param_counts(model: TransformerLM) -> dict[str, int]:
    """Parameters by part: ``token_embedding`` (the token table; also the output head when tied),
    ``extra`` (the char or matched path, 0 without), ``body`` (all the rest: blocks, norms, and an
    untied head) and ``total``. ``body`` is the same for the ``none``, ``char`` and ``matched`` models
    of one config; a plain ``TransformerLM`` (the byte model) has ``extra = 0``.

    >>> config = CharAwareConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, extra="matched", char_dim=4,
    ...                          char_hidden=8)
    >>> param_counts(CharAwareLM(config))  # extra: e = round(1604 / 66) = 24 -> 24 * 66 = 1584
    {'body': 3376, 'token_embedding': 800, 'extra': 1584, 'total': 5760}
    """
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM or CharAwareLM, got {type(model).__name__}")
    extra_emb = getattr(model, "extra_emb", None)
    extra = 0 if extra_emb is None else sum(p.numel() for p in extra_emb.parameters())
    token = model.tok_emb.weight.numel()
    total = model.num_params()
    return {"body": total - token - extra, "token_embedding": token, "extra": extra, "total": total}


# ----------------------------------------------------------------------------- FLOPs


def flops_per_byte(
    model_or_config: TransformerLM | TransformerConfig, bytes_per_token: float, context_tokens: int
) -> float:
    """Forward FLOPs per byte of text: :func:`bltlib.flops.token_model_flops_per_byte` for the body
    (attention over ``context_tokens``, or the sliding window if smaller), plus the extra path.

    Counted per token *occurrence*, as a model generating text pays it: the char path's LSTM costs
    ``8 * hidden * (char_dim + hidden)`` per byte of the token (four gates, each a matrix-vector product
    with the input and one with the state) and its projection ``2 * hidden * dim`` per token; the
    matched path costs ``2 * e * dim`` per token (embeddings cost nothing). The unique-token batching
    of training, or a table of the char embeddings precomputed once for inference, would cost less.
    Tokens cut at ``max_token_len`` are counted at full length. A byte model is a plain
    ``TransformerConfig`` over 260 ids with ``bytes_per_token = 1``. Training costs 3x
    (``flops.training_flops``).

    >>> c = CharAwareConfig(vocab_size=4096, dim=128, n_layers=4, n_heads=4, extra="char")
    >>> none = flops_per_byte(c.but(extra="none"), bytes_per_token=4.0, context_tokens=256)
    >>> round(none), round(flops_per_byte(c, 4.0, 256) - none)  # 8 * 128 * 160 + 2 * 128 * 128 / 4
    (788480, 172032)
    >>> byte_model = TransformerConfig(vocab_size=260, dim=128, n_layers=4, n_heads=4)
    >>> round(flops_per_byte(byte_model, bytes_per_token=1.0, context_tokens=1024))
    3744768
    """
    model = model_or_config
    config = model.config if isinstance(model, TransformerLM) else model
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"expected a TransformerLM, CharAwareLM or their config, got {type(config).__name__}")
    if not int_at_least(context_tokens, 1):
        raise ValueError(f"context_tokens must be a positive int, got {context_tokens!r}")
    reach = min(context_tokens, config.sliding_window or context_tokens)
    dims = stack_dims(config, config.n_layers, reach)
    total = flops.token_model_flops_per_byte(dims, config.vocab_size, bytes_per_token)
    extra = config.extra if isinstance(config, CharAwareConfig) else "none"
    if extra == "char":
        h = config.char_hidden
        total += 8.0 * h * (config.char_dim + h) + 2.0 * h * config.dim / bytes_per_token
    elif extra == "matched":
        total += 2.0 * config.matched_width * config.dim / bytes_per_token
    return total


# ----------------------------------------------------------------------------- saving and loading


@dataclass
class _Saved:
    """What a saved model's ``config`` metadata holds: the config, and for a model that has them, its
    token bytes as hex strings (so loading needs neither pickle nor the tokenizer)."""

    config: CharAwareConfig
    token_bytes: list[str] | None


def save_charaware(model: CharAwareLM, path: str | Path, card: dict | None = None) -> Path:
    """Write ``model`` as one safetensors file with its config, token bytes and a JSON-able ``card``
    as metadata (read back by :func:`load_charaware`)."""
    if not isinstance(model, CharAwareLM):
        raise TypeError(f"model must be a CharAwareLM, got {type(model).__name__}")
    spelled = None if model.token_bytes is None else [b.hex() for b in model.token_bytes]
    return save_weights(model, path, FORMAT, _Saved(model.config, spelled), card)


def _metadata(path: Path) -> dict[str, str]:
    return read_metadata(path, FORMAT, "char-aware token model")


def charaware_card(path: str | Path) -> dict:
    """The card stored with a saved :class:`CharAwareLM`."""
    return json.loads(_metadata(Path(path))["card"])


def load_charaware(path: str | Path, device: torch.device | str = "cpu") -> CharAwareLM:
    """Load a model saved by :func:`save_charaware`, in eval mode on ``device``."""
    path = Path(path)
    metadata = _metadata(path)
    try:
        saved = json.loads(metadata["config"])
        known = {f.name for f in fields(CharAwareConfig)}
        config = CharAwareConfig(**{k: v for k, v in saved["config"].items() if k in known})
        spelled = saved["token_bytes"]
        token_bytes = None if spelled is None else [bytes.fromhex(h) for h in spelled]
        model = CharAwareLM(config, token_bytes)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path} has an unusable char-aware model config: {err}") from err
    return load_weights(model, path).to(device).eval()


# ----------------------------------------------------------------------------- the study's models

STUDY_MODELS = ("bpe", "bpe_char", "bpe_matched", "bytes", "blt")
BYTE_MODELS = ("bytes", "blt")  # the study models that read bytes (no tokenizer)
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TOKENIZER_FILE = "char_tokenizer.model"  # shared by the three token models, next to their weights
BOS_TOKEN = "<|endoftext|>"  # the token models' BOS: a special token registered after the merges
DEFAULT_MAX_NEW = 64  # bytes of new text when answer() is given no cap
_STUDY_SCRIPT = "python scripts/char_study.py --preset cpu --threads 1 (or --preset gpu on a GPU)"


def study_weights(name: str, weights_dir: str | Path | None = None) -> Path:
    """Where the study's fine-tuned model ``name`` is shipped: ``<weights_dir>/char_<name>.safetensors``.

    >>> study_weights("bytes").name
    'char_bytes.safetensors'
    """
    if name not in STUDY_MODELS:
        raise ValueError(f"unknown study model {name!r}; valid names: {', '.join(STUDY_MODELS)}")
    return Path(WEIGHTS_DIR if weights_dir is None else weights_dir) / f"char_{name}.safetensors"


def bos_id(tokenizer: Tokenizer) -> int:
    """The id of a study tokenizer's :data:`BOS_TOKEN`, with a clear error if it has none.

    >>> from bltlib.bpe import BasicTokenizer
    >>> tok = BasicTokenizer()
    >>> tok.register_special_tokens({BOS_TOKEN: 256})
    >>> bos_id(tok)
    256
    """
    specials = getattr(tokenizer, "special_tokens", None)
    if not isinstance(specials, dict):
        raise TypeError(f"tokenizer must be a bltlib.bpe.Tokenizer, got {type(tokenizer).__name__}")
    if BOS_TOKEN not in specials:
        raise ValueError(
            f"the tokenizer has no {BOS_TOKEN!r} special token, which the study's token models begin every "
            "sequence with: tokenizer.register_special_tokens({BOS_TOKEN: len(tokenizer.vocab)})"
        )
    return specials[BOS_TOKEN]


def encode_prompt(text: str, tokenizer: Tokenizer | None = None) -> list[int]:
    """The ids a study model reads for ``text``: BOS, then the tokens (``tokenizer``) or the byte ids
    (``None``: byte b -> b + 4, BOS = 1, as :func:`bltlib.data.encode_bytes`).

    >>> encode_prompt("hi")
    [1, 108, 109]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if tokenizer is None:
        return [BOS_ID] + [b + OFFSET for b in text.encode("utf-8")]
    return [bos_id(tokenizer)] + tokenizer.encode_ordinary(text)


def _caps(max_new: int | Sequence[int] | None, n: int) -> list[int]:
    caps = [DEFAULT_MAX_NEW] * n if max_new is None else max_new
    if isinstance(caps, int) and not isinstance(caps, bool):
        caps = [caps] * n
    if isinstance(caps, str | bytes) or not isinstance(caps, Sequence) or len(caps) != n:
        raise ValueError(f"max_new must be None, an int or one int per prompt ({n}), got {max_new!r}")
    for cap in caps:
        if not int_at_least(cap, 0):
            raise ValueError(f"max_new caps must be non-negative ints (bytes of new text), got {cap!r}")
    return list(caps)


@torch.no_grad()
def answer(
    model: TransformerLM | BLT,
    prompts: Sequence[str],
    tokenizer: Tokenizer | None = None,
    max_new: int | Sequence[int] | None = None,
    batch_size: int = 64,
    workers: int = 1,
) -> list[str]:
    """Greedy continuations of ``prompts``, as text: new bytes up to the first newline (not included),
    at most ``max_new`` bytes each (one int for all, one per prompt, or ``None`` for
    :data:`DEFAULT_MAX_NEW`). The study caps an answer at ``len(answer) + 8`` bytes.

    Works for a token model (pass its ``tokenizer``; BOS is its :data:`BOS_TOKEN`), a byte model
    (``tokenizer=None``: byte ids with BOS, :func:`encode_prompt`) and a :class:`~bltlib.blt.BLT`
    (``tokenizer=None``; greedy :meth:`~bltlib.blt.BLT.generate` with ``model.patcher``, one prompt at a
    time, cut at the newline). A generated special id (BOS, or a byte model's ids 0-3; EOS for a BLT)
    ends the answer too. ``TransformerLM`` has no left padding, so prompts are batched by their length
    in ids (at most ``batch_size`` at a time) and every batch stops once each of its rows has its
    newline or its cap. Generation also stops at the model's ``max_seq_len``. Bytes cut mid-character
    decode as U+FFFD. ``workers > 1`` splits a BLT's prompts among that many processes (one thread each),
    since its prompts cannot share a batch; the answers are the same.

    >>> config = CharAwareConfig(vocab_size=BYTE_VOCAB, dim=16, n_layers=1, n_heads=2, max_seq_len=32)
    >>> _ = torch.manual_seed(0)
    >>> out = answer(CharAwareLM(config), ["Reverse the word: cat\\nAnswer:", "Spell: hi\\n"], max_new=[3, 5])
    >>> [len(a.encode()) <= cap for a, cap in zip(out, [3, 5])], any("\\n" in a for a in out)
    ([True, True], False)
    """
    if not isinstance(model, TransformerLM | BLT):
        raise TypeError(f"model must be a TransformerLM, CharAwareLM or BLT, got {type(model).__name__}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError("prompts must be a sequence of str (a list of prompts), not a single str")
    if isinstance(model, BLT):
        if tokenizer is not None:
            raise ValueError("a BLT reads bytes: pass tokenizer=None")
        if not int_at_least(workers, 1):
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        caps = _caps(max_new, len(prompts))
        if workers == 1 or len(prompts) < 2:
            return _answer_blt(model, prompts, caps)
        size = -(-len(prompts) // workers)
        chunks = [(model, prompts[i : i + size], caps[i : i + size]) for i in range(0, len(prompts), size)]
        # spawn, not fork: a forked child of a process that has run torch's thread pool can hang.
        spawn = mp.get_context("spawn")
        with spawn.Pool(len(chunks), initializer=torch.set_num_threads, initargs=(1,)) as pool:
            return [a for part in pool.starmap(_answer_blt, chunks) for a in part]
    vocab = model.config.vocab_size
    if tokenizer is None and vocab != BYTE_VOCAB:
        raise ValueError(
            f"a token model (vocab {vocab}) needs its tokenizer; tokenizer=None means a byte model "
            f"(vocab {BYTE_VOCAB})"
        )
    if not int_at_least(batch_size, 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    caps = _caps(max_new, len(prompts))
    encoded = [encode_prompt(p, tokenizer) for p in prompts]
    for i, ids in enumerate(encoded):
        if len(ids) > model.max_seq_len:
            raise ValueError(
                f"prompt {i} is {len(ids)} ids long; the model reads at most {model.max_seq_len}"
            )
        if max(ids) >= vocab:
            raise ValueError(f"prompt {i} has token id {max(ids)}: the tokenizer does not fit this model")
    if tokenizer is None:
        pieces = [b""] * OFFSET + [bytes([b]) for b in range(256)]  # b"": a special id, ends the answer
    else:
        pieces = tokenizer_bytes(tokenizer, vocab)
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    out: list[bytes] = [b""] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        for _, members in sorted(by_length.items()):
            for start in range(0, len(members), batch_size):
                rows = members[start : start + batch_size]
                new = _greedy(model, [encoded[i] for i in rows], [caps[i] for i in rows], pieces)
                for i, text in zip(rows, new, strict=True):
                    out[i] = text
    finally:
        model.train(was_training)
    return [b.decode("utf-8", errors="replace") for b in out]


def _answer_blt(model: BLT, prompts: Sequence[str], caps: list[int]) -> list[str]:
    """Greedy answers of a BLT, one :meth:`~bltlib.blt.BLT.generate` per prompt (it patches as it goes,
    so prompts are not batched): at most ``cap`` new bytes (and no further than ``max_seq_len``), cut at
    the first newline."""
    out = []
    for i, (prompt, cap) in enumerate(zip(prompts, caps, strict=True)):
        length = len(encode_prompt(prompt))
        if length > model.config.max_seq_len:
            raise ValueError(
                f"prompt {i} is {length} ids long; the model reads at most {model.config.max_seq_len}"
            )
        steps = min(cap, model.config.max_seq_len - length)
        new = model.generate(prompt, steps, stop="\n").bytes if steps > 0 else b""
        out.append(new.split(b"\n", 1)[0].decode("utf-8", errors="replace"))
    return out


def _greedy(model: TransformerLM, rows: list[list[int]], caps: list[int], pieces: list[bytes]) -> list[bytes]:
    """Greedy new bytes for prompts of equal length, each stopped at a newline, a special id or its cap."""
    length = len(rows[0])
    # Every id spells at least one byte (specials stop the row), so cap ids always reach cap bytes.
    steps = min(max(caps), model.max_seq_len - length)
    out = [bytearray() for _ in rows]
    done = [cap == 0 for cap in caps]
    if steps <= 0 or all(done):
        return [b"" for _ in rows]
    device = model.tok_emb.weight.device
    caches = model.new_kv_caches(len(rows), capacity=length + steps)
    logits, _ = model(torch.tensor(rows, device=device), kv_caches=caches)
    for step in range(steps):
        nxt = logits[:, -1].argmax(-1)
        for r, i in enumerate(nxt.tolist()):
            if done[r]:
                continue
            piece = pieces[i]
            out[r] += piece.split(b"\n", 1)[0]
            done[r] = not piece or b"\n" in piece or len(out[r]) >= caps[r]
        if all(done) or step + 1 == steps:
            break
        logits, _ = model(nxt[:, None], kv_caches=caches)
    return [bytes(o[:cap]) for o, cap in zip(out, caps, strict=True)]


@dataclass
class StudyModel:
    """One of the study's fine-tuned models: its ``name``, the ``model`` and its ``tokenizer`` (``None``
    for the byte models), with :meth:`answer` bound to them."""

    name: str
    model: CharAwareLM | BLT
    tokenizer: Tokenizer | None
    card: dict

    def answer(self, prompts: Sequence[str], max_new: int | Sequence[int] | None = None) -> list[str]:
        """:func:`answer` with this model and its tokenizer."""
        return answer(self.model, prompts, self.tokenizer, max_new)


def load_models(
    names: Sequence[str] | None = None,
    weights_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    missing: Literal["raise", "skip"] = "raise",
) -> dict[str, StudyModel]:
    """The study's shipped fine-tuned models by name (default: all of :data:`STUDY_MODELS`), each with
    its tokenizer, from ``weights_dir`` (default ``bltlib/weights``), in eval mode on ``device``, in the
    order of ``names``. The ``"blt"`` model comes through :func:`bltlib.blt.load_blt`, with its patcher
    (the shipped entropy model at the threshold on its card).

    ``missing``: what a model whose weights file is not there does. ``"raise"`` (the default): a
    ``FileNotFoundError`` that names the script that makes it. ``"skip"``: it is left out, so
    ``load_models(missing="skip")`` gives the models a partly finished study has shipped so far; where
    none of them is there, that is an empty dict (no error). Either way a token model that is there
    needs the tokenizer file beside it.

    >>> load_models(["bpe"], weights_dir="/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no char-study model 'bpe' at /nonexistent/char_bpe.safetensors: ...char_study.py ...
    >>> load_models(weights_dir="/nonexistent", missing="skip")
    {}
    """
    names = list(STUDY_MODELS) if names is None else names
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a list of model names, got {type(names).__name__}")
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing must be 'raise' or 'skip', got {missing!r}")
    paths = {name: study_weights(name, weights_dir) for name in names}  # unknown names fail here
    hint = f": make the shipped models with `{_STUDY_SCRIPT}`"
    for name, path in list(paths.items()):
        if not path.is_file():
            if missing == "raise":
                raise FileNotFoundError(f"no char-study model {name!r} at {path}{hint}")
            del paths[name]
    tokenizer = None
    if any(name not in BYTE_MODELS for name in paths):
        tok_path = Path(WEIGHTS_DIR if weights_dir is None else weights_dir) / TOKENIZER_FILE
        if not tok_path.is_file():
            raise FileNotFoundError(f"no char-study tokenizer at {tok_path}{hint}")
        tokenizer = Tokenizer.from_file(tok_path)
    models = {}
    for name, path in paths.items():
        if name == "blt":
            models[name] = StudyModel(name, load_blt(path, device), None, blt_card(path))
            continue
        model = load_charaware(path, device)
        tok = None if name in BYTE_MODELS else tokenizer
        if tok is not None and tokenizer_bytes(tok, model.config.vocab_size) != model.token_bytes:
            raise CheckpointError(f"{path} was not trained with the tokenizer {TOKENIZER_FILE} beside it")
        models[name] = StudyModel(name, model, tok, charaware_card(path))
    return models


# ----------------------------------------------------------------------------- the study's fine-tuning rows


def encode_item(item: CharItem, tokenizer: Tokenizer | None = None) -> tuple[list[int], list[bool]]:
    """The ids a study model is fine-tuned on for a task ``item``, and which of them are targets.

    BOS + the prompt (:func:`encode_prompt`), then the continuation ``" " + answer + "\\n"`` tokenised
    *separately* (without its BOS): the prompt's tokens are the same whatever answer follows, as they are
    when the model is asked. Only the continuation's ids are targets: the prompt is input, not something
    to predict. ``tokenizer=None``: byte ids.

    >>> ids, is_target = encode_item(CharItem("Spell: hi\\nAnswer:", "h i"))
    >>> len(ids), bytes(i - OFFSET for i, t in zip(ids, is_target) if t)  # BOS + 17 prompt bytes + 5
    (23, b' h i\\n')
    """
    if not isinstance(item, CharItem):
        raise TypeError(f"item must be a bltlib.tasks.CharItem, got {type(item).__name__}")
    prompt = encode_prompt(item.prompt, tokenizer)
    continuation = encode_prompt(f" {item.answer}\n", tokenizer)[1:]
    return prompt + continuation, [False] * len(prompt) + [True] * len(continuation)


def _check_seq_len(seq_len: object) -> int:
    if not int_at_least(seq_len, 1):
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    return seq_len


def pack_items(
    items: Iterable[CharItem],
    fit: Sequence[tuple[Tokenizer | None, int]],
    max_rows: int | None = None,
) -> list[list[CharItem]]:
    """``items`` packed whole, in order, into rows that fit every ``(tokenizer, seq_len)`` of ``fit``.

    A row of ``seq_len`` inputs holds ``seq_len + 1`` ids (``n`` ids give ``n - 1`` input-target pairs;
    :func:`task_rows` makes them). A row takes the next item while its items' ids (:func:`encode_item`)
    still fit for every tokenizer; otherwise the row is closed and the item begins the next one. Several
    ``(tokenizer, seq_len)`` make rows that suit several models at once: the study packs rows that fit a
    token row (its BPE tokenizer, ``seq_tokens``) and a byte row (``None``, the byte row's length), so
    every model is fine-tuned on the same items in the same rows.

    ``items`` may be endless (a generator): with ``max_rows``, packing stops as soon as that many rows
    are closed (the item that closed the last one is drawn but not used). When ``items`` run out first,
    the last row is kept however full it is. An item longer than a row is a ``ValueError``.

    >>> items = [CharItem("Spell: ab\\nAnswer:", "a b"), CharItem("Reverse: ab\\nAnswer:", "ba")]
    >>> [len(encode_item(i)[0]) for i in items]
    [23, 24]
    >>> [len(row) for row in pack_items(items, [(None, 46)])]  # 23 + 24 ids fit a row of 46 + 1
    [2]
    >>> [len(row) for row in pack_items(items, [(None, 45)])]
    [1, 1]
    """
    fit = [(tokenizer, _check_seq_len(seq_len)) for tokenizer, seq_len in fit]
    if not fit:
        raise ValueError("fit must give at least one (tokenizer, seq_len)")
    if max_rows is not None and not int_at_least(max_rows, 0):
        raise ValueError(f"max_rows must be a non-negative int or None, got {max_rows!r}")
    rooms = [seq_len + 1 for _, seq_len in fit]
    packed: list[list[CharItem]] = []
    row: list[CharItem] = []
    used = [0] * len(fit)
    if max_rows == 0:
        return packed
    for item in items:
        sizes = [len(encode_item(item, tokenizer)[0]) for tokenizer, _ in fit]
        if any(size > room for size, room in zip(sizes, rooms, strict=True)):
            raise ValueError(
                f"an item of {' / '.join(map(str, sizes))} ids does not fit a row of "
                f"{' / '.join(map(str, rooms))} ids: {item}"
            )
        if row and any(u + size > room for u, size, room in zip(used, sizes, rooms, strict=True)):
            packed.append(row)
            row, used = [], [0] * len(fit)
            if len(packed) == max_rows:
                return packed
        row.append(item)
        used = [u + size for u, size in zip(used, sizes, strict=True)]
    if row:
        packed.append(row)
    return packed


def task_rows(
    rows: Sequence[Sequence[CharItem]], seq_len: int, tokenizer: Tokenizer | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``x`` and targets ``y`` (``[len(rows), seq_len]``) of packed rows of items
    (:func:`pack_items`): each row's items' ids (:func:`encode_item`) one after the other; ``x`` is them
    but the last, ``y`` them but the first where they are targets (the continuations), else
    ``IGNORE_INDEX``. Rows are right-padded, ``x`` with BOS and ``y`` with ``IGNORE_INDEX``: a causal
    model never looks ahead, so padding changes nothing before it. ``tokenizer=None``: byte ids.

    >>> item = CharItem("Spell: ab\\nAnswer:", "a b")
    >>> x, y = task_rows([[item], [item, item]], seq_len=46)
    >>> x.shape, (y != IGNORE_INDEX).sum(1).tolist()  # the continuation " a b\\n": 5 targets an item
    (torch.Size([2, 46]), [5, 10])
    >>> bytes(x[0, 1:18] - OFFSET), bytes(y[0, 17:22] - OFFSET)  # BOS + prompt in; y[t] follows x[t]
    (b'Spell: ab\\nAnswer:', b' a b\\n')
    """
    seq_len = _check_seq_len(seq_len)
    bos = BOS_ID if tokenizer is None else bos_id(tokenizer)
    x = torch.full((len(rows), seq_len), bos)
    y = torch.full((len(rows), seq_len), IGNORE_INDEX)
    for r, items in enumerate(rows):
        if not items:
            raise ValueError(f"row {r} holds no items")
        ids: list[int] = []
        target: list[bool] = []
        for item in items:
            i, m = encode_item(item, tokenizer)
            ids, target = ids + i, target + m
        n = len(ids) - 1
        if n > seq_len:
            raise ValueError(f"row {r} holds {len(ids)} ids, more than a row of {seq_len} inputs (+ 1)")
        x[r, :n] = torch.tensor(ids[:-1])
        y[r, :n] = torch.tensor([i if m else IGNORE_INDEX for i, m in zip(ids[1:], target[1:], strict=True)])
    return x, y


# ----------------------------------------------------------------------------- the BLT's patches, per row


def model_logits(model: TransformerLM | BLT, x: torch.Tensor) -> torch.Tensor:
    """A study model's logits ``[B, T, V]`` for id rows ``x [B, T]``, on the model's device: a token or
    byte model's forward, or a BLT's with the patches ``model.patcher`` cuts (each row on its own).

    >>> config = CharAwareConfig(vocab_size=BYTE_VOCAB, dim=16, n_layers=1, n_heads=2, max_seq_len=8)
    >>> model_logits(CharAwareLM(config), torch.tensor([encode_prompt("hi")])).shape
    torch.Size([1, 3, 260])
    """
    device = next(model.parameters()).device
    if isinstance(model, BLT):
        if model.patcher is None:
            raise ValueError("the BLT has no patcher: set model.patcher (load_blt() sets the shipped one)")
        return model(x.to(device), model.patcher.lengths(x).to(device))[0]
    return model(x.to(device))[0]


def fold_untargeted_patches(lengths: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Patch lengths ``[B, P']`` (``P' <= P``) for rows whose targets ``y [B, T]`` end early: every patch
    that starts after a row's last target (``IGNORE_INDEX`` after it: a task row's padding) is folded
    into the first of them, and columns left empty in every row are dropped.

    A BLT is causal over bytes and patches, so no byte up to the last target reads a patch that starts
    after it: its logits, and so the loss, are unchanged, while the latent transformer runs over fewer
    patches (right-padding with BOS makes one patch per BOS). Lengths still sum to ``T + 1``.

    >>> y = torch.tensor([[5, 6, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX], [5, 6, 7, 8, 9]])
    >>> fold_untargeted_patches(torch.tensor([[1, 2, 1, 1, 1], [1, 2, 3, 0, 0]]), y).tolist()
    [[1, 2, 3], [1, 2, 3]]
    """
    if lengths.dim() != 2 or y.dim() != 2 or lengths.shape[0] != y.shape[0]:
        shapes = f"{tuple(lengths.shape)} and {tuple(y.shape)}"
        raise ValueError(f"lengths [B, P] and y [B, T] must be 2-D with the same B, got {shapes}")
    T = y.shape[1]
    targeted = y != IGNORE_INDEX
    last = torch.where(targeted.any(1), T - 1 - targeted.flip(1).int().argmax(1), -1)
    starts = lengths.cumsum(1) - lengths
    after = (starts > last[:, None]) & (lengths > 0)
    first_after = after & (after.cumsum(1) == 1)
    folded = torch.where(after, 0, lengths)
    folded = torch.where(first_after, lengths.sum(1, keepdim=True) - starts, folded)
    return folded[:, : int((folded > 0).sum(1).max())]


def blt_param_counts(model: BLT) -> dict[str, int]:
    """A BLT's parameters by part. ``latent``: its latent transformer (the study's token models' ``body``
    of :func:`param_counts` but for their final norm, which the BLT has in its decoder); ``local``: its
    local encoder and decoder; ``byte_embedding`` and ``hash_embeddings`` (the hash n-gram tables);
    ``total``; ``without_hash``: all but the hash n-gram tables.

    >>> from bltlib.blt import BLTConfig
    >>> config = BLTConfig(local_dim=8, local_heads=2, latent_dim=16, latent_heads=2, latent_layers=1,
    ...                    hash_vocab=8, max_seq_len=24)
    >>> counts = blt_param_counts(BLT(config))
    >>> counts["total"] - counts["without_hash"] == counts["hash_embeddings"]
    True
    """
    if not isinstance(model, BLT):
        raise TypeError(f"model must be a bltlib.blt.BLT, got {type(model).__name__}")

    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return {
        "latent": count(model.latent),
        "local": count(model.encoder) + count(model.decoder),
        "byte_embedding": model.embed.bytes.weight.numel(),
        "hash_embeddings": model.embed.hashes.weight.numel(),
        "total": model.num_params(),
        "without_hash": model.num_params(exclude_hash=True),
    }


# ----------------------------------------------------------------------------- noise: continuation bits


def noise_passages(
    text: str, n: int, context_chars: int, continuation_chars: int, seed: int
) -> list[tuple[str, str]]:
    """``n`` (context, continuation) pairs from ``text`` (drawn with ``random.Random(seed)``): a context
    of about ``context_chars`` characters starting at a word, and the continuation of about
    ``continuation_chars`` that follows it, starting with its space (so it tokenises as it would inside
    the text). ``text`` must be several times longer than a pair.

    >>> text = " ".join(f"word{i}" for i in range(200))
    >>> noise_passages(text, 2, context_chars=12, continuation_chars=6, seed=0)
    [('word113 word114', ' word115'), ('word122 word123', ' word124')]
    """
    if not int_at_least(n, 0):
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if (
        not (isinstance(context_chars, int) and isinstance(continuation_chars, int))
        or min(context_chars, continuation_chars) < 1
    ):
        raise ValueError(
            f"context_chars and continuation_chars must be positive ints, got {context_chars!r}, "
            f"{continuation_chars!r}"
        )
    span = 3 * (context_chars + continuation_chars)
    if len(text) <= span:
        raise ValueError(f"the text ({len(text)} characters) must be longer than {span} (3 x a pair)")
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for _ in range(1000 + 100 * n):  # a text without spaces never gives a pair: give up in the end
        if len(pairs) == n:
            return pairs
        start = text.find(" ", rng.randrange(len(text) - span)) + 1
        cut = text.find(" ", start + context_chars)
        end = text.find(" ", cut + continuation_chars)
        if start > 0 and cut > start and end > cut:
            pairs.append((text[start:cut], text[cut:end]))
    if len(pairs) < n:
        raise ValueError(f"found only {len(pairs)} of {n} passages: does the text have spaces between words?")
    return pairs


@dataclass(frozen=True)
class ContinuationBits:
    """What :func:`continuation_bits` measured: ``bits``, the summed loss of all the continuations in
    bits (added up batch by batch, as the study does); ``pair_bits``, each continuation's own; how many
    ``n_bytes`` (UTF-8) and ``n_ids`` (targets) the continuations have; and ``contexts_cut``, how many
    contexts lost their start to fit the model."""

    bits: float
    pair_bits: list[float]
    n_bytes: int
    n_ids: int
    contexts_cut: int

    @property
    def bits_per_byte(self) -> float:
        """Bits per byte of the continuations: ``bits / n_bytes``."""
        return self.bits / self.n_bytes

    @property
    def nats_per_id(self) -> float:
        """The mean loss per continuation id (token or byte), in nats."""
        return self.bits * math.log(2) / self.n_ids


def _max_seq_len(model: TransformerLM | BLT) -> int:
    return model.config.max_seq_len if isinstance(model, BLT) else model.max_seq_len


@torch.no_grad()
def continuation_bits(
    model: TransformerLM | BLT,
    pairs: Sequence[tuple[str, str]],
    tokenizer: Tokenizer | None = None,
    batch_size: int = 16,
) -> ContinuationBits:
    """The loss, in bits, of each continuation given its context, for ``(context, continuation)`` pairs.

    A row is BOS + the context's ids + the continuation's ids, **tokenised separately** (so the
    continuation is the same ids whatever the context, clean or noised), and only the continuation's
    ids count. A context too long for the model loses its first ids (right after BOS): ``contexts_cut``
    counts those. Works for a token model (pass its ``tokenizer``), a byte model (``tokenizer=None``) and
    a :class:`~bltlib.blt.BLT` (``tokenizer=None``; each row patched over its own entropies,
    :func:`model_logits`: so a BLT's patches run over context and continuation together). Rows run
    ``batch_size`` at a time, right-padded; the model is evaluated in eval mode, and its mode restored.

    >>> config = CharAwareConfig(vocab_size=BYTE_VOCAB, dim=16, n_layers=1, n_heads=2, max_seq_len=32)
    >>> _ = torch.manual_seed(0)
    >>> score = continuation_bits(CharAwareLM(config), [("Once upon", " a time"), ("The end", ".")])
    >>> score.n_bytes, score.n_ids, score.contexts_cut, round(score.bits_per_byte, 1)  # ~ log2(260) = 8.02
    (8, 8, 0, 8.0)
    """
    if not isinstance(model, TransformerLM | BLT):
        raise TypeError(f"model must be a TransformerLM, CharAwareLM or BLT, got {type(model).__name__}")
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ValueError("pairs must be a non-empty sequence of (context, continuation) pairs")
    if isinstance(model, BLT) and tokenizer is not None:
        raise ValueError("a BLT reads bytes: pass tokenizer=None")
    if not isinstance(model, BLT) and tokenizer is None and model.config.vocab_size != BYTE_VOCAB:
        raise ValueError(
            f"a token model (vocab {model.config.vocab_size}) needs its tokenizer; tokenizer=None means a "
            f"byte model (vocab {BYTE_VOCAB})"
        )
    if not int_at_least(batch_size, 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    limit = _max_seq_len(model)
    rows, cut = [], 0
    for context, continuation in pairs:
        c, a = encode_prompt(context, tokenizer), encode_prompt(continuation, tokenizer)[1:]
        room = limit + 1 - len(a)  # the x of BOS + c + a drops its last id
        if room < 2:
            raise ValueError(f"the continuation {continuation!r} alone fills the model's {limit} positions")
        if len(c) > room:
            c, cut = [c[0], *c[len(c) - room + 1 :]], cut + 1  # keep BOS, drop the oldest context ids
        rows.append((c + a, len(c)))
    bits, pair_bits = 0.0, []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            t = max(len(ids) for ids, _ in chunk) - 1
            x = torch.zeros(len(chunk), t, dtype=torch.long)  # right padding: a causal model never reads it
            y = torch.full((len(chunk), t), IGNORE_INDEX)
            for r, (ids, n_ctx) in enumerate(chunk):
                x[r, : len(ids) - 1] = torch.tensor(ids[:-1])
                y[r, n_ctx - 1 : len(ids) - 1] = torch.tensor(ids[n_ctx:])  # only the continuation counts
            logits = model_logits(model, x).float()
            y = y.to(logits.device)
            loss = F.cross_entropy(
                logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
            )
            bits += loss.item() / math.log(2)
            per_row = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=IGNORE_INDEX, reduction="none")
            pair_bits += [v / math.log(2) for v in per_row.sum(1).tolist()]
    finally:
        model.train(was_training)
    n_bytes = sum(len(continuation.encode("utf-8")) for _, continuation in pairs)
    n_ids = sum(len(ids) - n_ctx for ids, n_ctx in rows)
    return ContinuationBits(bits, pair_bits, n_bytes, n_ids, cut)


def noise_table(
    model: TransformerLM | BLT, pairs: Sequence[tuple[str, str]], tokenizer: Tokenizer | None = None
) -> dict[str, object]:
    """What noise in the context costs ``model``: the bits per byte of the clean continuations given the
    clean contexts (``clean_bpb``) and given contexts noised by each of :data:`bltlib.tasks.NOISES`
    (``noised_bpb``; pair ``i`` noised with ``seed=i``), their differences (``delta_bpb``: noised minus
    clean) and how many noised contexts were cut to fit (``contexts_cut``). :func:`continuation_bits`
    measures each; ``pairs`` typically come from :func:`noise_passages`.

    >>> config = CharAwareConfig(vocab_size=BYTE_VOCAB, dim=16, n_layers=1, n_heads=2, max_seq_len=64)
    >>> _ = torch.manual_seed(0)
    >>> table = noise_table(CharAwareLM(config), [("Once upon", " a time"), ("The end", ".")])
    >>> sorted(table), list(table["delta_bpb"]) == list(NOISES)
    (['clean_bpb', 'contexts_cut', 'delta_bpb', 'noised_bpb'], True)
    """
    clean = continuation_bits(model, pairs, tokenizer).bits_per_byte
    out: dict[str, object] = {"clean_bpb": clean, "noised_bpb": {}, "delta_bpb": {}, "contexts_cut": {}}
    for noise in NOISES:
        noised = [(apply_noise(noise, c, seed=i), cont) for i, (c, cont) in enumerate(pairs)]
        score = continuation_bits(model, noised, tokenizer)
        out["noised_bpb"][noise] = score.bits_per_byte
        out["delta_bpb"][noise] = score.bits_per_byte - clean
        out["contexts_cut"][noise] = score.contexts_cut
    return out


__all__ = [
    "BOS_TOKEN",
    "BYTE_MODELS",
    "DEFAULT_MAX_NEW",
    "EXTRAS",
    "STUDY_MODELS",
    "CharAwareConfig",
    "CharAwareLM",
    "CharLSTMEmbedding",
    "ContinuationBits",
    "MatchedEmbedding",
    "StudyModel",
    "answer",
    "blt_param_counts",
    "bos_id",
    "char_path_params",
    "charaware_card",
    "continuation_bits",
    "encode_item",
    "encode_prompt",
    "flops_per_byte",
    "fold_untargeted_patches",
    "load_charaware",
    "load_models",
    "matched_width",
    "model_logits",
    "noise_passages",
    "noise_table",
    "pack_items",
    "param_counts",
    "save_charaware",
    "study_weights",
    "task_rows",
    "token_byte_table",
    "tokenizer_bytes",
]
