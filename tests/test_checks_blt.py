"""Lesson 4's checks pass correct answers, however written, and name the idea behind each typical mistake
without ever printing a line of the solution."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bltlib import blt
from bltlib.checks import blt as checks
from bltlib.checks.core import code_fragments, gives_away, markdown_cells, notebook_solutions
from bltlib.transformer import IGNORE_INDEX
from tests.check_messages import assert_names_the_mistake, code_lines

NOTEBOOK = Path(__file__).resolve().parent.parent / "solutions" / "04_blt.ipynb"

# ------------------------------------------------------------------ correct answers, as a learner writes them


def hash_horner(ids, n, vocab, prime):
    # Horner's rule over each window, newest first, in int64 tensors (which wrap as the reference does).
    padded = torch.cat([torch.zeros(ids.shape[0], n - 1, dtype=torch.long), ids.long()], dim=1)
    out = torch.zeros_like(ids, dtype=torch.long)
    for i in range(ids.shape[1]):
        h = torch.zeros(ids.shape[0], dtype=torch.long)
        for k in reversed(range(n)):
            h = h * prime + padded[:, i + k]
        out[:, i] = h % vocab
    return out


def hash_official(ids, n, vocab, prime):
    return (
        blt.hash_ngram_ids(ids, n, vocab, blt.HASH_PRIMES.index(prime)) if prime in blt.HASH_PRIMES else None
    )


def pool_loop(h, patch_ids, n_patches):
    out = torch.zeros(h.shape[0], n_patches, h.shape[-1])
    for b in range(h.shape[0]):
        for j in range(n_patches):
            mine = patch_ids[b] == j
            if mine.any():
                out[b, j] = h[b][mine].max(dim=0).values
    return out


def encoder_mask_loop(patch_ids, n_patches, k):
    b, t = patch_ids.shape
    mask = torch.zeros(b, n_patches * k, t, dtype=torch.bool)
    for row in range(b):
        for s in range(n_patches * k):
            for pos in range(t):
                mask[row, s, pos] = patch_ids[row, pos].item() == s // k
    return mask


def decoder_ids_loop(patch_lengths, T):
    out = torch.zeros(patch_lengths.shape[0], T, dtype=torch.long)
    for b, lengths in enumerate(patch_lengths.tolist()):
        pos = 0
        for j, length in enumerate(lengths[1:]):  # the one-patch shift: drop the BOS patch
            for _ in range(length):
                if pos < T:
                    out[b, pos] = j
                    pos += 1
    return out


def encoder_ids_loop(patch_lengths, T):
    out = torch.zeros(patch_lengths.shape[0], T, dtype=torch.long)
    for b, lengths in enumerate(patch_lengths.tolist()):
        owners = [j for j, length in enumerate(lengths) for _ in range(length)]
        out[b] = torch.tensor(owners[:T])
    return out


def encoder_ids_repeat(patch_lengths, T):
    rows = [torch.repeat_interleave(torch.arange(len(row)), row)[:T] for row in patch_lengths]
    return torch.stack(rows)


def bpb_cross_entropy(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item() / math.log(2)


def bpb_loop(logits, targets):
    total, count = 0.0, 0
    for b in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            y = targets[b, t].item()
            if y != IGNORE_INDEX:
                total -= torch.log_softmax(logits[b, t], dim=-1)[y].item()
                count += 1
    return total / count / math.log(2)


# ------------------------------------------------------------------ typical wrong answers


def _powers(n, prime):
    p = torch.ones(n, dtype=torch.long)
    for k in range(1, n):
        p[k] = p[k - 1] * prime
    return p


def hash_no_padding(ids, n, vocab, prime):
    return (ids.unfold(1, n, 1) * _powers(n, prime)).sum(-1) % vocab


def hash_right_padding(ids, n, vocab, prime):
    return (F.pad(ids, (0, n - 1)).unfold(1, n, 1) * _powers(n, prime)).sum(-1) % vocab


def hash_newest_first(ids, n, vocab, prime):
    return (F.pad(ids, (n - 1, 0)).unfold(1, n, 1) * _powers(n, prime).flip(0)).sum(-1) % vocab


def hash_python_ints(ids, n, vocab, prime):
    out = []
    for row in ids.tolist():
        padded = [0] * (n - 1) + row
        out.append(
            [sum(w * prime**k for k, w in enumerate(padded[i : i + n])) % vocab for i in range(len(row))]
        )
    return torch.tensor(out)


def hash_fmod(ids, n, vocab, prime):
    return torch.fmod((F.pad(ids, (n - 1, 0)).unfold(1, n, 1) * _powers(n, prime)).sum(-1), vocab)


def hash_one_long_row(ids, n, vocab, prime):
    flat = hash_horner(ids.reshape(1, -1), n, vocab, prime)
    return flat.reshape(ids.shape)


def hash_powers_from_python(ids, n, vocab, prime):
    powers = torch.tensor([prime**k for k in range(n)])  # overflows past int64
    return (F.pad(ids, (n - 1, 0)).unfold(1, n, 1) * powers).sum(-1) % vocab


def hash_in_floats(ids, n, vocab, prime):
    return hash_horner(ids, n, vocab, prime).double()


def _scatter(h, patch_ids, n_patches, init, reduce, include_self):
    out = torch.full((h.shape[0], n_patches, h.shape[-1]), init)
    index = patch_ids[..., None].expand(-1, -1, h.shape[-1])
    return out.scatter_reduce(1, index, h, reduce=reduce, include_self=include_self)


def pool_mean(h, patch_ids, n_patches):
    return _scatter(h, patch_ids, n_patches, 0.0, "mean", False)


def pool_sum(h, patch_ids, n_patches):
    return _scatter(h, patch_ids, n_patches, 0.0, "sum", False)


def pool_minus_inf(h, patch_ids, n_patches):
    return _scatter(h, patch_ids, n_patches, -math.inf, "amax", True)


def pool_include_self(h, patch_ids, n_patches):
    return _scatter(h, patch_ids, n_patches, 0.0, "amax", True)


def pool_counts_patches(h, patch_ids, n_patches):
    return pool_loop(h, patch_ids, int(patch_ids.max()) + 1)


def pool_one_big_row(h, patch_ids, n_patches):
    # Every row's patch j pooled together.
    out = torch.zeros(h.shape[0], n_patches, h.shape[-1])
    flat_h, flat_ids = h.reshape(-1, h.shape[-1]), patch_ids.reshape(-1)
    for j in range(n_patches):
        if (flat_ids == j).any():
            out[:, j] = flat_h[flat_ids == j].max(0).values
    return out


def pool_over_channels(h, patch_ids, n_patches):
    return pool_loop(h.amax(-1, keepdim=True).expand_as(h), patch_ids, n_patches)


def mask_causal(patch_ids, n_patches, k):
    slots = torch.arange(n_patches).repeat_interleave(k)
    return patch_ids[:, None, :] <= slots[None, :, None]


def mask_tiled(patch_ids, n_patches, k):
    slots = torch.arange(n_patches).repeat(k)
    return patch_ids[:, None, :] == slots[None, :, None]


def mask_transposed(patch_ids, n_patches, k):
    return encoder_mask_loop(patch_ids, n_patches, k).transpose(1, 2)


def mask_without_k(patch_ids, n_patches, k):
    return encoder_mask_loop(patch_ids, n_patches, 1)


def mask_divides_by_patches(patch_ids, n_patches, k):
    slots = torch.arange(n_patches * k) // n_patches
    return patch_ids[:, None, :] == slots[None, :, None]


def mask_as_ints(patch_ids, n_patches, k):
    return encoder_mask_loop(patch_ids, n_patches, k).long()


def decoder_no_shift(patch_lengths, T):
    return blt.patch_ids(patch_lengths, T)


def decoder_reads_next_patch(patch_lengths, T):
    return decoder_ids_loop(patch_lengths, T) + 1


def decoder_own_byte(patch_lengths, T):
    # The patch of byte t (not t + 1), minus one: the last byte of each patch reads one patch too early.
    return (blt.patch_ids(patch_lengths, T) - 1).clamp_min(0)


def decoder_skips_empty(patch_lengths, T):
    out = torch.zeros(patch_lengths.shape[0], T, dtype=torch.long)
    for b, lengths in enumerate(patch_lengths.tolist()):
        kept = torch.tensor([x for x in lengths[1:] if x > 0])
        out[b] = torch.repeat_interleave(torch.arange(len(kept)), kept)[:T]
    return out


def decoder_strict_cumsum(patch_lengths, T):
    # The encoder's patch ends, compared strictly: a shift by one byte where one patch is meant.
    ends = patch_lengths.cumsum(-1)
    return (ends[:, None, :] < torch.arange(T)[None, :, None]).sum(-1)


def decoder_strict_after_bos(patch_lengths, T):
    # The decoder's patch ends (after the BOS patch), compared strictly: the last byte of a patch is late.
    ends = patch_lengths[:, 1:].cumsum(-1)
    return (ends[:, None, :] < torch.arange(T)[None, :, None]).sum(-1)


def decoder_one_long_row(patch_lengths, T):
    lengths = patch_lengths[:, 1:].reshape(-1)
    ids = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    return ids.reshape(patch_lengths.shape[0], T)


def encoder_uncut(patch_lengths, T):
    # One id per token, T + 1 of them: the next byte's too.
    return torch.stack([torch.repeat_interleave(torch.arange(len(row)), row) for row in patch_lengths])


def encoder_with_decoder_shift(patch_lengths, T):
    return blt.decoder_patch_ids(patch_lengths, T)


def encoder_skips_empty(patch_lengths, T):
    rows = []
    for row in patch_lengths.tolist():
        kept = torch.tensor([x for x in row if x > 0])
        rows.append(torch.repeat_interleave(torch.arange(len(kept)), kept)[:T])
    return torch.stack(rows)


def encoder_strict(patch_lengths, T):
    ends = patch_lengths.cumsum(-1)
    return (ends[:, None, :] < torch.arange(T)[None, :, None]).sum(-1)


def encoder_one_long_row(patch_lengths, T):
    flat = patch_lengths.reshape(-1)
    ids = torch.repeat_interleave(torch.arange(len(flat)), flat)
    return ids.reshape(patch_lengths.shape[0], -1)[:, :T]


def encoder_first_row_only(patch_lengths, T):
    row = torch.repeat_interleave(torch.arange(patch_lengths.shape[1]), patch_lengths[0])[:T]
    return row.expand(patch_lengths.shape[0], T)


def encoder_forgets_return(patch_lengths, T):
    encoder_ids_repeat(patch_lengths, T)


def bpb_3d_cross_entropy(logits, targets):
    # cross_entropy on [B, T, 260]: it reads dim 1 (the positions) as the classes.
    return F.cross_entropy(logits, targets, reduction="sum").item() / math.log(2) / targets.numel()


def bpb_flattens_only_logits(logits, targets):
    return F.cross_entropy(logits.reshape(-1, 260), targets).item() / math.log(2)


def bpb_nats(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()


def bpb_log10(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item() / math.log(10)


def bpb_log2_twice(logits, targets):
    log2_p = torch.log2(torch.softmax(logits, -1))
    keep = targets != IGNORE_INDEX
    picked = log2_p.gather(-1, targets.clamp_min(0)[..., None])[..., 0]
    return (-(picked[keep]).mean() / math.log(2)).item()


def bpb_256_classes(logits, targets):
    return bpb_cross_entropy(logits[..., :256], targets)


def bpb_counts_ignored(logits, targets):
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
    return loss.item() / targets.numel() / math.log(2)


def bpb_mean_of_rows(logits, targets):
    return sum(bpb_cross_entropy(logits[b : b + 1], targets[b : b + 1]) for b in range(len(targets))) / len(
        targets
    )


def bpb_bytes_only_count(logits, targets):
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
    return loss.item() / math.log(2) / int((targets >= 4).sum())


def bpb_drops_specials(logits, targets):
    kept = targets.masked_fill(targets < 4, IGNORE_INDEX)
    return bpb_cross_entropy(logits, kept)


def bpb_shifted(logits, targets):
    return bpb_cross_entropy(logits[:, :-1], targets[:, 1:])


def bpb_tensor(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) / math.log(2)


def bpb_gathers_ignored(logits, targets):
    log_p = torch.log_softmax(logits, -1).gather(-1, targets[..., None])
    return -log_p.mean().item() / math.log(2)


# ------------------------------------------------------------------ solution lines no message may show


def closes_loop(entropies, threshold):
    """A learner's answer: the newest entropy decides, after the forced [BOS] patch."""
    if len(entropies) < 2:
        return True
    return entropies[-1] > threshold


def closes_previous(entropies, threshold):
    return len(entropies) == 1 or entropies[-2] > threshold


def closes_unforced(entropies, threshold):
    return entropies[-1] > threshold


def closes_at_or_above(entropies, threshold):
    return len(entropies) == 1 or entropies[-1] >= threshold


def closes_on_average(entropies, threshold):
    return len(entropies) == 1 or sum(entropies[1:]) / (len(entropies) - 1) > threshold


def closes_forces_two(entropies, threshold):
    # The reviewer's answer: the first two entropies treated as forced.
    return len(entropies) <= 2 or entropies[-1] > threshold


def closes_numpy(entropies, threshold):
    return len(entropies) == 1 or np.array(entropies)[-1] > threshold


def closes_tensor(entropies, threshold):
    return torch.tensor(len(entropies) == 1 or entropies[-1] > threshold)


SOLUTIONS = {
    "hash_ids": [blt.hash_ngram_ids, checks.reference_hash_ids, hash_horner],
    "pool": [blt.pool_patches, pool_loop],
    "encoder_mask": [blt.encoder_cross_mask, encoder_mask_loop],
    "decoder_ids": [blt.decoder_patch_ids, blt.patch_ids, decoder_ids_loop],
    "encoder_ids": [blt.patch_ids, encoder_ids_loop, encoder_ids_repeat],
    "bits_per_byte": [checks.reference_bits_per_byte, bpb_loop],
    "closes_patch": [checks.reference_closes_patch, closes_loop],
}
NOTEBOOK_SOLUTIONS = notebook_solutions(NOTEBOOK)  # the solution cells, by the function each defines


def _fragments(name):
    """What no message may show: the solution cell's code and the long lines of the functions above."""
    return code_fragments(NOTEBOOK_SOLUTIONS[name]) | set().union(
        *(code_fragments(s) for s in SOLUTIONS[name] if s.__module__ == __name__)
    )


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (checks.hash_ids, checks.reference_hash_ids),
        (checks.hash_ids, hash_horner),
        (checks.pool, blt.pool_patches),
        (checks.pool, pool_loop),
        (checks.encoder_mask, blt.encoder_cross_mask),
        (checks.encoder_mask, encoder_mask_loop),
        (checks.decoder_ids, blt.decoder_patch_ids),
        (checks.decoder_ids, decoder_ids_loop),
        (checks.encoder_ids, blt.patch_ids),
        (checks.encoder_ids, encoder_ids_loop),
        (checks.encoder_ids, encoder_ids_repeat),
        (checks.bits_per_byte, checks.reference_bits_per_byte),
        (checks.bits_per_byte, bpb_cross_entropy),
        (checks.bits_per_byte, bpb_loop),
        (checks.closes_patch, checks.reference_closes_patch),
        (checks.closes_patch, closes_loop),
    ],
)
def test_correct_answers_pass(check, solution, capsys):
    assert check(solution) is None  # the notebook form: the pass line, nothing displayed under it
    assert capsys.readouterr().out.startswith(f"✓ {check.__name__}: all ")


def test_the_hash_reference_agrees_with_bltlib_for_every_official_prime():
    ids = torch.randint(0, 260, (3, 40), generator=torch.Generator().manual_seed(0))
    for func, prime in enumerate(blt.HASH_PRIMES):
        for n in (2, 3, 5, 8):
            expected = blt.hash_ngram_ids(ids, n, 500002, func)
            assert torch.equal(checks._hash_rows(ids, n, 500002, prime), expected)
            assert torch.equal(hash_horner(ids, n, 500002, prime), expected)


MISTAKES = [
    # (check, wrong answer, words of the first line, words the hint must contain)
    (checks.hash_ids, hash_no_padding, "prime = 10", "left padding"),
    (checks.hash_ids, hash_right_padding, "prime = 10", "pad on the LEFT"),
    (checks.hash_ids, hash_newest_first, "prime = 10", "exponent order"),
    (checks.hash_ids, hash_one_long_row, "two rows", "each row is its own sequence"),
    (checks.hash_ids, hash_python_ints, "wraps", "int64 wraparound"),
    (checks.hash_ids, hash_fmod, "wraps", "non-negative"),
    (checks.hash_ids, hash_powers_from_python, "another official prime", "wrap around"),
    (checks.hash_ids, hash_in_floats, "prime = 10", "integer ids"),
    (checks.pool, pool_mean, "2 patches", "MAX"),
    (checks.pool, pool_sum, "2 patches", "not their sum"),
    (checks.pool, pool_over_channels, "each channel", "each channel"),
    (checks.pool, pool_counts_patches, "empty", "don't infer it"),
    (checks.pool, pool_minus_inf, "empty", "not -inf"),
    (checks.pool, pool_include_self, "negative states", "clipped to 0"),
    (checks.pool, pool_one_big_row, "two rows", "each row separately"),
    (checks.encoder_mask, mask_causal, "k = 1", "ITS OWN patch"),
    (checks.encoder_mask, mask_tiled, "k = 2", "slot order"),
    (checks.encoder_mask, mask_transposed, "k = 1", "orientation"),
    (checks.encoder_mask, mask_without_k, "k = 2", "k query slots per patch"),
    (checks.encoder_mask, mask_as_ints, "k = 1", "bool tensor"),
    (checks.encoder_mask, mask_divides_by_patches, "k = 1", "not by the number of patches"),
    (checks.decoder_ids, decoder_no_shift, "BOS, then", "one-patch shift"),
    (checks.decoder_ids, decoder_reads_next_patch, "BOS, then", "towards the PAST"),
    (checks.decoder_ids, decoder_own_byte, "BOS, then", "byte t + 1"),
    (checks.decoder_ids, decoder_skips_empty, "zero-length patch in the middle", "zero-length patch still"),
    (checks.decoder_ids, decoder_one_long_row, "two rows", "each row is its own sequence"),
    (checks.decoder_ids, decoder_strict_cumsum, "BOS, then", "one PATCH back, not one byte"),
    (checks.decoder_ids, decoder_strict_after_bos, "BOS, then", "LAST byte of a patch"),
    (checks.encoder_ids, encoder_uncut, "[BOS], then", "T positions, not T + 1"),
    (checks.encoder_ids, encoder_with_decoder_shift, "[BOS], then", "no shift in the encoder"),
    (checks.encoder_ids, encoder_skips_empty, "empty patch", "keeps its index"),
    (checks.encoder_ids, encoder_strict, "[BOS], then", "ends where the next begins"),
    (checks.encoder_ids, encoder_one_long_row, "two rows", "each row is its own sequence"),
    (checks.encoder_ids, encoder_first_row_only, "two rows", "not the first row's"),
    (checks.encoder_ids, encoder_forgets_return, "[BOS], then", "not None"),
    (checks.bits_per_byte, bpb_nats, "uniform", "bits, not nats"),
    (checks.bits_per_byte, bpb_log10, "uniform", "log base 2"),
    (checks.bits_per_byte, bpb_log2_twice, "uniform", "ONCE"),
    (checks.bits_per_byte, bpb_256_classes, "uniform", "all 260 classes"),
    (checks.bits_per_byte, bpb_counts_ignored, "ignored", "IGNORE_INDEX"),
    (checks.bits_per_byte, bpb_gathers_ignored, "ignored", "IGNORE_INDEX"),
    (checks.bits_per_byte, bpb_mean_of_rows, "1 and 4 counted", "BYTES, not rows"),
    (checks.bits_per_byte, bpb_bytes_only_count, "EOS and BOS", "count as bytes"),
    (checks.bits_per_byte, bpb_drops_specials, "EOS and BOS", "count as bytes"),
    (checks.bits_per_byte, bpb_shifted, "random logits", "already aligned"),
    (checks.bits_per_byte, bpb_tensor, "uniform", ".item()"),
    (checks.bits_per_byte, bpb_3d_cross_entropy, "uniform", "classes on dim 1"),
    (checks.bits_per_byte, bpb_flattens_only_logits, "uniform", "merge the batch and position axes of BOTH"),
    (checks.closes_patch, closes_previous, "spike at the newest", "NEWEST entropy"),
    (checks.closes_patch, closes_unforced, "only [BOS]", "patch of its own"),
    (checks.closes_patch, closes_at_or_above, "equals the threshold", "GREATER"),
    (checks.closes_patch, closes_on_average, "one byte earlier", "not an average"),
    (checks.closes_patch, closes_tensor, "spike at the newest", "Python bool"),
    (checks.closes_patch, closes_forces_two, "one byte read", "only tokens 0 and 1 are forced"),
    (checks.closes_patch, closes_numpy, "spike at the newest", "not a numpy.bool"),
]


@pytest.mark.parametrize(
    ("check", "wrong", "case", "concept"), MISTAKES, ids=[wrong.__name__ for _, wrong, _, _ in MISTAKES]
)
def test_each_mistake_is_named_and_no_solution_line_is_shown(check, wrong, case, concept):
    message, longer, _ = assert_names_the_mistake(check, wrong, case, concept, lesson="blt", more=False)
    assert len(message) < 800, (len(message), message)
    assert all(len(line) <= 200 for line in message.splitlines()[1:]), message
    for solution in SOLUTIONS[check.__name__]:
        for line in code_lines(solution):
            assert line not in message, (line, message)
    fragments = _fragments(check.__name__)
    for text in (message, longer):
        assert not gives_away(text, fragments), gives_away(text, fragments)


def test_the_notebook_has_a_solution_for_every_check():
    assert set(NOTEBOOK_SOLUTIONS) == set(SOLUTIONS)
    for name, source in NOTEBOOK_SOLUTIONS.items():  # and each passes its check
        namespace = {"torch": torch, "F": F, "math": math, "IGNORE_INDEX": IGNORE_INDEX}
        exec(source, namespace)
        assert getattr(checks, name)(namespace[name], raise_on_fail=False).passed


def test_the_exercise_markdown_gives_no_solution_away():
    fragments = set().union(*(_fragments(name) for name in SOLUTIONS))
    for text in markdown_cells(NOTEBOOK):
        assert not gives_away(text, fragments), gives_away(text, fragments)


def test_the_exercise_checks_encoder_ids_with_the_lessons_check():
    # No check written in the notebook: the lesson's, with its mistakes and its second level of help.
    for path in (NOTEBOOK, NOTEBOOK.parent.parent / "exercises" / NOTEBOOK.name):
        cells = {c["id"]: "".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}
        assert cells["cell-19"] == "checks.blt.encoder_ids(encoder_ids)", path
        assert (
            "checks.blt.encoder_ids" in cells["cell-17"]
            and "written in this notebook" not in cells["cell-17"]
        )


def test_the_overflow_hint_is_true_of_the_primes_it_names():
    # The learner has just passed n = 3 with 1000000007 (its square fits in int64): the hint must say
    # exactly which powers do not fit.
    message = checks.hash_ids(hash_powers_from_python, raise_on_fail=False).message
    assert "k >= 2" not in message and "1000000007**2 still fits" in message
    assert 1000000007**2 < 2**63 and all(p**3 >= 2**63 for p in blt.HASH_PRIMES)
    assert round(math.isqrt(2**63) / 1e9, 2) == 3.04 and "3.04 * 10**9" in message
    assert all((p**2 >= 2**63) == (p > 3.04e9) for p in blt.HASH_PRIMES)


def test_a_hint_belongs_to_the_mistake_not_to_the_case():
    # The same case (the first one) fails three different mistakes with three different explanations.
    hints = {
        wrong.__name__: checks.pool(wrong, raise_on_fail=False).message.split("hint:")[1]
        for wrong in (pool_mean, pool_sum)
    }
    assert "mean" in hints["pool_mean"] and "sum" in hints["pool_sum"]
    first_case = [checks.hash_ids(w, raise_on_fail=False) for w in (hash_right_padding, hash_newest_first)]
    assert all(result.case_index == 0 for result in first_case)
    assert first_case[0].message != first_case[1].message


def test_inputs_are_summarised_not_dumped():
    result = checks.bits_per_byte(bpb_nats, raise_on_fail=False)
    call = next(line for line in result.message.splitlines() if "call:" in line)
    assert (
        "logits=float32 [1, 4, 260] all 0" in call and "targets=int64 [1, 4] [[101, 102, 103, 104]]" in call
    )
    assert "tensor(" not in call
    result = checks.hash_ids(hash_powers_from_python, raise_on_fail=False)
    assert "ids=int64 [2, 13] [[1, 102, 125, 120, 105, 36, ...], " in result.message


def test_summary_keeps_long_tensors_short():
    assert len(checks.summary(torch.arange(10_000).reshape(100, 100))) <= 160
    assert checks.summary(torch.randn(3, 500)).startswith("float32 [3, 500] from ")
    assert checks.summary([1, 2]) == "[1, 2]"
    assert checks.summary(list(range(300))).endswith("(300 items)")


def test_the_stub_and_crashes_are_explained():
    def stub(*args):
        raise NotImplementedError()

    for check in (
        checks.hash_ids,
        checks.pool,
        checks.encoder_mask,
        checks.decoder_ids,
        checks.encoder_ids,
        checks.bits_per_byte,
        checks.closes_patch,
    ):
        result = check(stub, raise_on_fail=False)
        assert not result.passed and "YOUR CODE HERE" in result.message
    result = checks.pool(lambda h, ids, n: h.max(), raise_on_fail=False)
    assert "shape []," in result.message and "[B, n_patches, D]" in result.message
    result = checks.pool(lambda h, ids, n: None, raise_on_fail=False)  # a forgotten return
    assert "not None" in result.message and "NoneType" not in result.message
    assert "types:    got None, expected a torch.Tensor" in result.message
    result = checks.bits_per_byte([], raise_on_fail=False)
    assert "expected a function" in result.message


def test_the_lesson_loads_lazily():
    from bltlib import checks as package

    assert package.blt is checks
