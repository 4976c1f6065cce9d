"""Each lesson-2 check passes the reference and fails typical wrong answers, naming the case and a hint."""

import math

import pytest
import torch

from bltlib.checks import CheckFailed
from bltlib.checks import rope as checks
from bltlib.checks.rope import reference_pi_inv_freq, reference_rotate, reference_yarn_ramp
from bltlib.rope import default_inv_freq, interleaved_to_half


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


def test_checks_pass_the_references(capsys):
    assert checks.rotate(reference_rotate) is None  # the notebook form: the pass line, nothing displayed
    assert checks.pi_inv_freq(reference_pi_inv_freq, raise_on_fail=False).passed
    assert checks.yarn_ramp(reference_yarn_ramp, raise_on_fail=False).passed
    # The notebook's solution, written from the formula, passes too.
    assert checks.yarn_ramp(yarn_ramp_solution, raise_on_fail=False).passed
    out = capsys.readouterr().out
    assert "✓ rotate: all 5 cases pass" in out and "✓ yarn_ramp" in out


def test_interleaved_layout_is_the_same_rotation_up_to_a_permutation():
    # Why the check can insist on halves: interleaved is a different (equally valid) channel layout.
    x, pos = torch.randn(3, 8), torch.arange(3)
    perm = interleaved_to_half(8)
    assert torch.allclose(rotate_interleaved(x, pos)[:, perm], reference_rotate(x[:, perm], pos), atol=1e-6)


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint_words"),
    [
        (checks.rotate, rotate_interleaved, "unit vectors", "i + d/2"),
        (checks.rotate, rotate_sign_error, "unit vectors", "minus sign"),
        (checks.rotate, rotate_by_row_index, "position 0 everywhere", "positions[t]"),
        (checks.rotate, rotate_ignoring_base, "base 100", "i + d/2"),
        (checks.pi_inv_freq, pi_multiplies, "factor 2", "divide the frequencies by factor"),
        (checks.pi_inv_freq, pi_divides_base, "factor 2", "not the base"),
        (checks.pi_inv_freq, pi_scales_slow_pairs_only, "factor 2", "divide"),
        (checks.yarn_ramp, yarn_ramp_swapped, "head_dim 16", "0 for the first"),
        (checks.yarn_ramp, yarn_ramp_reversed, "head_dim 16", "0 for the first"),
        (checks.yarn_ramp, yarn_ramp_not_rounded, "head_dim 16", "0 for the first"),
    ],
)
def test_checks_fail_typical_mistakes_with_the_case_and_a_hint(check, wrong, case, hint_words):
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith(f"✗ {check.__name__}: case ")
    assert case in message.splitlines()[0], message
    assert "hint:" in message and hint_words in message, message
    assert "expected:" in message and "got:" in message


def test_not_implemented_and_wrong_types_are_explained():
    def todo(*args, **kwargs):
        raise NotImplementedError()

    result = checks.rotate(todo, raise_on_fail=False)
    assert not result.passed and "YOUR CODE HERE" in result.message
    result = checks.pi_inv_freq(lambda d, b, f: reference_pi_inv_freq(d, b, f).tolist(), raise_on_fail=False)
    assert not result.passed and "types:" in result.message
