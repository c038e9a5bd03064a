"""Classic scikit-learn classifiers on MNIST, timed, next to the published figures (chapter 2).

Every method is a scikit-learn ``Pipeline`` on flattened images: scale the uint8 pixels to
[0, 1], optionally project on the first principal components, then classify. ``fit_and_score``
fits one pipeline and returns its test accuracy with the fit and predict times; ``comparison_table``
puts several of those next to the figures published on the MNIST page (``published_results``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from joblib import Parallel, delayed
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from .checks import check_array, check_choice, check_float_array, check_integer, check_integers, check_labels, check_real
from .preprocessing import check_images

# --------------------------------------------------------------------------- published figures

PUBLISHED_SOURCE = ("Y. LeCun, C. Cortes and C. J. C. Burges, \"The MNIST database of handwritten digits\", "
                    "http://yann.lecun.com/exdb/mnist/ (table of test error rates)")
"""Where ``PUBLISHED`` comes from. "LeCun et al. 1998" there is Y. LeCun, L. Bottou, Y. Bengio and
P. Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 86(11), 1998."""

PUBLISHED = (
    # (classifier, preprocessing, test error %, reference), as printed in the MNIST page's table
    ("linear classifier (1-layer NN)", "none", 12.0, "LeCun et al. 1998"),
    ("linear classifier (1-layer NN)", "deskewing", 8.4, "LeCun et al. 1998"),
    ("K-nearest-neighbors, Euclidean (L2)", "none", 5.0, "LeCun et al. 1998"),
    ("K-nearest-neighbors, Euclidean (L2)", "none", 3.09, "Kenneth Wilder, U. Chicago"),
    ("40 PCA + quadratic classifier", "none", 3.3, "LeCun et al. 1998"),
    ("SVM, Gaussian Kernel", "none", 1.4, ""),  # the table names no reference for this row
    ("SVM deg 4 polynomial", "deskewing", 1.1, "LeCun et al. 1998"),
)
"""A few rows of the MNIST page's results table (``PUBLISHED_SOURCE``): classic methods only."""

METHODS = ("logistic regression", "kNN", "SVM (RBF)", "PCA + kNN", "PCA + SVM (RBF)")
"""The methods of chapter 2, in the order the chapter introduces them."""

PUBLISHED_COUNTERPART = {"logistic regression": 0, "kNN": 3, "SVM (RBF)": 5}
"""Method -> index in ``PUBLISHED`` of the published row for the same kind of classifier on raw pixels.
The PCA pipelines have none: no row of the table is PCA followed by kNN or an SVM."""


def published_results() -> pd.DataFrame:
    """The rows of ``PUBLISHED`` as a table (columns classifier, preprocessing, test error %, reference)."""
    return pd.DataFrame(PUBLISHED, columns=["classifier", "preprocessing", "test error %", "reference"])


# --------------------------------------------------------------------------- inputs

def flatten(x: np.ndarray, name: str = "x") -> np.ndarray:
    """Turn images into the rows scikit-learn expects, keeping the uint8 pixels.

    Parameters
    ----------
    x : ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    ndarray of uint8, shape (n, 784)
    """
    return check_images(x, name).reshape(len(x), 28 * 28)


def to_unit_interval(rows: np.ndarray) -> np.ndarray:
    """Scale flattened uint8 pixels to float32 in [0, 1] (the pipelines' first step).

    Parameters
    ----------
    rows : ndarray of uint8, shape (n, 784)

    Returns
    -------
    ndarray of float32, shape (n, 784)
    """
    # Refusing floats matters here: scaling twice would silently divide by 255 again.
    check_array(rows, "rows", dtypes=(np.uint8,), dtype_text="dtype uint8 (flattened pixels 0..255)",
                dtype_hint="; these pixels look scaled already", ndim=2, layout="(n, 784)",
                shape_hint="; flatten images with bl.flatten(x)")
    return rows.astype(np.float32) / 255.0


# --------------------------------------------------------------------------- pipelines

def pipeline(classifier, n_components: Optional[int] = None, seed: int = 0) -> Pipeline:
    """Scale to [0, 1], optionally keep the first ``n_components`` principal components, classify.

    Parameters
    ----------
    classifier : scikit-learn classifier
    n_components : int, optional
        Number of principal components (1..784); None for raw pixels.
    seed : int
        Seed of PCA's randomized solver.

    Returns
    -------
    Pipeline taking uint8 rows of shape (n, 784)
    """
    steps = [("scale", FunctionTransformer(to_unit_interval))]
    if n_components is not None:
        # As a Python int: scikit-learn reads a float n_components as a share of the variance.
        n_components = check_integer(n_components, "n_components", low=1, high=784,
                                     hint=" (principal components of 784 pixels)")
        steps.append(("pca", PCA(n_components=n_components, random_state=seed)))
    steps.append(("classify", classifier))
    return Pipeline(steps)


def logistic_regression(C: float = 0.1, tol: float = 1e-3, max_iter: int = 1000,
                        n_components: Optional[int] = None) -> Pipeline:
    """Multinomial (softmax) logistic regression with an L2 penalty of strength ``1 / C``, L-BFGS solver.

    With ten classes scikit-learn fits the multinomial model, not one-vs-rest. ``tol`` is the
    solver's stopping tolerance: 1e-3 stops where the test accuracy no longer moves.
    """
    C = check_real(C, "C", low=0, low_open=True, hint=" (the inverse of the penalty's strength)")
    tol = check_real(tol, "tol", low=0, low_open=True)
    max_iter = check_integer(max_iter, "max_iter", low=1)
    return pipeline(LogisticRegression(C=C, tol=tol, max_iter=max_iter), n_components)


def knn(k: int = 3, n_components: Optional[int] = None, n_jobs: int = 2) -> Pipeline:
    """k-nearest neighbours with the Euclidean distance and a plain majority vote (``n_jobs`` threads)."""
    k = check_integer(k, "k", low=1, hint=" (the number of neighbours that vote)")
    return pipeline(KNeighborsClassifier(n_neighbors=k, n_jobs=n_jobs), n_components)


def rbf_svm(C: float = 10.0, gamma: Union[float, str] = "scale", n_components: Optional[int] = None,
            cache_mb: int = 1000) -> Pipeline:
    """Support vector machine with the Gaussian (RBF) kernel, one-vs-one over the ten digits.

    ``gamma="scale"`` is scikit-learn's ``1 / (n_features * X.var())``. ``cache_mb`` is the kernel
    cache; a large one saves recomputing kernel rows and speeds up the fit.
    """
    C = check_real(C, "C", low=0, low_open=True, hint=" (the inverse of the penalty's strength)")
    if isinstance(gamma, str):
        check_choice(gamma, "gamma", ("scale",), hint=" or a positive number")
    else:
        gamma = check_real(gamma, "gamma", low=0, low_open=True, hint=" (or 'scale')")
    cache_mb = check_real(cache_mb, "cache_mb", low=0, low_open=True)
    return pipeline(SVC(C=C, kernel="rbf", gamma=gamma, cache_size=cache_mb), n_components)


def mean_squared_distance(rows: np.ndarray) -> float:
    """The mean squared Euclidean distance between two rows, over all ordered pairs (self-pairs included).

    It sets what an RBF kernel's ``gamma`` means: two typical rows have ``K = exp(-gamma * d)`` with
    ``d`` this value, so ``gamma * d`` is a kernel width that can be compared between input spaces
    (chapter 2 compares raw pixels with principal components this way). Computed without any pair:
    the mean of ``||x_i - x_j||^2`` over all i, j is twice the sum of the columns' variances.

    Parameters
    ----------
    rows : ndarray of float, shape (n, d)
        Inputs as the classifier sees them (pixels in [0, 1], or principal components).

    Returns
    -------
    float
    """
    check_float_array(rows, "rows", ndim=2, layout="(n, d)", min_rows=1, min_cols=1, finite=True,
                      dtype_hint="; scale uint8 rows first, e.g. bl.to_unit_interval(bl.flatten(x))")
    # float64: a float32 sum over 47 million pixels loses digits.
    return float(2 * rows.astype(np.float64).var(axis=0).sum())


# --------------------------------------------------------------------------- kNN: choosing k

def knn_vote(neighbor_labels: np.ndarray, k: int) -> np.ndarray:
    """Majority vote of the ``k`` nearest neighbours; a tie goes to the smallest digit.

    Parameters
    ----------
    neighbor_labels : ndarray of int, shape (n, k_max)
        Labels of each point's neighbours, nearest first (k_max >= k).
    k : int

    Returns
    -------
    ndarray of int, shape (n,)
    """
    check_array(neighbor_labels, "neighbor_labels", ndim=2, layout="(points, neighbours)")
    k = check_integer(k, "k", low=1, high=neighbor_labels.shape[1], hint=" (the neighbours available)")
    check_labels(neighbor_labels.ravel(), "neighbor_labels")
    # votes[i, c] = how many of the k nearest neighbours of point i are digit c
    votes = (neighbor_labels[:, :k, None] == np.arange(10)).sum(axis=1)
    return votes.argmax(axis=1)  # argmax returns the first maximum: the smallest tied digit


def knn_accuracy_by_k(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                      ks: Sequence[int] = (1, 3, 5, 7, 9), n_components: Optional[int] = None,
                      n_jobs: int = 2) -> pd.Series:
    """Validation accuracy of kNN for each k, from a single neighbour search with the largest k.

    Parameters
    ----------
    x_train, x_val : ndarray of uint8, shape (n, 28, 28)
    y_train, y_val : ndarray of int, shape (n,)
    ks : sequence of positive int
    n_components : int, optional
        Search in the space of the first principal components instead of raw pixels.

    Returns
    -------
    Series of validation accuracy, indexed by k
    """
    rows_train, rows_val = flatten(x_train, "x_train"), flatten(x_val, "x_val")
    check_labels(y_train, "y_train", n=len(rows_train))
    check_labels(y_val, "y_val", n=len(rows_val))
    ks = check_integers(ks, "ks", low=1, min_length=1)
    with threadpool_limits(limits=1, user_api="blas"):  # see fit_and_score
        model = knn(max(ks), n_components, n_jobs).fit(rows_train, y_train)
        # The neighbours for the largest k contain those for every smaller k, nearest first.
        neighbours = model[-1].kneighbors(model[:-1].transform(rows_val), return_distance=False)
    accuracy = {k: float(np.mean(knn_vote(y_train[neighbours], k) == y_val)) for k in ks}
    return pd.Series(accuracy, name="validation accuracy").rename_axis("k")


# --------------------------------------------------------------------------- fit, time, score

@dataclass
class BaselineResult:
    """One fitted method's test accuracy and timings (see ``fit_and_score``)."""

    method: str
    n_train: int
    accuracy: float
    fit_seconds: float
    predict_seconds: float
    y_pred: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        return (f"{self.method}: test accuracy {self.accuracy:.4f}, fit {self.fit_seconds:.1f} s, "
                f"predict {self.predict_seconds:.1f} s ({self.n_train:,} training images)")

    def row(self) -> dict:
        """The result as a table row (what ``comparison_table`` shows)."""
        return {"method": self.method, "train images": self.n_train, "test accuracy": self.accuracy,
                "fit s": self.fit_seconds, "predict s": self.predict_seconds}


def predict_in_chunks(model, rows: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """``model.predict`` on ``n_jobs`` chunks in parallel threads (libsvm's predict runs one core)."""
    if n_jobs == 1:
        return model.predict(rows)
    chunks = np.array_split(rows, n_jobs)
    # Threads are enough: scikit-learn's SVM releases the GIL while it predicts.
    parts = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(model.predict)(chunk) for chunk in chunks)
    return np.concatenate(parts)


def fit_and_score(method: str, model, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, *, predict_jobs: int = 1, blas_threads: Optional[int] = 1) -> BaselineResult:
    """Fit ``model`` on the training images, predict the test images, time both.

    The parallelism that pays on a 2-core CPU is chosen per method (kNN's ``n_jobs``, ``predict_jobs``).
    BLAS gets one thread by default: OpenBLAS' threads spin while they wait, and on a busy 2-core
    machine two of them made logistic regression several times slower, not faster.

    Parameters
    ----------
    method : str
        One of ``METHODS`` (it selects the published counterpart in ``comparison_table``).
    model : scikit-learn estimator taking uint8 rows of shape (n, 784), e.g. from ``knn()``
        Fitted in place.
    x_train, x_test : ndarray of uint8, shape (n, 28, 28)
    y_train, y_test : ndarray of int, shape (n,)
    predict_jobs : int, default 1
        Predict in this many parallel chunks (``predict_in_chunks``); 2 halves an SVM's predict time.
    blas_threads : int or None, default 1
        Threads for BLAS (matrix products in logistic regression and PCA); None leaves the default.

    Returns
    -------
    BaselineResult
        Wall-clock seconds (``time.perf_counter``) of ``fit`` and of ``predict``, test accuracy,
        and the predictions, shape (n_test,).
    """
    check_choice(method, "method", METHODS)
    rows_train, rows_test = flatten(x_train, "x_train"), flatten(x_test, "x_test")
    check_labels(y_train, "y_train", n=len(rows_train))
    check_labels(y_test, "y_test", n=len(rows_test))
    predict_jobs = check_integer(predict_jobs, "predict_jobs", low=1)
    if blas_threads is not None:
        blas_threads = check_integer(blas_threads, "blas_threads", low=1, hint=" (or None for the default)")
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        start = time.perf_counter()
        model.fit(rows_train, y_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        y_pred = predict_in_chunks(model, rows_test, predict_jobs)
        predict_seconds = time.perf_counter() - start
    return BaselineResult(method, len(rows_train), float(np.mean(y_pred == y_test)), fit_seconds,
                          predict_seconds, y_pred)


def comparison_table(rows: Sequence[dict]) -> pd.DataFrame:
    """Measured results next to the published error of the same kind of classifier.

    Parameters
    ----------
    rows : sequence of dict
        ``BaselineResult.row()`` dicts (keys method, train images, test accuracy, fit s, predict s),
        possibly with extra keys (e.g. where the figure was measured), which are kept.

    Returns
    -------
    DataFrame, one row per input row, with the added columns ``test error %``, ``published error %``
    and ``published as`` (the published classifier and its reference); NaN/"" where none exists.
    """
    needed = {"method", "train images", "test accuracy", "fit s", "predict s"}
    for i, row in enumerate(rows):
        missing = needed - set(row)
        if missing:
            raise ValueError(f"rows[{i}] lacks {sorted(missing)}: pass BaselineResult.row() dicts")
        check_choice(row["method"], f"rows[{i}]['method']", METHODS)
    table = pd.DataFrame(list(rows))
    table["test error %"] = 100 * (1 - table["test accuracy"])
    published = [PUBLISHED[PUBLISHED_COUNTERPART[m]] if m in PUBLISHED_COUNTERPART else None
                 for m in table["method"]]
    table["published error %"] = [p[2] if p else np.nan for p in published]
    table["published as"] = [f"{p[0]} [{p[3] or 'no reference given'}]" if p else "" for p in published]
    return table


def plot_comparison(table: pd.DataFrame, label: str = "method"):
    """Two panels: test error % of each row with the published error as a marker; fit and predict seconds.

    Parameters
    ----------
    table : DataFrame from ``comparison_table``
    label : str
        Column naming the bars (e.g. a column that adds the training-set size to the method).

    Returns
    -------
    matplotlib Figure
    """
    missing = {label, "test error %", "published error %", "fit s", "predict s"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}: build it with comparison_table()")
    fig, (ax_err, ax_time) = plt.subplots(1, 2, figsize=(11, 0.5 * len(table) + 1.6), sharey=True)
    sns.barplot(data=table, y=label, x="test error %", color="C0", ax=ax_err, label="this book's run")
    ax_err.scatter(table["published error %"], np.arange(len(table)), marker="D", color="black", zorder=3,
                   label="published (MNIST page)")
    ax_err.set_xlabel("test error % (lower is better)")
    ax_err.set_ylabel("")
    ax_err.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / len(table)), ncol=2, frameon=False,
                  fontsize=8)
    times = table.melt(id_vars=[label], value_vars=["fit s", "predict s"], var_name="phase", value_name="seconds")
    sns.barplot(data=times, y=label, x="seconds", hue="phase", ax=ax_time)
    ax_time.set_xscale("log")
    ax_time.set_xlabel("seconds on the 2-core CPU (log scale)")
    ax_time.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / len(table)), ncol=2, frameon=False,
                   fontsize=8)
    fig.tight_layout()
    return fig
