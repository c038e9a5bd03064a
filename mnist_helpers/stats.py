"""Paired comparisons of two models scored on the same images (chapters 4, 6 and 9).

Two models tested on the *same* images are not two independent samples: the images both get
right or both get wrong say nothing about which model is better. Only the discordant images
count, the ones exactly one model gets wrong, and McNemar's exact test asks whether they split
more unevenly than a fair coin would split them. Over seeds, seed k of model A is paired with
seed k of model B, and the per-seed differences give a mean ± standard error.

``compare`` / ``compare_correct``: one model against another (``PairedComparison``).
``compare_seeds`` / ``compare_seeds_correct``: k seeds against k seeds (``SeedComparison``).
``summarize_accuracies``: mean ± sd of a set of seed accuracies (``AccuracySummary``).
``mcnemar_p``: the exact two-sided p-value from the two discordant counts.
``select_fastest``: chapter 9b's selection rule: the fastest recipe not shown worse than the best.
Each result has ``as_row()`` (a plain dict for a table); ``to_frame`` makes a pandas table.
Accuracies and differences are fractions (0.0123 is 1.23 percentage points).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as _scipy_stats

from .checks import check_array, check_integer, check_labels, check_real

__all__ = ["AccuracySummary", "PairedComparison", "SeedComparison", "Selection", "compare", "compare_correct",
           "compare_seeds", "compare_seeds_correct", "mcnemar_p", "select_fastest", "summarize_accuracies", "to_frame"]


def mcnemar_p(only_a_wrong: int, only_b_wrong: int) -> float:
    """McNemar's exact two-sided p-value: ``only_a_wrong`` successes in ``b + c`` fair coin flips.

    Under "neither model is better", each discordant image is equally likely to be A's error or
    B's, so ``b ~ Binomial(b + c, 1/2)``; the p-value is twice the smaller tail, capped at 1
    (the same as ``scipy.stats.binomtest(b, b + c, 0.5).pvalue``). With no discordant image there
    is no evidence either way and p = 1.
    """
    b = check_integer(only_a_wrong, "only_a_wrong", low=0)
    c = check_integer(only_b_wrong, "only_b_wrong", low=0)
    if b + c == 0:
        return 1.0
    return min(1.0, 2.0 * float(_scipy_stats.binom.cdf(min(b, c), b + c, 0.5)))


@dataclass(frozen=True)
class PairedComparison:
    """Model A against model B on the same ``n`` images; ``difference = accuracy_a - accuracy_b``."""

    accuracy_a: float
    accuracy_b: float
    difference: float
    only_a_wrong: int
    only_b_wrong: int
    p_value: float
    n: int

    def __str__(self) -> str:
        return (f"A {self.accuracy_a:.2%} vs B {self.accuracy_b:.2%}: A - B = {100 * self.difference:+.2f} points "
                f"(only A wrong {self.only_a_wrong}, only B wrong {self.only_b_wrong}, "
                f"McNemar p = {self.p_value:.3g}, n = {self.n:,})")

    def as_row(self) -> dict:
        """The fields as a plain dict, one row of a comparison table."""
        return asdict(self)


@dataclass(frozen=True)
class AccuracySummary:
    """Accuracies of one recipe over ``k`` seeds: mean, sd (ddof=1), min and max."""

    mean: float
    sd: float
    min: float
    max: float
    k: int

    def __str__(self) -> str:
        return (f"{self.mean:.2%} ± {self.sd:.2%} (mean ± sd over {self.k} seeds; "
                f"min {self.min:.2%}, max {self.max:.2%})")

    def as_row(self) -> dict:
        """The fields as a plain dict, one row of a table."""
        return asdict(self)


@dataclass(frozen=True)
class SeedComparison:
    """k seeds of A against k seeds of B on the same ``n`` images, seed k paired with seed k.

    ``per_seed[i]`` compares seed i of A with seed i of B; ``mean_difference ± se_difference``
    is the mean of their ``difference`` ± sd/sqrt(k) (ddof=1). ``only_a_wrong``, ``only_b_wrong``
    and ``p_value`` are the discordant counts summed over the seed pairs and McNemar's p on
    those sums (see ``compare_seeds`` for what the pooled p does and does not say).
    """

    per_seed: tuple[PairedComparison, ...]
    mean_difference: float
    se_difference: float
    only_a_wrong: int
    only_b_wrong: int
    p_value: float

    @property
    def k(self) -> int:
        return len(self.per_seed)

    @property
    def n(self) -> int:
        return self.per_seed[0].n

    @property
    def differences(self) -> tuple[float, ...]:
        return tuple(pair.difference for pair in self.per_seed)

    @property
    def accuracies_a(self) -> AccuracySummary:
        return summarize_accuracies([pair.accuracy_a for pair in self.per_seed])

    @property
    def accuracies_b(self) -> AccuracySummary:
        return summarize_accuracies([pair.accuracy_b for pair in self.per_seed])

    def __str__(self) -> str:
        return (f"A - B = {100 * self.mean_difference:+.2f} ± {100 * self.se_difference:.2f} points "
                f"(mean ± SE over {self.k} seed pairs); pooled: only A wrong {self.only_a_wrong}, "
                f"only B wrong {self.only_b_wrong}, McNemar p = {self.p_value:.3g}, n = {self.n:,}")

    def as_row(self) -> dict:
        """One table row: each model's accuracy mean and sd, the paired difference ± SE, the pooled test."""
        a, b = self.accuracies_a, self.accuracies_b
        return {"accuracy_a": a.mean, "sd_a": a.sd, "accuracy_b": b.mean, "sd_b": b.sd,
                "mean_difference": self.mean_difference, "se_difference": self.se_difference,
                "only_a_wrong": self.only_a_wrong, "only_b_wrong": self.only_b_wrong,
                "p_value": self.p_value, "k": self.k, "n": self.n}


def _check_correct(value, name: str, ndim: int) -> np.ndarray:
    layout = "(n,)" if ndim == 1 else "(k, n)"
    return check_array(value, name, dtypes=(np.bool_,), dtype_text="a boolean dtype (True where correct)",
                       dtype_hint="; pass y_pred == y_true, or use compare() with the labels", ndim=ndim,
                       layout=layout, min_rows=2 if ndim == 2 else 1, min_cols=1)


def compare_correct(correct_a, correct_b) -> PairedComparison:
    """Compare two models from their per-image correctness on the same images.

    Parameters
    ----------
    correct_a, correct_b : ndarray of bool, shape (n,)
        True where model A (B) classified image i correctly; the same images in the same order.
    """
    a, b = _check_correct(correct_a, "correct_a", 1), _check_correct(correct_b, "correct_b", 1)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must score the same images, got shapes {a.shape} and {b.shape}; "
                         f"score both models on the same images in the same order")
    n = len(a)
    only_a_wrong, only_b_wrong = int(np.sum(~a & b)), int(np.sum(a & ~b))
    accuracy_a, accuracy_b = float(a.mean()), float(b.mean())
    # Both-right and both-wrong images cancel: the difference is the discordant imbalance over n.
    return PairedComparison(accuracy_a=accuracy_a, accuracy_b=accuracy_b, difference=(only_b_wrong - only_a_wrong) / n,
                            only_a_wrong=only_a_wrong, only_b_wrong=only_b_wrong,
                            p_value=mcnemar_p(only_a_wrong, only_b_wrong), n=n)


def compare(y_true, y_pred_a, y_pred_b, *, num_classes: int = 10) -> PairedComparison:
    """Compare two models' predicted labels on the same images (a ``PairedComparison``).

    Parameters
    ----------
    y_true : ndarray of int, shape (n,)
        The images' labels.
    y_pred_a, y_pred_b : ndarray of int, shape (n,)
        Each model's predicted class per image (``probabilities.argmax(axis=1)``).
    num_classes : int, default 10
    """
    check_labels(y_true, "y_true", num_classes=num_classes)
    check_labels(y_pred_a, "y_pred_a", num_classes=num_classes, n=len(y_true))
    check_labels(y_pred_b, "y_pred_b", num_classes=num_classes, n=len(y_true))
    return compare_correct(y_pred_a == y_true, y_pred_b == y_true)


def _as_seeds(value, name: str) -> np.ndarray:
    """A (k, n) array, or a list of k arrays of shape (n,) stacked (checked one by one first)."""
    if isinstance(value, (list, tuple)):
        rows = [check_array(row, f"{name}[{i}]", ndim=1, layout="(n,)") for i, row in enumerate(value)]
        if len({len(row) for row in rows}) > 1:
            raise ValueError(f"{name} must hold one array per seed, all of one length (the same images), "
                             f"got lengths {[len(row) for row in rows]}")
        value = np.stack(rows) if rows else np.empty((0, 0))
    check_array(value, name, ndim=2, layout="(k, n)", shape_hint="; one row per seed")
    if len(value) < 2:
        raise ValueError(f"{name} must hold at least 2 seeds for a standard error, got {len(value)}; "
                         f"for a single pair of models use compare()")
    return value


def compare_seeds_correct(correct_a, correct_b) -> SeedComparison:
    """``compare_seeds`` from correctness: ``correct_a``, ``correct_b`` are bool arrays of shape (k, n)
    (or lists of k arrays of shape (n,)); row i is True where seed i classified the image correctly."""
    a, b = _as_seeds(correct_a, "correct_a"), _as_seeds(correct_b, "correct_b")
    _check_correct(a, "correct_a", 2)
    _check_correct(b, "correct_b", 2)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must have the same (seeds, images) shape, got {a.shape} and "
                         f"{b.shape}; run each recipe with the same seeds on the same images")
    per_seed = tuple(compare_correct(row_a, row_b) for row_a, row_b in zip(a, b))
    differences = np.array([pair.difference for pair in per_seed])
    only_a_wrong = sum(pair.only_a_wrong for pair in per_seed)
    only_b_wrong = sum(pair.only_b_wrong for pair in per_seed)
    return SeedComparison(per_seed=per_seed, mean_difference=float(differences.mean()),
                          se_difference=float(differences.std(ddof=1) / math.sqrt(len(differences))),
                          only_a_wrong=only_a_wrong, only_b_wrong=only_b_wrong,
                          p_value=mcnemar_p(only_a_wrong, only_b_wrong))


def compare_seeds(y_true, y_pred_a, y_pred_b, *, num_classes: int = 10) -> SeedComparison:
    """Compare two recipes trained with k seeds each on the same images, seed k with seed k (a ``SeedComparison``).

    Two summaries, each answering to one source of noise:

    - ``mean_difference ± se_difference``: the mean of the k per-seed differences ± sd/sqrt(k)
      (ddof=1). It measures how much the difference moves from seed to seed, with the images
      held fixed; with few seeds the SE itself is rough (k=3 gives 2 degrees of freedom).
    - ``p_value``: McNemar's exact test on the discordant counts summed over the k seed pairs.
      One pair's p asks whether image sampling alone could explain how its discordant images
      split; pooling adds the other pairs' as if they were new evidence. They are not new
      images: an image that recipe A gets wrong with every seed counts up to k times, so when
      the same images stay discordant across seeds the pooled p is too small (optimistic), and
      it never holds more than n images' worth of evidence about other images. What pooling
      resolves is the luck of one seed pair (a split driven by one pair is diluted by the
      others); it does not measure the seed-to-seed spread, which the SE does.

    Trust a difference when both agree: the mean several SEs from zero, and a small pooled p.

    Parameters
    ----------
    y_true : ndarray of int, shape (n,)
        The images' labels, the same for every seed.
    y_pred_a, y_pred_b : ndarray of int, shape (k, n), or lists of k arrays of shape (n,)
        Row i: the predicted classes of recipe A (B) trained with seed i; k >= 2, the same seeds
        in the same order for both.
    num_classes : int, default 10
    """
    check_labels(y_true, "y_true", num_classes=num_classes)
    a, b = _as_seeds(y_pred_a, "y_pred_a"), _as_seeds(y_pred_b, "y_pred_b")
    if len(a) != len(b):
        raise ValueError(f"y_pred_a and y_pred_b must hold the same number of seeds, got {len(a)} and {len(b)}; "
                         f"train both recipes with the same seeds")
    for name, value in (("y_pred_a", a), ("y_pred_b", b)):
        for i, row in enumerate(value):
            check_labels(row, f"{name}[{i}]", num_classes=num_classes, n=len(y_true))
    return compare_seeds_correct(a == y_true, b == y_true)


def summarize_accuracies(accuracies) -> AccuracySummary:
    """Mean, sd (ddof=1), min and max of one recipe's accuracies (fractions in [0, 1], shape (k,), k >= 2)."""
    if isinstance(accuracies, np.ndarray):
        check_array(accuracies, "accuracies", ndim=1, layout="(k,)")
    elif isinstance(accuracies, (str, bytes)) or not hasattr(accuracies, "__iter__"):
        raise TypeError(f"accuracies must be a sequence of floats, one per seed, got {type(accuracies).__name__}")
    values = np.array([check_real(v, f"accuracies[{i}]", low=0, high=1, hint=" (a fraction, not a percentage)")
                       for i, v in enumerate(accuracies)])
    if len(values) < 2:
        raise ValueError(f"accuracies must hold at least 2 seeds for a standard deviation, got {len(values)}")
    return AccuracySummary(mean=float(values.mean()), sd=float(values.std(ddof=1)), min=float(values.min()),
                           max=float(values.max()), k=len(values))


def to_frame(rows):
    """A pandas DataFrame from ``{label: result}``, one row per result's ``as_row()``, indexed by label."""
    import pandas as pd  # only here: the module itself stays pandas-free

    if not isinstance(rows, dict):
        raise TypeError(f"rows must be a dict {{label: result}}, got {type(rows).__name__}")
    return pd.DataFrame([result.as_row() for result in rows.values()], index=list(rows))


@dataclass(frozen=True)
class Selection:
    """What :func:`select_fastest` chose, and why: one row per candidate in ``rows``."""

    chosen: str
    best: str
    rows: dict

    def as_frame(self):
        """The rows as a pandas DataFrame, one per candidate, fastest first."""
        import pandas as pd

        frame = pd.DataFrame.from_dict(self.rows, orient="index")
        return frame.sort_values("seconds", kind="stable")


def select_fastest(correct, seconds, *, min_seeds: int = 3, se_multiple: float = 2.0, alpha: float = 0.05) -> Selection:
    """The rule chapter 9b chooses recipes by: the fastest candidate that is not shown worse than the best.

    The *best* candidate has the highest mean accuracy over its seeds. Every other candidate is
    compared with it on the seeds both have, seed k with seed k (:func:`compare_seeds_correct`).
    A candidate is **worse** only when both kinds of noise agree (as ``compare_seeds`` advises): its
    mean paired difference is more than ``se_multiple`` standard errors below zero, *and* McNemar's
    p on the pooled discordant counts is below ``alpha``. Otherwise it **ties** with the best. Of the
    best and its ties, the one with the fewest ``seconds`` is chosen (the best on equal times).

    Parameters
    ----------
    correct : dict ``{name: {seed: ndarray of bool, shape (n,)}}``
        Per candidate and seed, True where the trained model classified validation image i
        correctly; the same n images, in the same order, for every run.
    seconds : dict ``{name: float}``
        Each candidate's training time (the chapter uses median epoch time x epochs).
    min_seeds : int, default 3
        Fewer seeds than this, or fewer seeds shared with the best, is an error: a rule applied
        to every candidate needs every candidate measured.
    se_multiple, alpha : float
        The two thresholds above.

    Returns
    -------
    Selection
        ``chosen`` and ``best`` names, and ``rows[name]``: ``mean``, ``sd``, ``seeds``,
        ``difference`` and ``se`` (candidate minus best, fractions), ``only_candidate_wrong``,
        ``only_best_wrong``, ``p_value``, ``seconds`` and ``verdict`` ("best", "tie" or "worse").
    """
    if not isinstance(correct, dict) or not correct:
        raise TypeError("correct must be a non-empty dict {name: {seed: bool array of shape (n,)}}")
    min_seeds = check_integer(min_seeds, "min_seeds", low=2)
    se_multiple = check_real(se_multiple, "se_multiple", low=0)
    alpha = check_real(alpha, "alpha", low=0, high=1)
    missing = sorted(set(correct) - set(seconds))
    if missing:
        raise ValueError(f"seconds has no time for {', '.join(missing)}: give every candidate its training time")
    runs = {}
    for name, by_seed in correct.items():
        if not isinstance(by_seed, dict) or len(by_seed) < min_seeds:
            raise ValueError(f"candidate {name!r} has {len(by_seed) if isinstance(by_seed, dict) else 0} seed(s); "
                             f"the rule needs at least {min_seeds} per candidate: train more seeds or drop it")
        runs[name] = {seed: _check_correct(value, f"correct[{name!r}][{seed!r}]", 1) for seed, value in by_seed.items()}
    means = {name: float(np.mean([row.mean() for row in by_seed.values()])) for name, by_seed in runs.items()}
    best = max(means, key=means.get)  # the first of equals, in the dict's order
    rows = {}
    for name, by_seed in runs.items():
        summary = summarize_accuracies([row.mean() for row in by_seed.values()])
        row = {"mean": summary.mean, "sd": summary.sd, "seeds": summary.k, "difference": 0.0, "se": 0.0,
               "only_candidate_wrong": 0, "only_best_wrong": 0, "p_value": 1.0,
               "seconds": float(check_real(seconds[name], f"seconds[{name!r}]", low=0)), "verdict": "best"}
        if name != best:
            shared = [seed for seed in by_seed if seed in runs[best]]
            if len(shared) < min_seeds:
                raise ValueError(f"candidate {name!r} shares {len(shared)} seed(s) with the best, {best!r}; "
                                 f"pairing seed k with seed k needs at least {min_seeds}: train the same seeds")
            pair = compare_seeds_correct([by_seed[seed] for seed in shared], [runs[best][seed] for seed in shared])
            worse = (pair.mean_difference < -se_multiple * pair.se_difference and pair.p_value < alpha
                     and pair.only_a_wrong > pair.only_b_wrong)
            row.update(difference=pair.mean_difference, se=pair.se_difference, only_candidate_wrong=pair.only_a_wrong,
                       only_best_wrong=pair.only_b_wrong, p_value=pair.p_value, verdict="worse" if worse else "tie")
        rows[name] = row
    eligible = [name for name in rows if rows[name]["verdict"] != "worse"]
    chosen = min(eligible, key=lambda name: (rows[name]["seconds"], name != best))
    return Selection(chosen=chosen, best=best, rows=rows)
