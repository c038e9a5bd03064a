"""Paired comparisons (mnist_helpers.stats): McNemar's exact test, seed k against seed k."""
import math

import numpy as np
import pytest
from scipy.stats import binomtest

from mnist_helpers import stats as S


def correct_vectors(only_a_wrong, only_b_wrong, both_right=50, both_wrong=3, seed=0):
    """Two per-image correctness vectors with the given 2x2 table, images shuffled."""
    a = np.r_[np.ones(both_right, bool), np.zeros(only_a_wrong, bool), np.ones(only_b_wrong, bool),
              np.zeros(both_wrong, bool)]
    b = np.r_[np.ones(both_right, bool), np.ones(only_a_wrong, bool), np.zeros(only_b_wrong, bool),
              np.zeros(both_wrong, bool)]
    order = np.random.default_rng(seed).permutation(len(a))
    return a[order], b[order]


def exact_two_sided(b, c):
    """The exact binomial sum by hand: twice the smaller tail of Binomial(b + c, 1/2), capped at 1."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n)


# ------------------------------------------------------------------ mcnemar_p

@pytest.mark.parametrize("b, c", [(0, 1), (1, 0), (0, 5), (3, 4), (5, 30), (30, 5), (10, 12), (12, 10), (7, 7),
                                  (0, 40), (250, 300), (1000, 1100)])
def test_mcnemar_p_equals_scipy_binomtest(b, c):
    assert S.mcnemar_p(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


@pytest.mark.parametrize("b, c", [(0, 1), (0, 5), (1, 9), (2, 3), (4, 4), (5, 30), (12, 10), (17, 3)])
def test_mcnemar_p_equals_the_exact_binomial_sum_by_hand(b, c):
    assert S.mcnemar_p(b, c) == pytest.approx(exact_two_sided(b, c), rel=1e-12)


def test_mcnemar_p_known_values():
    assert S.mcnemar_p(0, 5) == pytest.approx(2 / 32)        # both tails of 5 flips, all one way
    assert S.mcnemar_p(1, 9) == pytest.approx(22 / 1024)     # 2 * (1 + 10) / 2**10
    assert S.mcnemar_p(0, 1) == 1.0 and S.mcnemar_p(5, 5) == 1.0


def test_mcnemar_p_is_one_without_discordant_pairs():
    assert S.mcnemar_p(0, 0) == 1.0


@pytest.mark.parametrize("b, c, error", [(-1, 3, ValueError), (3, -1, ValueError), (2.0, 3, TypeError),
                                         (True, 3, TypeError)])
def test_mcnemar_p_refuses_bad_counts(b, c, error):
    with pytest.raises(error, match=r"^only_[ab]_wrong"):
        S.mcnemar_p(b, c)


# ------------------------------------------------------------------ one pair of models

def test_thirty_against_five_discordant_is_significant():
    result = S.compare_correct(*correct_vectors(only_a_wrong=5, only_b_wrong=30))
    assert (result.only_a_wrong, result.only_b_wrong, result.n) == (5, 30, 88)
    assert result.p_value < 0.001
    assert result.difference == pytest.approx(25 / 88) and result.difference > 0


def test_twelve_against_ten_discordant_is_not_significant():
    result = S.compare_correct(*correct_vectors(only_a_wrong=12, only_b_wrong=10))
    assert (result.only_a_wrong, result.only_b_wrong) == (12, 10)
    assert result.p_value > 0.5
    assert result.difference == pytest.approx(-2 / 75)


def test_swapping_a_and_b_flips_the_difference_and_keeps_p():
    a, b = correct_vectors(only_a_wrong=7, only_b_wrong=19)
    ab, ba = S.compare_correct(a, b), S.compare_correct(b, a)
    assert ba.difference == -ab.difference and ba.p_value == ab.p_value
    assert (ba.only_a_wrong, ba.only_b_wrong) == (ab.only_b_wrong, ab.only_a_wrong)
    assert (ba.accuracy_a, ba.accuracy_b) == (ab.accuracy_b, ab.accuracy_a)


def test_identical_models_have_no_discordant_pairs_and_p_one():
    a, _ = correct_vectors(only_a_wrong=4, only_b_wrong=9)
    result = S.compare_correct(a, a.copy())
    assert (result.only_a_wrong, result.only_b_wrong, result.difference, result.p_value) == (0, 0, 0.0, 1.0)


def test_compare_from_labels_counts_only_the_images_exactly_one_model_gets_wrong():
    y_true = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    y_pred_a = np.array([0, 1, 2, 3, 4, 5, 6, 0, 0, 0])     # wrong on 7, 8, 9
    y_pred_b = np.array([0, 1, 2, 3, 4, 0, 6, 7, 1, 2])     # wrong on 5, 8, 9 (8 and 9 differently)
    result = S.compare(y_true, y_pred_a, y_pred_b)
    assert (result.only_a_wrong, result.only_b_wrong, result.n) == (1, 1, 10)
    assert result.accuracy_a == result.accuracy_b == 0.7 and result.difference == 0.0
    assert result == S.compare_correct(y_pred_a == y_true, y_pred_b == y_true)


def test_difference_is_accuracy_a_minus_accuracy_b():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 10, 500)
    y_pred_a = np.where(rng.random(500) < 0.9, y_true, rng.integers(0, 10, 500))
    y_pred_b = np.where(rng.random(500) < 0.8, y_true, rng.integers(0, 10, 500))
    result = S.compare(y_true, y_pred_a, y_pred_b)
    assert result.accuracy_a == np.mean(y_pred_a == y_true) and result.accuracy_b == np.mean(y_pred_b == y_true)
    assert result.difference == pytest.approx(result.accuracy_a - result.accuracy_b, abs=1e-15)


def test_the_result_prints_on_one_line_and_is_a_table_row():
    result = S.compare_correct(*correct_vectors(only_a_wrong=5, only_b_wrong=30))
    text = str(result)
    assert "\n" not in text and "only A wrong 5" in text and "only B wrong 30" in text and "+28.41 points" in text
    assert result.as_row()["p_value"] == result.p_value and set(result.as_row()) >= {"accuracy_a", "n"}


@pytest.mark.parametrize("args, error, message", [
    ((np.zeros(5, int), np.zeros(5, int), np.zeros(4, int)), ValueError, r"^y_pred_b must have shape \(5,\)"),
    ((np.zeros(5, int), np.zeros((5, 10), int), np.zeros(5, int)), ValueError, r"^y_pred_a must have shape.*argmax"),
    ((np.zeros(5, int), np.full(5, 10), np.zeros(5, int)), ValueError, r"^y_pred_a must be class indices in \[0, 10\)"),
    ((np.zeros(5, int), np.full(5, -1), np.zeros(5, int)), ValueError, r"class indices"),
    ((np.zeros(5, int), np.zeros(5), np.zeros(5, int)), TypeError, r"^y_pred_a must have an integer dtype"),
    (([0, 1], np.zeros(2, int), np.zeros(2, int)), TypeError, r"^y_true must be a NumPy array"),
])
def test_compare_refuses_bad_labels_with_one_line(args, error, message):
    with pytest.raises(error, match=message) as info:
        S.compare(*args)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("a, b, error, message", [
    (np.ones(5, bool), np.ones(6, bool), ValueError, r"^correct_a and correct_b must score the same images"),
    (np.ones((2, 5), bool), np.ones((2, 5), bool), ValueError, r"^correct_a must have shape \(n,\)"),
    (np.ones(0, bool), np.ones(0, bool), ValueError, r"^correct_a must have at least 1 row"),
    (np.ones(5), np.ones(5, bool), TypeError, r"^correct_a must have a boolean dtype.*y_pred == y_true"),
])
def test_compare_correct_refuses_bad_vectors(a, b, error, message):
    with pytest.raises(error, match=message):
        S.compare_correct(a, b)


# ------------------------------------------------------------------ seeds

def test_seeds_are_paired_k_with_k():
    # A's and B's seed 0 fail on the same ten images, and so do their seeds 1 (other images):
    # paired k with k there is no discordant image; crossed, there would be 20 + 20.
    n = 100
    a = np.ones((2, n), bool)
    a[0, :10] = False
    a[1, 10:30] = False
    b = a.copy()
    b[0, 95:] = False               # B's seed 0 also misses five images A's seed 0 gets right
    result = S.compare_seeds_correct(a, b)
    assert result.differences == pytest.approx((0.05, 0.0))
    assert (result.only_a_wrong, result.only_b_wrong) == (0, 5)
    assert result.mean_difference == pytest.approx(0.025) and result.se_difference == pytest.approx(0.025)
    crossed = S.compare_seeds_correct(a, b[::-1])
    assert (crossed.only_a_wrong, crossed.only_b_wrong) != (0, 5) and crossed.differences != result.differences


def test_compare_seeds_pools_counts_and_takes_the_standard_error_with_ddof_1():
    pairs = [correct_vectors(5, 30, both_right=62, seed=0), correct_vectors(12, 10, both_right=75, seed=1),
             correct_vectors(8, 20, both_right=69, seed=2)]
    a, b = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    result = S.compare_seeds_correct(a, b)
    singles = [S.compare_correct(x, y) for x, y in pairs]
    differences = np.array([s.difference for s in singles])
    assert result.per_seed == tuple(singles) and (result.k, result.n) == (3, singles[0].n)
    assert result.mean_difference == pytest.approx(differences.mean())
    assert result.se_difference == pytest.approx(np.std(differences, ddof=1) / np.sqrt(3))
    assert (result.only_a_wrong, result.only_b_wrong) == (25, 60)
    assert result.p_value == pytest.approx(binomtest(25, 85, 0.5).pvalue)
    row = result.as_row()
    assert row["accuracy_a"] == pytest.approx(np.mean([s.accuracy_a for s in singles])) and row["k"] == 3
    assert "\n" not in str(result) and "3 seed pairs" in str(result)


def test_compare_seeds_correct_refuses_different_seed_counts_or_images():
    with pytest.raises(ValueError, match=r"^correct_a and correct_b must have the same \(seeds, images\) shape"):
        S.compare_seeds_correct(np.ones((2, 5), bool), np.ones((2, 6), bool))
    with pytest.raises(TypeError, match=r"^correct_a must have a boolean dtype"):
        S.compare_seeds_correct(np.ones((2, 5), int), np.ones((2, 5), bool))


def test_compare_seeds_from_labels_accepts_lists_and_arrays_alike():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 10, 300)
    preds = [np.where(rng.random(300) < 0.9, y_true, (y_true + 1) % 10) for _ in range(6)]
    as_lists = S.compare_seeds(y_true, preds[:3], preds[3:])
    as_arrays = S.compare_seeds(y_true, np.stack(preds[:3]), np.stack(preds[3:]))
    assert as_lists == as_arrays
    assert as_lists == S.compare_seeds_correct(np.stack(preds[:3]) == y_true, np.stack(preds[3:]) == y_true)


@pytest.mark.parametrize("a, b, message", [
    ([np.zeros(5, int)], [np.zeros(5, int)], r"^y_pred_a must hold at least 2 seeds for a standard error, got 1; "
                                             r"for a single pair of models use compare\(\)"),
    (np.zeros(5, int), np.zeros(5, int), r"^y_pred_a must have shape \(k, n\).*one row per seed"),
    ([np.zeros(5, int), np.zeros(4, int)], np.zeros((2, 5), int), r"^y_pred_a must hold one array per seed.*\[5, 4\]"),
    (np.zeros((2, 5), int), np.zeros((3, 5), int), r"^y_pred_a and y_pred_b must hold the same number of seeds, got 2 and 3"),
    (np.zeros((2, 4), int), np.zeros((2, 4), int), r"^y_pred_a\[0\] must have shape \(5,\)"),
    (np.zeros((2, 5), int), np.full((2, 5), 11), r"^y_pred_b\[0\] must be class indices"),
])
def test_compare_seeds_refuses_bad_input_with_one_line(a, b, message):
    with pytest.raises(ValueError, match=message) as info:
        S.compare_seeds(np.zeros(5, int), a, b)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ seed accuracies

def test_summarize_accuracies():
    summary = S.summarize_accuracies([0.9950, 0.9961, 0.9955, 0.9958])
    assert summary.k == 4 and (summary.min, summary.max) == (0.9950, 0.9961)
    assert summary.mean == pytest.approx(0.9956) and summary.sd == pytest.approx(np.std([50, 61, 55, 58], ddof=1) / 1e4)
    assert S.summarize_accuracies(np.array([0.9950, 0.9961, 0.9955, 0.9958])) == summary
    assert str(summary).startswith("99.56% ± 0.05% (mean ± sd over 4 seeds") and summary.as_row()["k"] == 4


@pytest.mark.parametrize("values, error, message", [
    ([0.99], ValueError, r"^accuracies must hold at least 2 seeds for a standard deviation, got 1$"),
    ([0.99, 99.1], ValueError, r"^accuracies\[1\]=99.1 must be in \[0, 1\] \(a fraction, not a percentage\)$"),
    (np.ones((2, 2)), ValueError, r"^accuracies must have shape \(k,\)"),
    (0.99, TypeError, r"^accuracies must be a sequence"),
])
def test_summarize_accuracies_refuses_bad_input(values, error, message):
    with pytest.raises(error, match=message):
        S.summarize_accuracies(values)


def test_to_frame_makes_one_row_per_label():
    rows = {"same": S.compare_correct(*correct_vectors(0, 0)), "better": S.compare_correct(*correct_vectors(5, 30))}
    frame = S.to_frame(rows)
    assert list(frame.index) == ["same", "better"] and frame.loc["better", "only_b_wrong"] == 30
    with pytest.raises(TypeError, match=r"^rows must be a dict"):
        S.to_frame(list(rows.values()))


def _runs(wrong_counts, n=5000, seed=0, base=None):
    """{seed: correct} for seeds 0..k-1; seed k wrong on wrong_counts[k] images (beyond base's errors)."""
    rng = np.random.default_rng(seed)
    runs = {}
    for k, count in enumerate(wrong_counts):
        correct = np.ones(n, bool) if base is None else base[k].copy()
        correct[rng.choice(np.flatnonzero(correct), count, replace=False)] = False
        runs[k] = correct
    return runs


def test_select_fastest_takes_a_faster_tie_and_never_a_shown_worse_one():
    best = _runs([20, 22, 21], seed=1)
    tie = _runs([22, 21, 24], seed=2)  # a different 22 errors or so: as good within the noise
    worse = _runs([38, 41, 44], seed=3, base=best)  # the best's errors and ~40 more, every seed
    selection = S.select_fastest({"best": best, "tie": tie, "worse": worse},
                                     {"best": 600.0, "tie": 300.0, "worse": 100.0})
    assert (selection.best, selection.chosen) == ("best", "tie")
    rows = selection.rows
    assert [rows[name]["verdict"] for name in ("best", "tie", "worse")] == ["best", "tie", "worse"]
    assert rows["worse"]["only_candidate_wrong"] == 38 + 41 + 44 and rows["worse"]["only_best_wrong"] == 0
    assert rows["worse"]["difference"] == pytest.approx(-(38 + 41 + 44) / 3 / 5000)
    assert rows["worse"]["p_value"] < 1e-20 and rows["tie"]["p_value"] > 0.05
    assert list(selection.as_frame().index) == ["worse", "tie", "best"]  # fastest first
    # Without the tie, the best itself is chosen over the faster but worse one.
    assert S.select_fastest({"best": best, "worse": worse}, {"best": 600.0, "worse": 100.0}).chosen == "best"


def test_select_fastest_needs_both_the_seeds_and_the_images_to_call_a_candidate_worse():
    best = _runs([20, 20, 20], seed=1)
    # Worse by the pooled images (p small) but not by the seeds: one seed far off, the others level.
    uneven = _runs([0, 0, 60], seed=4, base=best)
    rows = S.select_fastest({"best": best, "uneven": uneven}, {"best": 2.0, "uneven": 1.0}).rows
    assert rows["uneven"]["p_value"] < 0.05 and rows["uneven"]["difference"] > -2 * rows["uneven"]["se"]
    assert rows["uneven"]["verdict"] == "tie"


def test_select_fastest_refuses_candidates_it_cannot_judge():
    three, two = _runs([5, 6, 7]), _runs([5, 6])
    with pytest.raises(ValueError, match="'short' has 2 seed.*at least 3 per candidate"):
        S.select_fastest({"a": three, "short": two}, {"a": 1, "short": 1})
    with pytest.raises(ValueError, match="seconds has no time for b"):
        S.select_fastest({"a": three, "b": three}, {"a": 1})
    other_seeds = {seed + 10: row for seed, row in _runs([9, 9, 9], seed=5).items()}
    with pytest.raises(ValueError, match="shares 0 seed"):
        S.select_fastest({"a": three, "b": other_seeds}, {"a": 1, "b": 1})
    with pytest.raises(TypeError, match="non-empty dict"):
        S.select_fastest({}, {})
