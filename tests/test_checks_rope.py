"""Each lesson-2 check passes the reference, however written, and names the idea behind each typical
mistake without ever printing a line of the solution, at either level of help."""

import math
from pathlib import Path

import pytest
import torch

from bltlib.checks import rope as checks
from bltlib.checks.core import code_fragments, gives_away, markdown_cells, notebook_solutions
from bltlib.checks.rope import (
    reference_pi_inv_freq,
    reference_rotate,
    reference_rotate_interleaved,
    reference_yarn_ramp,
)
from bltlib.rope import default_inv_freq, interleaved_to_half
from tests.check_messages import assert_names_the_mistake

NOTEBOOK = Path(__file__).resolve().parent.parent / "solutions" / "02_rope_long_context.ipynb"


def _angles(x, positions, base):
    inv = default_inv_freq(x.shape[-1], base)
    return positions.float()[:, None] * inv[None, :]


def rotate_interleaved(x, positions, base=10000.0):
    # RoFormer's neighbour pairs (2i, 2i+1) where the half layout is expected.
    a = _angles(x, positions, base)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * a.cos() - x2 * a.sin()
    out[..., 1::2] = x1 * a.sin() + x2 * a.cos()
    return out


def rotate_sign_error(x, positions, base=10000.0):
    a = torch.cat([_angles(x, positions, base)] * 2, dim=-1)
    x1, x2 = x.chunk(2, dim=-1)
    return x * a.cos() + torch.cat((x2, -x1), dim=-1) * a.sin()  # rotate_half with the sign flipped


def rotate_by_row_index(x, positions, base=10000.0):
    return reference_rotate(x, torch.arange(x.shape[0]), base)


def rotate_ignoring_base(x, positions, base=10000.0):
    return reference_rotate(x, positions, 10000.0)


def pi_multiplies(head_dim, base, factor):
    return default_inv_freq(head_dim, base) * factor


def pi_divides_base(head_dim, base, factor):
    return default_inv_freq(head_dim, base / factor)


def pi_scales_slow_pairs_only(head_dim, base, factor):
    inv = default_inv_freq(head_dim, base)
    return torch.cat([inv[: head_dim // 4], inv[head_dim // 4 :] / factor])


def _dim(turns, head_dim, base, original):
    return head_dim * math.log(original / (turns * 2 * math.pi)) / (2 * math.log(base))


def _ramp(head_dim, low, high):
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001
    return ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)


def yarn_ramp_solution(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = math.floor(_dim(beta_fast, head_dim, base, original))
    high = math.ceil(_dim(beta_slow, head_dim, base, original))
    return _ramp(head_dim, low, high)


def yarn_ramp_swapped(head_dim, base, original, beta_fast=32, beta_slow=1):
    return yarn_ramp_solution(head_dim, base, original, beta_slow, beta_fast)


def yarn_ramp_reversed(head_dim, base, original, beta_fast=32, beta_slow=1):
    return 1 - yarn_ramp_solution(head_dim, base, original, beta_fast, beta_slow)


def yarn_ramp_not_rounded(head_dim, base, original, beta_fast=32, beta_slow=1):
    low, high = _dim(beta_fast, head_dim, base, original), _dim(beta_slow, head_dim, base, original)
    return _ramp(head_dim, low, high)


def rotate_half_solution(x, positions, base=10000.0):
    d = x.shape[-1]
    a = _angles(x, positions, base)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat((x1 * a.cos() - x2 * a.sin(), x1 * a.sin() + x2 * a.cos()), dim=-1)


def rotate_exponent_without_two(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(d // 2, dtype=torch.float32) / d)
    a = positions.float()[:, None] * theta[None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat((x1 * a.cos() - x2 * a.sin(), x1 * a.sin() + x2 * a.cos()), dim=-1)


def rotate_angles_repeat_interleaved(x, positions, base=10000.0):
    a = _angles(x, positions, base).repeat_interleave(2, dim=-1)
    x1, x2 = x.chunk(2, dim=-1)
    return x * a.cos() + torch.cat((-x2, x1), dim=-1) * a.sin()


def interleaved_as_halves(x, positions, base=10000.0):
    return reference_rotate(x, positions, base)


def interleaved_left_unmerged(x, positions, base=10000.0):
    a = _angles(x, positions, base)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.cat((x1 * a.cos() - x2 * a.sin(), x1 * a.sin() + x2 * a.cos()), dim=-1)


def interleaved_sign_error(x, positions, base=10000.0):
    return rotate_interleaved(x, -positions, base)


def interleaved_by_permutation(x, positions, base=10000.0):
    # Another right answer: permute into the half layout, rotate, permute back.
    perm = interleaved_to_half(x.shape[-1])
    return rotate_half_solution(x[..., perm], positions, base)[..., torch.argsort(perm)]


def yarn_ramp_rounded(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = round(_dim(beta_fast, head_dim, base, original))
    high = round(_dim(beta_slow, head_dim, base, original))
    return _ramp(head_dim, low, high)


def yarn_ramp_unclamped(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = math.floor(_dim(beta_fast, head_dim, base, original))
    high = math.ceil(_dim(beta_slow, head_dim, base, original))
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001
    return (torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)


def yarn_ramp_low_below_zero(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = math.floor(_dim(beta_fast, head_dim, base, original))
    high = math.ceil(_dim(beta_slow, head_dim, base, original))
    if low == high:
        high += 0.001
    return ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)


def yarn_ramp_divides_by_zero(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = max(math.floor(_dim(beta_fast, head_dim, base, original)), 0)
    high = min(math.ceil(_dim(beta_slow, head_dim, base, original)), head_dim - 1)
    return ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)


def yarn_ramp_no_two_pi(head_dim, base, original, beta_fast=32, beta_slow=1):
    def dim(turns):
        return head_dim * math.log(original / turns) / (2 * math.log(base))

    return _ramp(head_dim, math.floor(dim(beta_fast)), math.ceil(dim(beta_slow)))


def rotate_positions_off_by_one(x, positions, base=10000.0):
    return rotate_half_solution(x, positions + 1, base)  # counts positions from 1


def rotate_cos_sin_swapped(x, positions, base=10000.0):
    a = _angles(x, positions, base)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * a.sin() - x2 * a.cos(), x1 * a.cos() + x2 * a.sin()), dim=-1)


def rotate_second_from_turned_first(x, positions, base=10000.0):
    d = x.shape[-1]
    a = _angles(x, positions, base)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    x1 = x1 * a.cos() - x2 * a.sin()
    x2 = x1 * a.sin() + x2 * a.cos()  # uses the first channel already turned
    return torch.cat((x1, x2), dim=-1)


def rotate_exponent_over_even_channels(x, positions, base=10000.0):
    # arange(0, d, 2) already holds 2i: doubling it again gives base ** (-4i / d).
    d = x.shape[-1]
    theta = base ** (-2 * torch.arange(0, d, 2, dtype=torch.float32) / d)
    a = positions.float()[:, None] * theta[None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat((x1 * a.cos() - x2 * a.sin(), x1 * a.sin() + x2 * a.cos()), dim=-1)


def rotate_angles_times_all_of_x(x, positions, base=10000.0):
    a = _angles(x, positions, base)  # [T, d/2] against x's [T, d]
    x1, x2 = x.chunk(2, dim=-1)
    return x * a.cos() + torch.cat((-x2, x1), dim=-1) * a.sin()


def rotate_unchanged(x, positions, base=10000.0):
    return x.clone()


def rotate_as_numpy(x, positions, base=10000.0):
    return rotate_half_solution(x, positions, base).numpy()


def interleaved_positions_off_by_one(x, positions, base=10000.0):
    return rotate_interleaved(x, positions + 1, base)


def interleaved_cos_sin_swapped(x, positions, base=10000.0):
    a = _angles(x, positions, base)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * a.sin() - x2 * a.cos(), x1 * a.cos() + x2 * a.sin()), dim=-1).flatten(-2)


def pi_exponent_over_even_channels(head_dim, base, factor):
    return base ** (-2 * torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim) / factor


def yarn_ramp_no_two_in_dim(head_dim, base, original, beta_fast=32, beta_slow=1):
    def dim(turns):
        return head_dim * math.log(original / (turns * 2 * math.pi)) / math.log(base)

    return _ramp(head_dim, math.floor(dim(beta_fast)), math.ceil(dim(beta_slow)))


def yarn_ramp_rounded_inwards(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = math.ceil(_dim(beta_fast, head_dim, base, original))
    high = math.floor(_dim(beta_slow, head_dim, base, original))
    return _ramp(head_dim, low, high)


def yarn_ramp_always_nudged(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = max(math.floor(_dim(beta_fast, head_dim, base, original)), 0)
    high = min(math.ceil(_dim(beta_slow, head_dim, base, original)), head_dim - 1) + 0.001
    return ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)


def yarn_ramp_by_channel(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = max(math.floor(_dim(beta_fast, head_dim, base, original)), 0)
    high = min(math.ceil(_dim(beta_slow, head_dim, base, original)), head_dim - 1)
    channels = torch.arange(0, head_dim, 2, dtype=torch.float32)  # 2i, not the pair index i
    return ((channels - low) / (high - low)).clamp(0, 1)


def yarn_ramp_high_capped_at_last_pair(head_dim, base, original, beta_fast=32, beta_slow=1):
    low = max(math.floor(_dim(beta_fast, head_dim, base, original)), 0)
    high = min(math.ceil(_dim(beta_slow, head_dim, base, original)), head_dim // 2 - 1)
    if low == high:
        high += 0.001
    return ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)


CORRECT = [
    (checks.rotate, reference_rotate),
    (checks.rotate, rotate_half_solution),
    (checks.rotate_interleaved, reference_rotate_interleaved),
    (checks.rotate_interleaved, rotate_interleaved),
    (checks.rotate_interleaved, interleaved_by_permutation),
    (checks.pi_inv_freq, reference_pi_inv_freq),
    (checks.yarn_ramp, reference_yarn_ramp),
    (checks.yarn_ramp, yarn_ramp_solution),
]


@pytest.mark.parametrize(("check", "solution"), CORRECT, ids=[s.__name__ for _, s in CORRECT])
def test_correct_answers_pass(check, solution, capsys):
    assert check(solution) is None  # the notebook form: the pass line, nothing displayed
    assert check(solution, more=True) is None
    assert capsys.readouterr().out.count(f"✓ {check.__name__}: all ") == 2


def test_interleaved_layout_is_the_same_rotation_up_to_a_permutation():
    # Why the check can insist on halves: interleaved is a different (equally valid) channel layout.
    x, pos = torch.randn(3, 8), torch.arange(3)
    perm = interleaved_to_half(8)
    assert torch.allclose(rotate_interleaved(x, pos)[:, perm], reference_rotate(x[:, perm], pos), atol=1e-6)
    assert torch.allclose(reference_rotate_interleaved(x, pos), rotate_interleaved(x, pos), atol=1e-6)


MISTAKES = [
    # (check, wrong answer, words of the case it fails on, the idea its hint must name)
    (checks.rotate, rotate_interleaved, "unit vectors", "pair i with i + d/2"),
    (checks.rotate, rotate_sign_error, "unit vectors", "the direction of the turn"),
    (checks.rotate, rotate_angles_repeat_interleaved, "unit vectors", "both channels of a pair share"),
    (checks.rotate, rotate_by_row_index, "position 0 everywhere", "use the positions given"),
    (checks.rotate, rotate_ignoring_base, "the second pair", "use the base given"),
    (checks.rotate, rotate_exponent_without_two, "the second pair", "the frequency of pair i"),
    (checks.rotate_interleaved, interleaved_as_halves, "unit vectors", "neighbours form a pair"),
    (checks.rotate_interleaved, interleaved_sign_error, "unit vectors", "the direction of the turn"),
    (checks.rotate_interleaved, interleaved_left_unmerged, "unit vectors", "each pair stays in its place"),
    (checks.pi_inv_freq, pi_multiplies, "factor 2", "divide every frequency by factor"),
    (checks.pi_inv_freq, pi_divides_base, "factor 2", "PI scales positions, not the base"),
    (checks.pi_inv_freq, pi_scales_slow_pairs_only, "factor 2", "every pair alike"),
    (checks.yarn_ramp, yarn_ramp_swapped, "head_dim 16", "beta_fast marks the fast pairs"),
    (checks.yarn_ramp, yarn_ramp_reversed, "head_dim 16", "the ramp rises with the pair index"),
    (checks.yarn_ramp, yarn_ramp_not_rounded, "head_dim 16", "round low down and high up"),
    (checks.yarn_ramp, yarn_ramp_rounded, "head_dim 16", "round low down and high up"),
    (checks.yarn_ramp, yarn_ramp_unclamped, "head_dim 16", "the ramp stays in [0, 1]"),
    (checks.yarn_ramp, yarn_ramp_low_below_zero, "short context", "low is at least 0"),
    (checks.yarn_ramp, yarn_ramp_divides_by_zero, "low == high", "low == high"),
    (checks.yarn_ramp, yarn_ramp_no_two_pi, "head_dim 16", "the pair for a number of turns"),
    (checks.rotate, rotate_positions_off_by_one, "unit vectors", "use the positions given"),
    (checks.rotate, rotate_cos_sin_swapped, "unit vectors", "cos for the channel itself"),
    (checks.rotate, rotate_second_from_turned_first, "unit vectors", "turn the pair as it was"),
    (checks.rotate, rotate_exponent_over_even_channels, "the second pair", "the frequency of pair i"),
    (checks.rotate, rotate_unchanged, "unit vectors", "turn each pair by its angle"),
    (checks.rotate, rotate_as_numpy, "unit vectors", "return a tensor"),
    (checks.rotate_interleaved, interleaved_positions_off_by_one, "unit vectors", "use the positions given"),
    (checks.rotate_interleaved, interleaved_cos_sin_swapped, "unit vectors", "cos for the channel itself"),
    (checks.pi_inv_freq, pi_exponent_over_even_channels, "factor 1", "the frequency of pair i"),
    (checks.yarn_ramp, yarn_ramp_no_two_in_dim, "head_dim 16", "the pair for a number of turns"),
    (checks.yarn_ramp, yarn_ramp_rounded_inwards, "head_dim 16", "round low down and high up"),
    (checks.yarn_ramp, yarn_ramp_always_nudged, "head_dim 16", "only when low == high"),
    (checks.yarn_ramp, yarn_ramp_by_channel, "head_dim 16", "one value per pair"),
    (checks.yarn_ramp, yarn_ramp_high_capped_at_last_pair, "long context", "high is at most head_dim - 1"),
]
SOLUTIONS = {
    "rotate": [reference_rotate, rotate_half_solution],
    "rotate_interleaved": [reference_rotate_interleaved, rotate_interleaved, interleaved_by_permutation],
    "pi_inv_freq": [reference_pi_inv_freq],
    "yarn_ramp": [yarn_ramp_solution, _dim, _ramp],
}
for _name, _source in notebook_solutions(NOTEBOOK).items():
    SOLUTIONS.setdefault(_name, []).append(_source)


def _fragments(name):
    return set().union(*(code_fragments(s) for s in SOLUTIONS[name]))


@pytest.mark.parametrize(
    ("check", "wrong", "case", "concept"), MISTAKES, ids=[w.__name__ for _, w, _, _ in MISTAKES]
)
def test_each_mistake_is_named_and_no_solution_line_is_shown(check, wrong, case, concept):
    message, longer, result = assert_names_the_mistake(check, wrong, case, concept, lesson="rope")
    assert result.idea.name.startswith(concept), message
    assert "expected:" in message and "got:" in message and len(message) < 1200
    fragments = _fragments(check.__name__)
    for text in (message, longer):
        assert not gives_away(text, fragments), gives_away(text, fragments)


def test_a_hint_belongs_to_the_mistake_not_to_the_case():
    # The reviewer's cases: base ** (-i/d) is told about frequencies (not pairing); swapped betas,
    # round() and no clamp all fail the first case, with three different explanations.
    assert (
        checks.rotate(rotate_exponent_without_two, raise_on_fail=False).idea.name == "the frequency of pair i"
    )
    names = {
        checks.yarn_ramp(wrong, raise_on_fail=False).idea.name
        for wrong in (yarn_ramp_swapped, yarn_ramp_rounded, yarn_ramp_unclamped)
    }
    assert len(names) == 3


def test_inputs_are_summarised_not_dumped():
    message = checks.rotate(rotate_sign_error, raise_on_fail=False).message
    call = next(line for line in message.splitlines() if "call:" in line)
    assert "x=float32 [3, 4] [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]" in call and "base=10000.0" in call


def test_the_exercise_markdown_gives_no_solution_away():
    fragments = set().union(*(_fragments(name) for name in SOLUTIONS))
    for text in markdown_cells(NOTEBOOK):
        assert not gives_away(text, fragments), gives_away(text, fragments)


def test_not_implemented_and_wrong_types_are_explained():
    def todo(*args, **kwargs):
        raise NotImplementedError()

    result = checks.rotate(todo, raise_on_fail=False)
    assert not result.passed and "YOUR CODE HERE" in result.message
    result = checks.pi_inv_freq(lambda d, b, f: reference_pi_inv_freq(d, b, f).tolist(), raise_on_fail=False)
    assert not result.passed and "types:" in result.message and result.idea.name == "return a tensor"


def test_an_angle_table_that_does_not_fit_x_is_explained():
    # x * cos with cos [T, d/2] and x [T, d]: torch refuses; the hint says why, not "pair i with i + d/2".
    result = checks.rotate(rotate_angles_times_all_of_x, raise_on_fail=False)
    assert "raised:   RuntimeError" in result.message and result.idea.name == "one angle per pair", (
        result.message
    )
    longer = checks.rotate(rotate_angles_times_all_of_x, raise_on_fail=False, more=True).message
    assert "  more:     " in longer


def test_a_wrong_type_is_named_as_the_learner_writes_it():
    result = checks.rotate(rotate_as_numpy, raise_on_fail=False)
    assert "not a numpy.ndarray" in result.message, result.message


def test_an_unknown_wrong_turn_is_not_blamed_on_the_layout():
    # Returning x unchanged matches no known mistake: the first case's hint describes the turn it
    # expects, rather than claiming the wrong channels were paired.
    for check in (checks.rotate, checks.rotate_interleaved):
        result = check(rotate_unchanged, raise_on_fail=False)
        assert result.case_index == 0 and result.idea.name == "turn each pair by its angle", result.message
