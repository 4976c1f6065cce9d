"""Lesson 3's checks pass the reference solutions and catch the usual mistakes, with a useful hint."""

import math

import numpy as np
import pytest
import torch

from bltlib.checks import CheckFailed
from bltlib.checks import entropy as checks

# ------------------------------------------------------------------ reference solutions (as taught)


def entropy_from_logits(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def global_starts(entropies, threshold):
    return [t for t in range(min(len(entropies), 2))] + [
        t for t in range(2, len(entropies)) if entropies[t - 1] > threshold
    ]


def monotonic_starts(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [t for t in range(3, len(entropies)) if entropies[t - 1] - entropies[t - 2] > threshold]


def calibrate(entropies, target_patch_size):
    return float(np.quantile(entropies, 1 - 1 / target_patch_size))


# ------------------------------------------------------------------ typical wrong answers


def entropy_in_bits(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1) / math.log(2)


def entropy_naive_softmax(logits):
    p = logits.exp() / logits.exp().sum(-1, keepdim=True)  # overflows for large logits
    return -(p * p.log()).sum(-1)


def entropy_softmax_then_log(logits):
    p = torch.softmax(logits, dim=-1)  # stable, but log(0) = -inf and 0 * -inf = NaN
    return -(p * p.log()).sum(-1)


def entropy_bytes_only(logits):
    return entropy_from_logits(logits[..., :256])


def entropy_wrong_axis(logits):
    log_p = torch.log_softmax(logits.float(), dim=0)
    return -(log_p.exp() * log_p).sum(0)


def global_off_by_one(entropies, threshold):
    return [0, 1][: len(entropies)] + [t for t in range(2, len(entropies)) if entropies[t] > threshold]


def global_no_forced(entropies, threshold):
    return [t for t in range(1, len(entropies)) if entropies[t - 1] > threshold]


def global_greater_equal(entropies, threshold):
    return [0, 1][: len(entropies)] + [t for t in range(2, len(entropies)) if entropies[t - 1] >= threshold]


def monotonic_no_forced_two(entropies, threshold):
    return [0, 1][: len(entropies)] + [
        t for t in range(3, len(entropies)) if entropies[t - 1] - entropies[t - 2] > threshold
    ]


def monotonic_on_levels(entropies, threshold):
    return global_starts(entropies, threshold)


def monotonic_off_by_one(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [t for t in range(3, len(entropies) - 1) if entropies[t] - entropies[t - 1] > threshold]


def calibrate_wrong_quantile(entropies, target_patch_size):
    return float(np.quantile(entropies, 1 / target_patch_size))


def calibrate_mean(entropies, target_patch_size):
    return float(np.mean(entropies))


def calibrate_returns_list(entropies, target_patch_size):
    return [calibrate(entropies, target_patch_size)]


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (checks.entropy_from_logits, entropy_from_logits),
        (checks.global_starts, global_starts),
        (checks.monotonic_starts, monotonic_starts),
        (checks.calibrate, calibrate),
    ],
)
def test_reference_solutions_pass(check, solution, capsys):
    assert check(solution) is None
    assert "✓" in capsys.readouterr().out


def test_bltlib_itself_passes():
    from bltlib import entropy, patching

    assert checks.entropy_from_logits(entropy.entropy_from_logits, raise_on_fail=False).passed
    assert checks.global_starts(patching.entropy_patch_starts, raise_on_fail=False).passed
    assert checks.calibrate(patching.calibrate_threshold, raise_on_fail=False).passed
    assert checks.monotonic_starts(
        lambda e, th: patching.entropy_patch_starts(e, th, monotonic=True), raise_on_fail=False
    ).passed


def test_numpy_answers_are_accepted():
    def vectorised(entropies, threshold):
        t = np.arange(2, len(entropies))
        return np.concatenate([np.arange(min(len(entropies), 2)), t[entropies[t - 1] > threshold]])

    assert checks.global_starts(vectorised, raise_on_fail=False).passed


@pytest.mark.parametrize(
    ("check", "wrong", "label", "hint"),
    [
        (checks.entropy_from_logits, entropy_in_bits, "uniform over 260", "not log2"),
        (checks.entropy_from_logits, entropy_naive_softmax, "huge logit", "log_softmax"),
        (checks.entropy_from_logits, entropy_softmax_then_log, "huge logit", "0 * log(0)"),
        (checks.entropy_from_logits, entropy_bytes_only, "uniform over 260", "only 256 would give"),
        (checks.entropy_from_logits, entropy_wrong_axis, "a batch", "LAST axis"),
        (checks.global_starts, global_off_by_one, "one spike", "entropies[t - 1]"),
        (checks.global_starts, global_no_forced, "one token", "positions of the sequence"),
        (checks.global_starts, global_greater_equal, "equal to the threshold", "ABOVE"),
        (checks.monotonic_starts, monotonic_no_forced_two, "three tokens", "[0, 1, 2]"),
        (checks.monotonic_starts, monotonic_on_levels, "three tokens", "[0, 1, 2]"),
        (checks.monotonic_starts, monotonic_off_by_one, "one jump", "entropies[t - 1] - entropies[t - 2]"),
        (checks.calibrate, calibrate_wrong_quantile, "target 4.5", "(1 - 1 / target) quantile"),
        (checks.calibrate, calibrate_mean, "target 4.5", "quantile"),
        (checks.calibrate, calibrate_returns_list, "target 4.5", "return one number"),
    ],
)
def test_typical_mistakes_fail_with_the_case_and_a_hint(check, wrong, label, hint):
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert label in message.splitlines()[0], message
    assert hint in message, message
    assert "call:" in message


def test_monotonic_rule_on_levels_is_caught_by_the_flat_case():
    # A global rule passed off as monotonic, but with the forced start 2: the "high but flat" case.
    def levels_with_forced_two(entropies, threshold):
        return sorted(set(global_starts(entropies, threshold)) | set(range(min(len(entropies), 3))))

    result = checks.monotonic_starts(levels_with_forced_two, raise_on_fail=False)
    assert not result.passed and "RISE" in result.message


def test_not_implemented_points_at_the_stub():
    def stub(entropies, threshold):
        raise NotImplementedError()

    result = checks.global_starts(stub, raise_on_fail=False)
    assert "YOUR CODE HERE" in result.message


def test_calibration_failure_says_what_the_threshold_gives():
    result = checks.calibrate(calibrate_wrong_quantile, raise_on_fail=False)
    assert "patches (" in result.message and "tokens per patch" in result.message
