"""Lesson 5's study: do a char-aware token embedding, or bytes, help with character tasks and noisy text?

    python scripts/char_study.py --preset cpu --threads 1   # the shipped models: 4-5 h on CPU, +2-3 h BLT
    python scripts/char_study.py --preset gpu               # the same on a GPU, longer and bigger batches
    python scripts/char_study.py --preset laptop            # minutes: a small run of every phase
    python scripts/char_study.py --preset ci                # a smoke run (seconds)

Five models on one transformer body (same width, depth, heads and SwiGLU width, so the same body
parameters):

- ``bpe``: a ``CharAwareLM`` with ``extra="none"`` over lesson 1's BPE (GPT-4 split, vocabulary 4096
  trained on Austen train, plus a BOS token);
- ``bpe_char``: the same plus the char LSTM embedding (an LSTM over each token's bytes);
- ``bpe_matched``: the same plus a parameter-matched extra embedding (a low-rank second token table);
- ``bytes``: the same body over the 260 byte ids (``extra="none"``, vocab 260);
- ``blt``: lesson 4's BLT (:class:`bltlib.blt.BLT`) whose latent transformer has the same blocks, over
  entropy patches; its local models are the shipped BLT's (``BLT_SHAPE``). Patches come from the shipped
  entropy model at the shipped BLT's threshold, computed over each row itself (BOS first).

They are matched on training bytes: every step has ``batch_size`` rows; a token model's rows are
``seq_tokens`` tokens, a byte model's (``bytes`` and ``blt``) ``round(seq_tokens x bytes per token)``
bytes (bytes per token measured on Austen train), so all see about the same bytes per step, and in
fine-tuning exactly the same task items, in the same rows and order (``bytes`` and ``blt`` read the very
same rows). FLOPs per byte differ (the byte model runs the body once per byte, the BLT once per patch
plus its small local models, and its entropy model besides) and are reported.

Phases, per model, each resumable from the checkpoints under ``--run-dir/<preset>/<model>/``:

1. ``pretrain``: language modelling on Austen train (random windows, each starting with BOS);
2. ``finetune``: rows of character-task items (:mod:`bltlib.tasks`) about words of the *train* word
   split, packed whole into rows, loss on the answer tokens (and the newline) only, with about a
   quarter of the rows LM windows (task-only fine-tuning destroys the LM); the weights are kept at a
   few points along the way (``curve``: fractions of the steps) for the learning curve;
3. ``eval``: greedy exact match (:func:`bltlib.charaware.answer`, capped at the answer + 8 bytes) per
   task x word set (held-out words that are one BPE token, held-out words of several tokens, random
   consonant strings) at each curve point, with Wilson 95% intervals and the majority baseline; LM bits
   per byte on Austen test before and after fine-tuning; the noise table (bits per byte of a clean
   continuation given a noised context minus given the clean context, context and continuation
   tokenised separately), before and after fine-tuning. Weights are rounded to float16 before every
   evaluation, as they are shipped.

Writes ``bltlib/data/results/char_study_<preset>.json`` (``.partial.json`` until every model has every
phase; an interrupted study goes on from it and from the checkpoints), and, for the laptop, cpu and gpu
presets (or wherever ``--weights-dir`` says), the fine-tuned models as
``char_<model>.safetensors`` (float16, card in the metadata, each under 5 MB) with the tokenizer
``char_tokenizer.model``, read back by :func:`bltlib.charaware.load_models`.

The rows, the BLT's per-row patches and the measurements come from :mod:`bltlib.charaware`
(:func:`~bltlib.charaware.pack_items`, :func:`~bltlib.charaware.task_rows`,
:func:`~bltlib.charaware.noise_table`, ...), tested there and used
by lesson 5 as well.

The final results need all five models; a study begun with fewer (``--models ...``) is completed by
running the missing ones later with the same preset, e.g. ``--models blt``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import random
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F

from bltlib import entropy as entropy_lib
from bltlib.blt import BLT, BLTConfig, blt_card, load_blt, save_blt
from bltlib.blt import bits_per_byte as blt_bits_per_byte
from bltlib.bpe import RegexTokenizer
from bltlib.charaware import (
    BOS_TOKEN,
    BYTE_MODELS,
    STUDY_MODELS,
    TOKENIZER_FILE,
    WEIGHTS_DIR,
    CharAwareConfig,
    CharAwareLM,
    answer,
    blt_param_counts,
    bos_id,
    encode_prompt,
    flops_per_byte,
    fold_untargeted_patches,
    load_charaware,
    noise_passages,
    noise_table,
    pack_items,
    param_counts,
    save_charaware,
    study_weights,
    task_rows,
    tokenizer_bytes,
)
from bltlib.config import get_device, seed_everything
from bltlib.data import load_text
from bltlib.data.batching import BOS_ID, BYTE_VOCAB, consecutive_windows
from bltlib.flops import training_flops
from bltlib.patching import Patcher
from bltlib.tasks import (
    CHAR_TASKS,
    NOISES,
    CharItem,
    accuracy,
    char_item,
    exact_match,
    majority_baseline,
    random_strings,
    split_words,
    task_applies,
    task_items,
    wilson_interval,
    words_from_text,
)
from bltlib.train import STATE_FILE, TrainConfig, Trainer
from bltlib.transformer import TransformerLM

ROOT = Path(__file__).resolve().parents[1]
MODELS = STUDY_MODELS
Model = CharAwareLM | BLT
EXTRA = {"bpe": "none", "bpe_char": "char", "bpe_matched": "matched", "bytes": "none"}
PHASES = ("pretrain", "finetune", "eval")
WORD_SETS = ("frequent", "rare", "random")
MAX_FILE_BYTES = 5_000_000  # every shipped file stays under 5 MB
SHIPPED_PRESETS = ("laptop", "cpu", "gpu")

# One body for every preset but ci: dim 128 keeps each shipped file (float16) under 5 MB at vocab 4096.
# Steps are optimizer steps per model; `curve` the fractions of the fine-tuning steps evaluated.
_BASE = dict(
    dim=128, layers=4, heads=4, char_dim=32, char_hidden=128, vocab_size=4096, seed=0,
    batch_size=4, seq_tokens=128, warmup=200, pretrain_lr=2e-3, finetune_lr=1e-3,
    curve=(0.125, 0.25, 0.5, 1.0), context_chars=80, continuation_chars=60, test_chars=None, amp=False,
)  # fmt: skip
PRESETS: dict[str, dict] = {
    # seconds, for the tests: a tiny body, a few steps, two items per cell
    "ci": {**_BASE, **dict(
        dim=32, layers=1, heads=2, char_dim=8, char_hidden=32, seq_tokens=48, warmup=2,
        pretrain_steps=16, pretrain_lr=3e-3, finetune_steps=16, finetune_lr=2e-3, curve=(0.25, 0.5, 1.0),
        eval_items=2, noise_passages=3, context_chars=60, continuation_chars=30, test_chars=3_000,
        ckpt_every=5, log_every=8,
    )},
    # minutes: every phase at the real size, far too short to learn the tasks
    "laptop": {**_BASE, **dict(
        pretrain_steps=300, finetune_steps=300, warmup=30, curve=(0.25, 0.5, 1.0), eval_items=20,
        noise_passages=20, test_chars=50_000, ckpt_every=100, log_every=50,
    )},
    # the long CPU run, one thread: 6k pretraining and 14k fine-tuning steps per model (4-5 hours)
    "cpu": {**_BASE, **dict(
        pretrain_steps=6_000, finetune_steps=14_000, eval_items=200, noise_passages=200,
        ckpt_every=500, log_every=250,
    )},
    # a GPU: 8x the rows per step and more steps (bf16 autocast)
    "gpu": {**_BASE, **dict(
        batch_size=32, pretrain_steps=20_000, finetune_steps=40_000, warmup=500, eval_items=300,
        noise_passages=300, ckpt_every=1000, log_every=500, amp=True,
    )},
}  # fmt: skip

# The BLT's local models and cross-attention, as lesson 4's shipped BLT (bltlib/weights/blt.safetensors);
# its latent transformer takes the preset's body (dim, layers, heads) and max_seq_len is the byte row.
# cross_attn_k x local_dim = dim, so the patch vectors enter the latent model without a projection. Kept
# apart from PRESETS: a study's saved settings are PRESETS[preset], and a study begun before the BLT
# joined resumes with them unchanged.
BLT_SHAPE = dict(
    local_dim=64, local_heads=4, encoder_layers=1, decoder_layers=2, local_window=128, cross_attn_k=2,
    hash_vocab=512, ngram_sizes=(3, 4, 5, 6, 7, 8),
)  # fmt: skip
BLT_SHAPE_CI = {
    **BLT_SHAPE,
    **dict(local_dim=16, local_heads=2, decoder_layers=1, local_window=64, hash_vocab=64),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument(
        "--eval-workers",
        type=int,
        default=1,
        help="processes that decode the BLT's answers in the eval phase (it generates one prompt at a time)",
    )
    p.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "char_study", help="checkpoints go here")
    p.add_argument("--out-dir", type=Path, default=ROOT / "bltlib" / "data" / "results", help="results JSON")
    p.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help=f"where the fine-tuned models are shipped (default {WEIGHTS_DIR.relative_to(ROOT)} for the "
        "laptop, cpu and gpu presets; the ci preset ships only when this is given)",
    )
    p.add_argument("--no-ship", action="store_true", help="do not write the shipped weights")
    p.add_argument(
        "--merge-from",
        type=Path,
        nargs="+",
        default=[],
        help="results folders (--out-dir) of other runs of the same preset, e.g. models trained in a second "
        "process: their models' results join this run's (a model this run has already is kept)",
    )
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be at least 1, got {args.threads}")
    if args.eval_workers < 1:
        p.error(f"--eval-workers must be at least 1, got {args.eval_workers}")
    return args


def card_markdown(card: dict, size: int) -> str:
    """The human-readable card written beside a shipped model (the full card is in its metadata)."""
    name, m = card["model"], card["metrics"]
    bpb, acc, pre, fine = (
        m["bits_per_byte_austen_test"],
        m["mean_accuracy"],
        card["pretrain"],
        card["finetune"],
    )
    params = ", ".join(f"{k} {v:,}" for k, v in card["parameters"].items())
    return "\n".join(
        [
            f"# Lesson 5's `{name}` model (`char_{name}.safetensors`)",
            "",
            f"{card['description']}. Load it with `bltlib.charaware.load_models(['{name}'])`"
            + (f"; its tokenizer is `{card['tokenizer']}` beside it." if card["tokenizer"] else "."),
            "",
            f"- **Data**: {card['data']}.",
            f"- **Command**: `{card['command']}` (preset `{card['preset']}`; it resumes from checkpoints).",
            f"- **Training**: {pre['steps']:,} pretraining steps (lr {pre['lr']:g}, batch "
            f"{pre['batch_size']} x {pre['seq_len']}, {pre['bytes_seen']:,} bytes), then "
            f"{fine['steps']:,} fine-tuning steps (lr {fine['lr']:g}, {fine['items']:,} task items).",
            f"- **Parameters**: {params}.",
            f"- **Held-out bits per byte** (Austen test split): {bpb['pretrained']:.4f} pretrained, "
            f"{bpb['finetuned']:.4f} after fine-tuning.",
            f"- **Exact match after fine-tuning**, mean over the ten tasks: held-out frequent words "
            f"{acc['frequent']:.3f}, held-out rare words {acc['rare']:.3f}, random strings "
            f"{acc['random']:.3f} (per task in the metadata card and in the study's results JSON).",
            f"- **Forward FLOPs per byte**: {card['flops_per_byte']:,}.",
            f"- **Size**: {size / 1e6:.2f} MB, {card['dtype']}.",
            "",
        ]
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _jsonable(value: object) -> object:
    return json.loads(json.dumps(value))  # tuples -> lists, so saved and current settings compare equal


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    tmp.replace(path)  # never a half-written results file, even if killed mid-write


# ----------------------------------------------------------------------------- saving


def save_model(model: Model, path: Path, card: dict) -> Path:
    """Write a study model with its card: :func:`bltlib.blt.save_blt` or :func:`save_charaware`."""
    return save_blt(model, path, card) if isinstance(model, BLT) else save_charaware(model, path, card)


# ----------------------------------------------------------------------------- data, shared by all models


class Study:
    """Everything the models share: tokenizer, token and byte streams, word sets, evaluation items and
    the packed fine-tuning rows. Built lazily (a resumed run that only evaluates never encodes Austen)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.preset = args, args.preset
        self.p = PRESETS[args.preset]
        self.run_dir = args.run_dir / args.preset
        self.seed = self.p["seed"]
        self.B, self.T = self.p["batch_size"], self.p["seq_tokens"]
        self.n_lm = max(1, round(self.B / 4))  # about a quarter of the fine-tuning rows are LM windows
        if self.n_lm >= self.B:
            raise ValueError(f"batch_size {self.B} leaves no task rows next to {self.n_lm} LM row(s)")
        self.device = get_device()
        self._streams: dict[tuple[str, bool], torch.Tensor] = {}

    # ------------------------------------------------------------------------- text and tokenizer

    @cached_property
    def texts(self) -> dict[str, str]:
        test = load_text("austen", split="test")
        limit = self.p["test_chars"]
        return {
            "train": load_text("austen", split="train"),
            "val": load_text("austen", split="val"),
            "test": test if limit is None else test[:limit],
        }

    @cached_property
    def tokenizer(self) -> RegexTokenizer:
        """Lesson 1's BPE (GPT-4 split) at ``vocab_size``, trained once on Austen train, with BOS after it."""
        path = self.run_dir / TOKENIZER_FILE
        if path.is_file():
            tok = RegexTokenizer.from_file(path)
        else:
            tok = RegexTokenizer()
            tok.train(self.texts["train"], self.p["vocab_size"])
            tok.register_special_tokens({BOS_TOKEN: self.p["vocab_size"]})
            path.parent.mkdir(parents=True, exist_ok=True)
            tok.save(str(path.with_suffix("")))
        if len(tok.vocab) != self.p["vocab_size"] or bos_id(tok) != self.p["vocab_size"]:
            raise SystemExit(f"{path} is not a vocab-{self.p['vocab_size']} study tokenizer; delete it")
        return tok

    @cached_property
    def token_bytes(self) -> list[bytes]:
        return tokenizer_bytes(self.tokenizer)

    def stream(self, split: str, byte_level: bool) -> torch.Tensor:
        """The ids of a split (tokens, or bytes for ``byte_level``), without BOS: windows add their own."""
        key = (split, byte_level)
        if key not in self._streams:
            ids = encode_prompt(self.texts[split], None if byte_level else self.tokenizer)[1:]
            self._streams[key] = torch.tensor(ids, dtype=torch.long)
        return self._streams[key]

    @cached_property
    def bytes_per_token(self) -> float:
        return len(self.texts["train"].encode("utf-8")) / len(self.stream("train", False))

    @cached_property
    def byte_seq(self) -> int:
        """The byte model's row length: as many bytes as a token model's row holds on average."""
        return round(self.T * self.bytes_per_token)

    def seq_len(self, name: str) -> int:
        return self.byte_seq if name in BYTE_MODELS else self.T

    def tok(self, name: str) -> RegexTokenizer | None:
        return None if name in BYTE_MODELS else self.tokenizer

    def bos(self, name: str) -> int:
        return BOS_ID if name in BYTE_MODELS else bos_id(self.tokenizer)

    # ------------------------------------------------------------------------- the BLT's patches

    @cached_property
    def entropy_model(self) -> TransformerLM:
        """Lesson 3's shipped entropy model, which the BLT's patches come from."""
        return entropy_lib.load_entropy_model(device=self.device)

    @cached_property
    def patcher(self) -> Patcher:
        """Entropy patching at the shipped BLT's threshold, over each row's own entropies."""
        rule = blt_card()["patcher"]
        return Patcher(rule["scheme"], threshold=rule["threshold"], entropy_model=self.entropy_model)

    @cached_property
    def patcher_card(self) -> dict:
        """The patching rule, as the BLT's cards record it (:func:`bltlib.blt.load_blt` reads it back)."""
        digest = hashlib.sha256(entropy_lib.DEFAULT_WEIGHTS.read_bytes()).hexdigest()[:12]
        return {
            "scheme": self.patcher.scheme,
            "threshold": self.patcher.threshold,
            "entropy_model": f"bltlib/weights/{entropy_lib.DEFAULT_WEIGHTS.name} (sha256 {digest}...)",
            "entropies": "over each row itself, BOS first (a pure function of the row)",
        }

    @cached_property
    def mean_patch_size(self) -> float:
        """Bytes per patch on the first 16 pretraining batches (patches include [BOS]'s and the next
        byte's, as in scripts/train_blt.py)."""
        get_batch = self.pretrain_batches("blt")
        lengths = torch.cat([get_batch("train", step)[1].flatten() for step in range(16)])
        return lengths.sum().item() / (lengths > 0).sum().item()

    # ------------------------------------------------------------------------- words and items

    @cached_property
    def words(self) -> dict[str, list[str]]:
        """``train`` (fine-tuning) words, and the held-out ``frequent`` (one BPE token after a space, as in
        the prompts), ``rare`` (several tokens) and ``random`` (consonant strings, no Austen word) sets."""
        words = words_from_text(self.texts["train"])
        split = split_words(words, held_out=0.2, seed=self.seed)
        single = {w: len(self.tokenizer.encode_ordinary(" " + w)) == 1 for w in split.held_out}
        n_random = max(500, 2 * self.p["eval_items"])
        rng = random.Random(f"random strings {self.seed}")
        return {
            "train": split.train,
            "frequent": [w for w in split.held_out if single[w]],
            "rare": [w for w in split.held_out if not single[w]],
            "random": random_strings(n_random, rng, exclude=set(words)),
        }

    @cached_property
    def eval_items(self) -> dict[str, dict[str, list[CharItem]]]:
        """``eval_items`` items per task x word set, the same for every model: distinct words where the
        set has enough (``contains_char`` draws its letter first, as :func:`task_items` does)."""
        out: dict[str, dict[str, list[CharItem]]] = {}
        n = self.p["eval_items"]
        for task in CHAR_TASKS:
            out[task] = {}
            for word_set in WORD_SETS:
                rng = random.Random(f"eval {task} {word_set} {self.seed}")
                pool = self.words[word_set]
                if task == "contains_char":
                    out[task][word_set] = task_items(task, pool, n, rng)
                else:
                    usable = [w for w in pool if task_applies(task, w)]
                    chosen = rng.sample(usable, min(n, len(usable)))
                    out[task][word_set] = [char_item(task, w, rng) for w in chosen]
        return out

    @cached_property
    def finetune_rows(self) -> tuple[list[list[CharItem]], list[int]]:
        """The fine-tuning rows (``batch_size - n_lm`` per step, in order) and the items seen before each
        step. Items come from the train words, tasks shuffled together, and are packed whole, in order,
        into rows that fit both a token row (``seq_tokens``) and a byte row: so every model gets the same
        items in the same rows."""
        need = self.p["finetune_steps"] * (self.B - self.n_lm)
        rng = random.Random(f"finetune items {self.seed}")

        def items() -> Iterator[CharItem]:
            while True:  # blocks of 2,000 items per task, shuffled together (task_items filters once a call)
                block = [
                    item for task in CHAR_TASKS for item in task_items(task, self.words["train"], 2000, rng)
                ]
                rng.shuffle(block)
                yield from block

        try:
            rows = pack_items(items(), [(self.tokenizer, self.T), (None, self.byte_seq)], max_rows=need)
        except ValueError as err:
            raise SystemExit(f"fine-tuning: {err}; raise seq_tokens") from err
        per_step = self.B - self.n_lm
        seen = [0]
        for step in range(self.p["finetune_steps"]):
            seen.append(seen[-1] + sum(len(r) for r in rows[step * per_step : (step + 1) * per_step]))
        return rows, seen

    def curve_steps(self) -> list[int]:
        steps = self.p["finetune_steps"]
        return sorted({max(1, round(f * steps)) for f in self.p["curve"]})

    # ------------------------------------------------------------------------- batches

    def lm_rows(self, name: str, split: str, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random LM windows: x = BOS + the first T - 1 ids, y = the T ids."""
        stream, t = self.stream(split, name in BYTE_MODELS), self.seq_len(name)
        starts = torch.randint(0, len(stream) - t, (n,), generator=g)
        y = torch.stack([stream[s : s + t] for s in starts])
        return torch.cat([torch.full((n, 1), self.bos(name)), y[:, :-1]], 1), y

    def pretrain_batches(self, name: str) -> Callable[[str, int], tuple[torch.Tensor, ...]]:
        def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + 2 * step + (split == "val"))
            return self.lm_rows(name, split, self.B, g)

        return self.with_patches(name, get_batch)

    def finetune_batches(self, name: str) -> Callable[[str, int], tuple[torch.Tensor, ...]]:
        rows, _ = self.finetune_rows
        per_step = self.B - self.n_lm

        def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + 2 * step + (split == "val") + 10**9)
            if split != "train":
                return self.lm_rows(name, "val", self.B, g)
            tx, ty = task_rows(
                rows[step * per_step : (step + 1) * per_step], self.seq_len(name), self.tok(name)
            )
            lx, ly = self.lm_rows(name, "train", self.n_lm, g)
            return torch.cat([lx, tx]), torch.cat([ly, ty])

        return self.with_patches(name, get_batch)

    def with_patches(self, name: str, get_batch: Callable) -> Callable[[str, int], tuple[torch.Tensor, ...]]:
        """``get_batch`` as it is for every model but the BLT, which gets ``(x, patch lengths, y)``: the
        byte model's very rows, cut by :attr:`patcher` (a pure function of each row, so computed here),
        with the patches of a task row's padding folded into one (the loss is the same, the latent model
        runs over fewer patches: :func:`~bltlib.charaware.fold_untargeted_patches`)."""
        if name != "blt":
            return get_batch

        def patched(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            x, y = get_batch(split, step)
            return x, fold_untargeted_patches(self.patcher.lengths(x), y), y

        return patched

    # ------------------------------------------------------------------------- models

    def blt_config(self) -> BLTConfig:
        """The BLT: the body's shape in the latent transformer, the local models of :data:`BLT_SHAPE`."""
        shape = BLT_SHAPE_CI if self.preset == "ci" else BLT_SHAPE
        p = self.p
        return BLTConfig(
            **shape, latent_dim=p["dim"], latent_layers=p["layers"], latent_heads=p["heads"],
            max_seq_len=self.byte_seq,
        )  # fmt: skip

    def new_model(self, name: str) -> Model:
        """A fresh model; the seed fixes the body, so the three token models start from the same one."""
        torch.manual_seed(self.seed)
        if name == "blt":
            model = BLT(self.blt_config())
            model.patcher = self.patcher
            return model
        p = self.p
        byte_level = name == "bytes"
        config = CharAwareConfig(
            vocab_size=BYTE_VOCAB if byte_level else p["vocab_size"] + 1,  # + BOS
            dim=p["dim"],
            n_layers=p["layers"],
            n_heads=p["heads"],
            max_seq_len=self.seq_len(name),
            extra=EXTRA[name],
            char_dim=p["char_dim"],
            char_hidden=p["char_hidden"],
        )
        return CharAwareLM(config, None if byte_level else self.token_bytes)

    def load_model(self, name: str, path: Path, device: torch.device | str = "cpu") -> Model:
        """A model saved by :func:`save_model`, in eval mode; the BLT with this study's patcher."""
        if name != "blt":
            return load_charaware(path, device)
        model = load_blt(path, device)
        model.patcher = self.patcher
        return model

    def describe(self, name: str, model: Model) -> dict:
        if isinstance(model, BLT):
            return self.describe_blt(model)
        c = model.config
        bpt = 1.0 if name == "bytes" else self.bytes_per_token
        fpb = flops_per_byte(model, bytes_per_token=bpt, context_tokens=self.seq_len(name))
        what = {
            "bpe": f"BPE tokens (vocab {self.p['vocab_size']} + BOS)",
            "bpe_char": f"BPE tokens + char LSTM embedding (bytes {c.char_dim}-d, hidden {c.char_hidden})",
            "bpe_matched": f"BPE tokens + matched extra embedding (width {c.matched_width})",
            "bytes": "bytes (260 ids)",
        }[name]
        return {
            "description": f"{what}; body dim {c.dim} x {c.n_layers} layers x {c.n_heads} heads, "
            f"SwiGLU {c.ffn_hidden}; rows of {self.seq_len(name)} {'bytes' if name == 'bytes' else 'tokens'}",
            "parameters": param_counts(model),
            "seq_len": self.seq_len(name),
            "bytes_per_position": bpt,
            "flops_per_byte": round(fpb),
        }

    def describe_blt(self, model: BLT) -> dict:
        c, seq = model.config, self.byte_seq
        mean = self.mean_patch_size
        parts = model.flops_per_byte(mean, seq)
        entropy_fpb = flops_per_byte(self.entropy_model, bytes_per_token=1.0, context_tokens=seq)
        latent = f"latent transformer dim {c.latent_dim} x {c.latent_layers} layers x {c.latent_heads} heads"
        local = (
            f"local encoder {c.encoder_layers} / decoder {c.decoder_layers} layer(s) of width {c.local_dim}"
        )
        ngrams = f"hash n-grams {min(c.ngram_sizes)}-{max(c.ngram_sizes)} ({c.hash_vocab} rows each)"
        return {
            "description": f"BLT over bytes: {latent}, SwiGLU {c.latent_stack().ffn_hidden}, over entropy "
            f"patches (mean {mean:.2f} bytes); {local} (window {c.local_window}), {c.cross_attn_k} query "
            f"slots per patch, {ngrams}; rows of {seq} bytes",
            "parameters": blt_param_counts(model),
            "seq_len": seq,
            "bytes_per_position": 1.0,
            "flops_per_byte": round(parts["total"]),
            "flops_per_byte_parts": {k: round(v) for k, v in parts.items() if k != "total"},
            "entropy_model_flops_per_byte": round(entropy_fpb),
            "flops_note": "flops_per_byte is the BLT's forward alone (BLT.flops_per_byte at the mean patch "
            "size, attention over the row); the entropy model that cuts the patches costs "
            "entropy_model_flops_per_byte more (forward only, not trained)",
            "mean_patch_size": round(mean, 3),
            "patcher": self.patcher_card,
            "config": _jsonable(asdict(c)),
        }


# ----------------------------------------------------------------------------- evaluation


def round_to_float16(model: Model) -> Model:
    """Round the weights to float16 and back, in place: evaluate what is shipped."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return model


@torch.no_grad()
def lm_bits_per_byte(study: Study, name: str, model: Model) -> float:
    """Bits per byte on Austen test in consecutive windows (each from BOS) of the model's row length: the
    summed losses in bits over the bytes the target ids spell (the same bytes for every model). The BLT
    through :func:`bltlib.blt.bits_per_byte`, the same windows, each patched over its own entropies."""
    model.eval()
    if isinstance(model, BLT):
        ids = torch.tensor(encode_prompt(study.texts["test"]))  # BOS + the test bytes
        return blt_bits_per_byte(model, ids, model.patcher, seq_len=study.seq_len(name))
    stream, t, bos = study.stream("test", name in BYTE_MODELS), study.seq_len(name), study.bos(name)
    device = model.tok_emb.weight.device
    bits = 0.0
    for starts, n in consecutive_windows(len(stream), t, batch_size=8):
        y = torch.stack([stream[s : s + n] for s in starts])
        x = torch.cat([torch.full((len(y), 1), bos), y[:, :-1]], 1)
        logits, _ = model(x.to(device))
        bits += F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
    return bits / math.log(2) / len(study.texts["test"].encode("utf-8"))


def study_noise_table(study: Study, name: str, model: Model) -> dict:
    """:func:`bltlib.charaware.noise_table` on the study's passages of Austen test."""
    p = study.p
    pairs = noise_passages(
        study.texts["test"], p["noise_passages"], p["context_chars"], p["continuation_chars"], study.seed
    )
    return noise_table(model, pairs, study.tok(name))


def score_tasks(study: Study, name: str, model: Model, examples: int = 0) -> dict:
    """Exact match per task x word set, all items decoded in one :func:`answer` call (it batches prompts
    of equal length). With ``examples``, the first few (prompt, answer, prediction) of each cell."""
    cells = [
        (task, ws, item)
        for task, sets in study.eval_items.items()
        for ws, items in sets.items()
        for item in items
    ]
    prompts = [item.prompt for _, _, item in cells]
    caps = [len(item.answer.encode("utf-8")) + 8 for _, _, item in cells]
    preds = answer(model, prompts, study.tok(name), max_new=caps, workers=study.args.eval_workers)
    out: dict[str, dict[str, dict]] = {}
    for task, sets in study.eval_items.items():
        out[task] = {}
        for ws, items in sets.items():
            mine = [p for (t, w, _), p in zip(cells, preds, strict=True) if (t, w) == (task, ws)]
            answers = [item.answer for item in items]
            hits = exact_match(mine, answers)
            cell = {"accuracy": accuracy(mine, answers), "correct": sum(hits), "n": len(hits)}
            if examples:
                cell["examples"] = [
                    {"prompt": item.prompt, "answer": item.answer, "prediction": pred}
                    for item, pred in zip(items[:examples], mine[:examples], strict=True)
                ]
            out[task][ws] = cell
    return out


def probe(study: Study, name: str, model: Model, n: int = 10) -> str:
    """A glance for the log while fine-tuning: exact matches on the first ``n`` held-out items of spell and
    reverse (the full evaluation comes in the eval phase)."""
    out = []
    for task in ("spell", "reverse"):
        for ws in ("frequent", "rare"):
            items = study.eval_items[task][ws][:n]
            preds = answer(
                model, [i.prompt for i in items], study.tok(name), [len(i.answer) + 8 for i in items]
            )
            out.append(f"{task}/{ws} {sum(exact_match(preds, [i.answer for i in items]))}/{len(items)}")
    return ", ".join(out)


def mean_by_set(cells: dict[str, dict[str, dict]]) -> dict[str, float]:
    return {ws: sum(cells[t][ws]["accuracy"] for t in cells) / len(cells) for ws in WORD_SETS}


# ----------------------------------------------------------------------------- the phases


class Runner:
    """Runs the phases of one study and keeps its state (what is done, and the numbers) in the results
    file, rewritten after every phase of every model."""

    def __init__(self, study: Study, args: argparse.Namespace, argv: list[str]) -> None:
        self.study, self.args = study, args
        self.command = ("python scripts/char_study.py " + shlex.join(argv)).strip()
        self.out = args.out_dir / f"char_study_{args.preset}.json"
        self.partial = self.out.with_suffix(".partial.json")
        self.settings = _jsonable(study.p)
        self.state = self._load_state()
        self.dirty = False  # whether this invocation changed the results
        ship = args.preset in SHIPPED_PRESETS or args.weights_dir is not None
        self.weights_dir = None if args.no_ship or not ship else (args.weights_dir or WEIGHTS_DIR)
        for folder in args.merge_from:
            self._merge(folder)

    def _load_state(self) -> dict:
        """What is done so far: the partial results if any, else the final ones, else nothing."""
        for path in (self.partial, self.out):
            if path.is_file():
                saved = json.loads(path.read_text())
                if saved.get("settings") != self.settings:
                    raise SystemExit(
                        f"{path} was made with other settings than the {self.args.preset!r} preset has now; "
                        "move it (and the run folder) away, or pass another --out-dir / --run-dir"
                    )
                # A resumed run is the same command again: each command once, in first-run order.
                return {
                    **{k: saved[k] for k in ("settings", "runs")},
                    "commands": list(dict.fromkeys(saved["commands"])),
                }
        return {"settings": self.settings, "commands": [], "runs": {}}

    def _merge(self, folder: Path) -> None:
        """Take the models another run of this preset has (results in ``folder``) and this run lacks."""
        for path in (folder / self.partial.name, folder / self.out.name):
            if path.is_file():
                break
        else:
            raise SystemExit(f"{folder} holds no results of the {self.args.preset!r} preset to merge")
        saved = json.loads(path.read_text())
        if saved.get("settings") != self.settings:
            raise SystemExit(f"{path} was made with other settings than the {self.args.preset!r} preset has")
        taken = [name for name in saved["runs"] if name not in self.state["runs"]]
        for name in taken:
            self.state["runs"][name] = saved["runs"][name]
        self.state["commands"] = list(dict.fromkeys(self.state["commands"] + saved["commands"]))
        if taken:
            log(f"merged {', '.join(taken)} from {path}")
            self.save()

    def save(self) -> None:
        """Record a finished phase in the partial results (and this command, once)."""
        if not self.dirty:
            if self.command not in self.state["commands"]:
                self.state["commands"].append(self.command)
            self.dirty = True
        _write_json(self.partial, self.state)

    def model_state(self, name: str) -> dict:
        return self.state["runs"].setdefault(name, {})

    def card(self, name: str, **card: object) -> dict:
        """A saved model's card; a BLT's carries its patcher, so :func:`bltlib.blt.load_blt` restores it."""
        return {**card, "patcher": self.study.patcher_card} if name == "blt" else card

    def check_patcher(self, name: str) -> None:
        """A BLT study goes on with the patches it began with (the shipped entropy model and BLT card may
        have changed since)."""
        saved = self.model_state(name).get("model", {}).get("patcher")
        if name == "blt" and saved is not None and saved != self.study.patcher_card:
            raise SystemExit(
                f"[blt] this study began with the patcher {saved}, the shipped models now give "
                f"{self.study.patcher_card}: restore them, or move the run away and start again"
            )

    def dir(self, name: str) -> Path:
        return self.study.run_dir / name

    def trainer_config(self, phase: str, name: str) -> TrainConfig:
        p = self.study.p
        steps = p[f"{phase}_steps"]
        return TrainConfig(
            steps=steps,
            lr=p[f"{phase}_lr"],
            warmup=min(p["warmup"], steps),
            min_lr_ratio=0.1,
            batch_size=p["batch_size"],
            eval_every=p["log_every"],
            eval_batches=2,
            amp=p["amp"],
            compile=False,  # the char path's unique-token batching changes shape every step
            progress=False,
            ckpt_dir=str(self.dir(name) / f"{phase}_ckpt"),
            ckpt_every=p["ckpt_every"],
        )

    def train(self, phase: str, name: str, model: Model, get_batch: Callable) -> Trainer:
        """A Trainer for ``phase`` that logs every ``log_every`` steps and resumes from its checkpoint."""
        cfg = self.trainer_config(phase, name)
        last = {"time": time.perf_counter(), "step": 0}

        def progress(step: int, metrics: dict) -> None:
            if step % self.study.p["log_every"] and step != cfg.steps:
                return
            now = time.perf_counter()
            per_step = (now - last["time"]) / max(1, step - last["step"])
            last.update(time=now, step=step)
            val = f", val {metrics['val_loss']:.3f}" if "val_loss" in metrics else ""
            log(
                f"[{name}] {phase} step {step}/{cfg.steps}: loss {metrics['loss']:.3f}{val}, "
                f"lr {metrics['lr']:.2e}, {per_step:.3f} s/step"
            )

        trainer = Trainer(model, cfg, get_batch, callback=progress, device=self.study.device)
        if (Path(cfg.ckpt_dir) / STATE_FILE).is_file():
            trainer.resume(cfg.ckpt_dir)
            last["step"] = trainer.step
            log(f"[{name}] {phase}: resumed at step {trainer.step} from {cfg.ckpt_dir}")
        return trainer

    # ------------------------------------------------------------------------- pretrain

    def pretrain(self, name: str) -> None:
        study, mine = self.study, self.model_state(name)
        self.check_patcher(name)
        path = self.dir(name) / "pretrained.safetensors"
        if "pretrain" in mine and path.is_file():
            log(f"[{name}] pretrain: done ({path}), skipped")
            return
        model = study.new_model(name)
        mine["model"] = study.describe(name, model)
        log(f"[{name}] pretrain: {mine['model']['description']}")
        trainer = self.train("pretrain", name, model, study.pretrain_batches(name))
        start_step, start = trainer.step, time.perf_counter()
        history = trainer.train()
        seconds = time.perf_counter() - start
        save_model(model, path, self.card(name, phase="pretrain", command=self.command))
        steps = trainer.cfg.steps
        bytes_per_step = study.B * study.seq_len(name) * mine["model"]["bytes_per_position"]
        mine["pretrain"] = {
            "steps": steps,
            "lr": trainer.cfg.lr,
            "batch_size": study.B,
            "seq_len": study.seq_len(name),
            "bytes_per_step": round(bytes_per_step),
            "bytes_seen": round(bytes_per_step * steps),
            "train_flops": training_flops(mine["model"]["flops_per_byte"] * bytes_per_step * steps),
            "seconds": round(seconds, 1),
            "seconds_per_step": round(seconds / max(1, steps - start_step), 4),
            "final_loss": history[-1]["loss"],
            "val_loss": [{"step": h["step"], "val_loss": h["val_loss"]} for h in history if "val_loss" in h],
        }
        self.save()

    # ------------------------------------------------------------------------- fine-tune

    def curve_path(self, name: str, step: int) -> Path:
        return self.dir(name) / f"finetuned_step{step}.safetensors"

    def finetune(self, name: str) -> None:
        study, mine = self.study, self.model_state(name)
        self.check_patcher(name)
        steps = study.curve_steps()
        if "finetune" in mine and all(self.curve_path(name, s).is_file() for s in steps):
            log(f"[{name}] finetune: done, skipped")
            return
        pretrained = self.dir(name) / "pretrained.safetensors"
        if not pretrained.is_file():
            raise SystemExit(f"[{name}] finetune needs {pretrained}: run --phases pretrain first")
        _, seen = study.finetune_rows
        model = study.load_model(name, pretrained).train()
        trainer = self.train("finetune", name, model, study.finetune_batches(name))
        start_step, start = trainer.step, time.perf_counter()
        for step in steps:
            if self.curve_path(name, step).is_file() and trainer.step >= step:
                continue
            if trainer.step > step:
                raise SystemExit(
                    f"[{name}] the fine-tuning checkpoint is at step {trainer.step}, past the missing curve "
                    f"point {self.curve_path(name, step)}; delete {trainer.cfg.ckpt_dir} to redo it"
                )
            trainer.train(until=step)
            save_model(model, self.curve_path(name, step), self.card(name, phase="finetune", step=step))
            trainer.save(trainer.cfg.ckpt_dir)
            log(
                f"[{name}] finetune: kept the weights after step {step} ({seen[step]:,} items); quick look: "
                + probe(study, name, model)
            )
        seconds = time.perf_counter() - start
        history = trainer.history
        mine["finetune"] = {
            "steps": trainer.cfg.steps,
            "lr": trainer.cfg.lr,
            "rows_per_step": {"task": study.B - study.n_lm, "lm": study.n_lm},
            "items": seen[-1],
            "items_per_step": round(seen[-1] / trainer.cfg.steps, 2),
            "curve_points": [{"step": s, "items": seen[s]} for s in steps],
            "seconds": round(seconds, 1),
            "seconds_per_step": round(seconds / max(1, trainer.cfg.steps - start_step), 4),
            "final_loss": history[-1]["loss"] if history else None,
            "val_lm_loss": [
                {"step": h["step"], "val_loss": h["val_loss"]} for h in history if "val_loss" in h
            ],
        }
        self.save()

    # ------------------------------------------------------------------------- evaluate and ship

    def evaluate(self, name: str) -> None:
        study, mine = self.study, self.model_state(name)
        self.check_patcher(name)
        steps = study.curve_steps()
        shipped = self.weights_dir is not None and study_weights(name, self.weights_dir).is_file()
        if "eval" in mine:
            log(f"[{name}] eval: done, skipped")
        else:
            shipped = False  # new numbers: the card must carry them
            missing = [p for p in [self.curve_path(name, s) for s in steps] if not p.is_file()]
            if "finetune" not in mine or missing:
                raise SystemExit(f"[{name}] eval needs the fine-tuned weights: run --phases finetune first")
            start = time.perf_counter()
            seen = {c["step"]: c["items"] for c in mine["finetune"]["curve_points"]}
            device = study.device
            pre = round_to_float16(study.load_model(name, self.dir(name) / "pretrained.safetensors", device))
            result = {
                "bpb_pretrained": lm_bits_per_byte(study, name, pre),
                "noise_pretrained": study_noise_table(study, name, pre),
            }
            log(f"[{name}] eval: pretrained {result['bpb_pretrained']:.4f} bits/byte on Austen test")
            curve = []
            for step in steps:
                model = round_to_float16(study.load_model(name, self.curve_path(name, step), device))
                cells = score_tasks(study, name, model, examples=3 if step == steps[-1] else 0)
                means = mean_by_set(cells)
                curve.append({"step": step, "items": seen[step], "mean_accuracy": means, "cells": cells})
                log(
                    f"[{name}] eval after {seen[step]:,} items: "
                    + ", ".join(f"{k} {v:.3f}" for k, v in means.items())
                )
            result["bpb_finetuned"] = lm_bits_per_byte(study, name, model)
            result["noise_finetuned"] = study_noise_table(study, name, model)
            result["cells"] = curve[-1]["cells"]  # the final model's, with examples
            result["curve"] = [
                {**c, "cells": {t: {ws: v["accuracy"] for ws, v in s.items()} for t, s in c["cells"].items()}}
                for c in curve
            ]
            result["seconds"] = round(time.perf_counter() - start, 1)
            log(f"[{name}] eval: fine-tuned {result['bpb_finetuned']:.4f} bpb ({result['seconds']:.0f} s)")
            mine["eval"] = result
            self.save()
        if self.weights_dir is not None and not shipped:
            self.ship(name)

    def ship(self, name: str) -> None:
        """Write the final fine-tuned model as float16 with its card, and check it is under 5 MB."""
        study, mine = self.study, self.model_state(name)
        final = self.curve_path(name, study.curve_steps()[-1])
        path = study_weights(name, self.weights_dir)
        if not final.is_file():
            raise SystemExit(f"[{name}] cannot ship: {final} is missing (run --phases finetune)")
        model = study.load_model(name, final)
        ev = mine["eval"]
        card = {
            "model": name,
            "description": mine["model"]["description"],
            "data": (
                f"pretrained on Austen train ({len(study.texts['train'].encode()):,} bytes), then "
                f"fine-tuned on character tasks about train-split words ({mine['finetune']['items']:,} "
                f"items) with {study.n_lm} of {study.B} rows per step LM windows; evaluated on held-out words"
            ),
            "command": self.command,
            "preset": study.preset,
            "tokenizer": None if name in BYTE_MODELS else TOKENIZER_FILE,
            "pretrain": {
                k: mine["pretrain"][k] for k in ("steps", "lr", "batch_size", "seq_len", "bytes_seen")
            },
            "finetune": {k: mine["finetune"][k] for k in ("steps", "lr", "items", "rows_per_step")},
            "parameters": mine["model"]["parameters"],
            "flops_per_byte": mine["model"]["flops_per_byte"],
            "metrics": {
                "bits_per_byte_austen_test": {
                    "pretrained": ev["bpb_pretrained"],
                    "finetuned": ev["bpb_finetuned"],
                },
                "mean_accuracy": ev["curve"][-1]["mean_accuracy"],
                "accuracy": {t: {ws: c["accuracy"] for ws, c in s.items()} for t, s in ev["cells"].items()},
                "noise_delta_bpb": ev["noise_finetuned"]["delta_bpb"],
            },
            "dtype": f"float16 ({'load_blt' if name == 'blt' else 'load_charaware'} computes in float32)",
            "torch": torch.__version__,
        }
        save_model(copy.deepcopy(model).half(), path, self.card(name, **card))
        size = path.stat().st_size
        if size >= MAX_FILE_BYTES:
            path.unlink()
            raise SystemExit(
                f"[{name}] the shipped file would be {size / 1e6:.2f} MB, over the limit of "
                f"{MAX_FILE_BYTES / 1e6:g} MB: use a smaller body or vocabulary"
            )
        path.with_suffix(".md").write_text(card_markdown(card, size))
        if name not in BYTE_MODELS:
            study.tokenizer  # noqa: B018  (trains it again if the run folder lost it)
            shutil.copyfile(study.run_dir / TOKENIZER_FILE, Path(self.weights_dir) / TOKENIZER_FILE)
        log(f"[{name}] shipped {path} ({size / 1e6:.2f} MB)")

    # ------------------------------------------------------------------------- results

    def finish(self, start: float) -> None:
        """Write the final results file once every model has every phase (else keep the partial one)."""
        models = self.state["runs"]
        if not all("eval" in models.get(name, {}) for name in MODELS):
            if self.dirty:
                log(f"partial results in {self.partial} (not every model has every phase yet)")
            return
        if not self.dirty and self.out.is_file():
            log(f"{self.out} is up to date")
            return
        study = self.study
        result = {
            "commands": self.state["commands"],
            "preset": study.preset,
            "settings": self.settings,
            "threads": self.args.threads,
            "device": str(study.device),
            "torch": torch.__version__,
            "matching": (
                f"one body for all: dim {study.p['dim']}, {study.p['layers']} layers, {study.p['heads']} "
                f"heads; {study.B} rows per step, {study.T} tokens per token row and {study.byte_seq} bytes "
                f"per byte row (= {study.T} x {study.bytes_per_token:.3f} bytes per token on Austen train), "
                "so the same training bytes per step; the same fine-tuning items in the same rows for "
                "every model. The BLT reads the byte model's very rows; its latent transformer has the "
                "body's blocks, over entropy patches (the token models' body less its final norm: "
                "parameters.latent), and its local models and hash embeddings come on top (parameters); "
                "its flops_per_byte leaves out the entropy model (entropy_model_flops_per_byte)"
            ),
            "flops_per_byte": {n: models[n]["model"]["flops_per_byte"] for n in MODELS},
            "blt": {
                k: models["blt"]["model"][k]
                for k in (
                    "patcher",
                    "mean_patch_size",
                    "entropy_model_flops_per_byte",
                    "flops_per_byte_parts",
                )
            },
            "data": {
                "train_bytes": len(study.texts["train"].encode()),
                "test_bytes": len(study.texts["test"].encode()),
                "bpe_vocab": study.p["vocab_size"],
                "bytes_per_token": study.bytes_per_token,
                "token_seq_len": study.T,
                "byte_seq_len": study.byte_seq,
            },
            "words": {
                **{k: len(v) for k, v in study.words.items()},
                "examples": {k: v[:12] for k, v in study.words.items()},
                "definition": "frequent: held-out words that are one BPE token after a space; rare: held-out "
                "words of two or more tokens; random: consonant strings, no Austen word; 20% of the words "
                "held out by lemma group",
            },
            "bits_per_byte": {
                n: {
                    "pretrained": models[n]["eval"]["bpb_pretrained"],
                    "finetuned": models[n]["eval"]["bpb_finetuned"],
                }
                for n in MODELS
            },
            "tasks": self.task_table(),
            "mean_accuracy": {n: models[n]["eval"]["curve"][-1]["mean_accuracy"] for n in MODELS},
            "curve": {n: models[n]["eval"]["curve"] for n in MODELS},
            "noise": {
                when: {
                    "delta_bpb": {
                        nz: {n: models[n]["eval"][f"noise_{when}"]["delta_bpb"][nz] for n in MODELS}
                        for nz in NOISES
                    },
                    "clean_bpb": {n: models[n]["eval"][f"noise_{when}"]["clean_bpb"] for n in MODELS},
                    "contexts_cut": {
                        nz: {n: models[n]["eval"][f"noise_{when}"]["contexts_cut"][nz] for n in MODELS}
                        for nz in NOISES
                    },
                }
                for when in ("pretrained", "finetuned")
            },
            "noise_setup": {
                "passages": study.p["noise_passages"],
                "context_chars": study.p["context_chars"],
                "continuation_chars": study.p["continuation_chars"],
                "measure": "bits per byte of the clean continuation given the noised context minus "
                "given the clean context; context and continuation tokenised separately; contexts too long "
                "for the model lose their start (contexts_cut counts them)",
            },
            "evaluation": "greedy exact match, new text capped at the answer + 8 bytes and cut at the "
            "newline; weights rounded to float16 (as shipped); Wilson 95% intervals",
            "runs": self.state["runs"],
            "total_seconds_this_invocation": round(time.perf_counter() - start),
        }
        _write_json(self.out, result)
        self.partial.unlink(missing_ok=True)
        tables = results_markdown(result)
        self.out.with_suffix(".md").write_text(tables)
        print(tables)
        log(f"wrote {self.out} and its tables, {self.out.with_suffix('.md').name}")

    def task_table(self) -> dict:
        """task -> word set -> majority baseline, n, and per model accuracy with its Wilson interval."""
        models = self.state["runs"]
        table: dict[str, dict] = {}
        for task, sets in self.study.eval_items.items():
            table[task] = {}
            for ws, items in sets.items():
                row: dict = {
                    "n": len(items),
                    "majority_baseline": majority_baseline([i.answer for i in items]),
                    "models": {},
                }
                for n in MODELS:
                    cell = models[n]["eval"]["cells"][task][ws]
                    lo, hi = wilson_interval(cell["correct"], cell["n"])
                    row["models"][n] = {
                        "accuracy": cell["accuracy"],
                        "correct": cell["correct"],
                        "ci95": [lo, hi],
                    }
                table[task][ws] = row
        return table


def results_markdown(result: dict) -> str:
    """The study's tables as markdown (``char_study_<preset>.md`` beside the JSON, quoted by the README):
    the commands, mean exact match per word set, spell and reverse per model, every task, bits per byte,
    the learning curve and the cost of noise. Accuracies in percent with their Wilson 95% intervals."""
    names = list(result["bits_per_byte"])
    head = "| " + " | ".join(names) + " |"
    rule = "---|" * len(names)

    def pct(m: dict) -> str:
        return f"{100 * m['accuracy']:.1f} [{100 * m['ci95'][0]:.1f}, {100 * m['ci95'][1]:.1f}]"

    def pooled(name: str, ws: str, tasks: Iterable[str]) -> dict:
        cells = [result["tasks"][t][ws] for t in tasks]
        correct, n = sum(c["models"][name]["correct"] for c in cells), sum(c["n"] for c in cells)
        return {"accuracy": correct / n, "ci95": list(wilson_interval(correct, n))}

    out = [
        f"# Character-awareness study, preset `{result['preset']}`",
        "",
        "Made by (in order):",
        "",
        *[f"    {c}" for c in result["commands"]],
        "",
        result["matching"],
        "",
        f"Exact match in percent [Wilson 95% interval]; {result['evaluation']}.",
        "",
        "## Mean over the ten tasks",
        "",
        "| words | majority | " + head[2:],
        "|---|---|" + rule,
    ]
    for ws in WORD_SETS:
        majority = sum(result["tasks"][t][ws]["majority_baseline"] for t in CHAR_TASKS) / len(CHAR_TASKS)
        cells = " | ".join(pct(pooled(n, ws, CHAR_TASKS)) for n in names)
        out.append(f"| {ws} | {100 * majority:.1f} | {cells} |")
    out += ["", "## Every task", "", "| task | words | majority | " + head[2:], "|---|---|---|" + rule]
    for task, sets in result["tasks"].items():
        for ws, row in sets.items():
            cells = " | ".join(pct(row["models"][n]) for n in names)
            out.append(f"| {task} | {ws} | {100 * row['majority_baseline']:.1f} | {cells} |")
    out += [
        "",
        "## Bits per byte (Austen test split) and FLOPs per byte",
        "",
        "| model | pretrained | fine-tuned | forward FLOPs/byte |",
        "|---|---|---|---|",
    ]
    for n in names:
        bpb, model = result["bits_per_byte"][n], result["runs"][n]["model"]
        fpb = f"{model['flops_per_byte']:,}"
        if "entropy_model_flops_per_byte" in model:
            fpb += f" (+ {model['entropy_model_flops_per_byte']:,} entropy model)"
        out.append(f"| {n} | {bpb['pretrained']:.3f} | {bpb['finetuned']:.3f} | {fpb} |")
    out += ["", "## Learning curve: mean exact match (frequent / rare / random) by fine-tuning items", ""]
    out += ["| items | " + head[2:], "|---|" + rule]
    for i, point in enumerate(result["curve"][names[0]]):
        cells = " | ".join(
            " / ".join(f"{100 * result['curve'][n][i]['mean_accuracy'][ws]:.1f}" for ws in WORD_SETS)
            for n in names
        )
        out.append(f"| {point['items']:,} | {cells} |")
    for when in ("pretrained", "finetuned"):
        title = f"## Noise, {when} models: bits per byte of the clean continuation, noised minus clean"
        out += ["", title, "", "| noise | " + head[2:], "|---|" + rule]
        for nz, row in result["noise"][when]["delta_bpb"].items():
            out.append(f"| {nz} | " + " | ".join(f"{row[n]:+.3f}" for n in names) + " |")
    return "\n".join(out) + "\n"


def check_run_dir(study: Study) -> None:
    """A run folder belongs to one set of settings: resuming checkpoints made with others would mix runs."""
    path = study.run_dir / "settings.json"
    settings = _jsonable(study.p)
    if path.is_file() and json.loads(path.read_text()) != settings:
        raise SystemExit(
            f"{study.run_dir} holds checkpoints made with other settings than the {study.preset!r} preset "
            "has now; move it away or pass another --run-dir"
        )
    _write_json(path, settings)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(0)
    start = time.perf_counter()
    study = Study(args)
    check_run_dir(study)
    runner = Runner(study, args, argv)
    log(
        f"char study, preset {args.preset}: models {' '.join(args.models)}; phases {' '.join(args.phases)}; "
        f"device {study.device}, {args.threads} thread(s)"
    )
    for name in args.models:  # model by model, so the first model's results come early
        for phase in PHASES:
            if phase in args.phases:
                getattr(runner, {"eval": "evaluate"}.get(phase, phase))(name)
    runner.finish(start)


if __name__ == "__main__":
    main()
