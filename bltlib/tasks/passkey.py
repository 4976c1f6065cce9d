"""Synthetic tasks that probe what a model does with its context: passkey retrieval.

Passkey retrieval (Mohtashami & Jaggi, 2023) hides a random number in a long, boring filler text and
asks for it at the end. A model that can attend across the whole context copies the number; one whose
positions broke down past its training length cannot. Lengths are in byte ids (BOS included), so a
prompt of ``length - digits`` ids plus the answer fills exactly ``length`` positions.

>>> ex = passkey_example(200, depth=0.5, seed=3)
>>> ex.answer, len(encode_bytes(ex.prompt)) + len(ex.answer)
('31190', 200)
>>> ex.prompt[-38:]
'What is the pass key? The pass key is '
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bltlib.data import decode_bytes_ids, encode_bytes, random_windows
from bltlib.transformer import IGNORE_INDEX

# No "is " and no digits in the filler: the question's "key is " then matches only the key sentence.
FILLER = (
    "The grass grows green. The sky turns blue. The sun shines bright. Here we go. There and back again. "
)
KEY_TEMPLATE = "The pass key is {key}. Remember it. {key} is the pass key. "
QUESTION = "What is the pass key? The pass key is "
KEY_AT = KEY_TEMPLATE.index("{key}")  # where the key's first statement starts in its sentence


@dataclass(frozen=True)
class Passkey:
    """One passkey prompt: the text to continue, the digits expected, and where the key sits.

    ``key_offset`` is the byte offset of the key sentence in ``prompt``; ``depth`` the fraction of the
    filler before it (0 = at the start, 1 = just before the question).
    """

    prompt: str
    answer: str
    depth: float
    key_offset: int


def passkey_example(length: int, depth: float, seed: int, digits: int = 5) -> Passkey:
    """A prompt of ``length - digits`` byte ids (BOS included) with a ``digits``-digit key at ``depth``.

    The key is inserted at the sentence boundary of the filler nearest below ``depth`` of the way
    through it; the same ``seed`` always gives the same key.

    >>> ex = passkey_example(160, depth=0.0, seed=0, digits=3)
    >>> ex.prompt[:36], ex.answer
    ('The pass key is 864. Remember it. 86', '864')
    """
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be in [0, 1], got {depth}")
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive int, got {digits!r}")
    key = f"{random.Random(seed).randrange(10**digits):0{digits}d}"
    needle = KEY_TEMPLATE.format(key=key)
    n_filler = length - 1 - digits - len(needle) - len(QUESTION)  # 1 for BOS; all ASCII: 1 byte a char
    if n_filler < 0:
        raise ValueError(
            f"length {length} is too short for a passkey prompt: it needs at least "
            f"{length - n_filler} ids (BOS, key sentence, question and {digits} answer digits)"
        )
    # Cut the repeated filler at its start, so that it ends on a full sentence before the question.
    repeated = FILLER * (n_filler // len(FILLER) + 1)
    filler = repeated[len(repeated) - n_filler :]
    target = round(depth * n_filler)
    cut = filler.rfind(". ", 0, target + 1)
    cut = 0 if cut < 0 else cut + 2  # just after a full stop and its space: a sentence boundary
    prompt = filler[:cut] + needle + filler[cut:] + QUESTION
    return Passkey(prompt, key, depth, cut)


def passkey_examples(
    length: int, depths: Sequence[float], trials: int, seed: int = 0, digits: int = 5
) -> list[Passkey]:
    """``trials`` prompts at each depth, keys drawn from ``seed``: the evaluation set for one length.

    >>> [ex.depth for ex in passkey_examples(300, [0.0, 1.0], trials=2)]
    [0.0, 0.0, 1.0, 1.0]
    """
    return [
        passkey_example(length, depth, seed=seed * 1_000_003 + i * 1009 + trial, digits=digits)
        for i, depth in enumerate(depths)
        for trial in range(trials)
    ]


def passkey_ids(example: Passkey) -> torch.Tensor:
    """Prompt and answer as one row of byte ids: a training example for the task.

    >>> ex = passkey_example(128, depth=0.3, seed=1)
    >>> ids = passkey_ids(ex)
    >>> len(ids), decode_bytes_ids(ids[-5:]).decode() == ex.answer
    (128, True)
    """
    return encode_bytes(example.prompt + example.answer)


def first_key_positions(example: Passkey) -> range:
    """Indices in :func:`passkey_ids` of the key's first statement: digits no model can predict.

    >>> ex = passkey_example(128, depth=0.0, seed=1)
    >>> ids = passkey_ids(ex)
    >>> decode_bytes_ids(ids[first_key_positions(ex)]).decode() == ex.answer
    True
    """
    start = 1 + example.key_offset + KEY_AT  # 1 for BOS
    return range(start, start + len(example.answer))


def passkey_batch(
    batch_size: int, length: int, generator: torch.Generator, digits: int = 5, mask_key: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of shape ``[batch_size, length]``: passkey examples of ``length + 1`` ids, shifted.

    Depths and keys are drawn from ``generator``, so a seeded generator gives the same batch. With
    ``mask_key``, the targets of the key's first statement are ``IGNORE_INDEX``: a random key cannot
    be predicted there, and its loss only teaches the model that all digits look alike (with tied
    embeddings it pulls their embeddings together, which makes copying them harder).

    >>> x, y = passkey_batch(2, 127, torch.Generator().manual_seed(0))
    >>> x.shape, bool((x[:, 1:] == y[:, :-1]).all())
    (torch.Size([2, 127]), True)
    >>> _, y = passkey_batch(2, 127, torch.Generator().manual_seed(0), mask_key=True)
    >>> (y == IGNORE_INDEX).sum(dim=1).tolist()
    [5, 5]
    """
    rows, targets = [], []
    for _ in range(batch_size):
        depth = float(torch.rand((), generator=generator))
        seed = int(torch.randint(2**31 - 1, (), generator=generator))
        example = passkey_example(length + 1, depth, seed, digits)
        ids = passkey_ids(example)
        target = ids.clone()
        if mask_key:
            target[list(first_key_positions(example))] = IGNORE_INDEX
        rows.append(ids)
        targets.append(target)
    return torch.stack(rows)[:, :-1], torch.stack(targets)[:, 1:]


def passkey_episode_batch(
    batch_size: int,
    length: int,
    generator: torch.Generator,
    filler_ids: torch.Tensor,
    max_gap: int | None = None,
    digits: int = 5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of back-to-back short passkey episodes whose filler is natural text: dense copying practice.

    An episode is the key sentence, a random stretch of ``filler_ids`` (0 to ``max_gap`` ids, default
    ``length // 2``), the question and the answer. A row of one passkey example has a single answer to
    copy, too sparse a signal for a small model to discover copying; a row of episodes has several,
    from varied distances, through text that changes, so the only way to the answer is to find the
    key (a fixed distance or a fixed filler would let the model cheat). The key's first statement is
    masked in the targets, as in :func:`passkey_batch` with ``mask_key``.

    >>> filler = encode_bytes("It is a truth universally acknowledged. " * 20, bos=False)
    >>> x, y = passkey_episode_batch(2, 200, torch.Generator().manual_seed(0), filler)
    >>> x.shape, bool((x[:, 1:] == y[:, :-1]).all()), decode_bytes_ids(x[0, :16]).decode()
    (torch.Size([2, 200]), False, 'The pass key is ')
    """
    max_gap = length // 2 if max_gap is None else max_gap
    if not 0 <= max_gap < len(filler_ids):
        raise ValueError(f"max_gap must be in [0, {len(filler_ids)}) (the filler's length), got {max_gap}")
    question = encode_bytes(QUESTION, bos=False)
    rows, targets = [], []
    for _ in range(batch_size):
        ids: list[torch.Tensor] = []
        target: list[torch.Tensor] = []
        n_ids = 0
        while n_ids < length + 1:
            key = f"{int(torch.randint(10**digits, (), generator=generator)):0{digits}d}"
            gap = int(torch.randint(max_gap + 1, (), generator=generator))
            start = int(torch.randint(len(filler_ids) - gap + 1, (), generator=generator))
            sentence = encode_bytes(KEY_TEMPLATE.format(key=key), bos=False)
            masked = sentence.clone()
            masked[KEY_AT : KEY_AT + digits] = IGNORE_INDEX
            tail = torch.cat([filler_ids[start : start + gap], question, encode_bytes(key + ". ", bos=False)])
            ids += [sentence, tail]
            target += [masked, tail]
            n_ids += len(sentence) + len(tail)
        rows.append(torch.cat(ids)[: length + 1])
        targets.append(torch.cat(target)[: length + 1])
    return torch.stack(rows)[:, :-1], torch.stack(targets)[:, 1:]


def text_and_passkey_batch(
    text_ids: torch.Tensor,
    batch_size: int,
    length: int,
    generator: torch.Generator,
    passkey_rows: int = 0,
    episode_rows: int = 0,
    mask_key: bool = True,
    max_gap: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch for retrieval: random windows of ``text_ids``, then ``passkey_rows`` rows of
    :func:`passkey_batch` and ``episode_rows`` rows of :func:`passkey_episode_batch` (with ``text_ids``
    as filler), all drawn from ``generator`` in that order.

    >>> text = encode_bytes("It is a truth universally acknowledged. " * 40, bos=False)
    >>> x, y = text_and_passkey_batch(text, 4, 200, torch.Generator().manual_seed(0), 1, 1)
    >>> x.shape, (y == IGNORE_INDEX).any(dim=1).tolist()
    (torch.Size([4, 200]), [False, False, True, True])
    """
    parts = [random_windows(text_ids, batch_size - passkey_rows - episode_rows, length, generator)]
    if passkey_rows:
        parts.append(passkey_batch(passkey_rows, length, generator, mask_key=mask_key))
    if episode_rows:
        parts.append(passkey_episode_batch(episode_rows, length, generator, text_ids, max_gap))
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


@torch.no_grad()
def passkey_answers(model: torch.nn.Module, examples: Sequence[Passkey], batch_size: int = 8) -> list[str]:
    """The model's greedy continuation of each prompt, as many bytes as the expected answer has.

    Prompts of equal length go through ``model.generate`` together. The model must accept
    ``len(prompt) + len(answer)`` positions (see ``TransformerLM.set_rope``).
    """
    was_training = model.training
    model.eval()
    out: dict[int, str] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault((len(ex.prompt), len(ex.answer)), []).append(i)
    device = next(model.parameters()).device
    for (_, n_new), members in groups.items():
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            idx = torch.stack([encode_bytes(examples[i].prompt) for i in chunk]).to(device)
            new = model.generate(idx, n_new, temperature=0.0)[:, idx.shape[1] :]
            for i, row in zip(chunk, new, strict=True):
                out[i] = decode_bytes_ids(row).decode("utf-8", errors="replace")
    model.train(was_training)
    return [out[i] for i in range(len(examples))]


def passkey_accuracy(answers: Sequence[str], examples: Sequence[Passkey]) -> float:
    """Fraction of exact matches (every digit right).

    >>> exs = passkey_examples(200, [0.5], trials=2)
    >>> passkey_accuracy([exs[0].answer, "00000"], exs)
    0.5
    """
    if len(answers) != len(examples):
        raise ValueError(f"{len(answers)} answers for {len(examples)} examples")
    if not examples:
        raise ValueError("no examples to score")
    return sum(a == ex.answer for a, ex in zip(answers, examples, strict=True)) / len(examples)
