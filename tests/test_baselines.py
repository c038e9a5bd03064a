"""Chapter 2's classic baselines: pipelines, the kNN vote, timing rows, the tables and their clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

import mnist_helpers as mh
from mnist_helpers import baselines as bl


@pytest.fixture(scope="module")
def small(mnist):
    """600 training and 200 test images of the real MNIST, stratified."""
    (x_train, y_train), (x_test, y_test) = mnist
    return mh.subsample(x_train, y_train, 600), mh.subsample(x_test, y_test, 200)


# ------------------------------------------------------------------ published figures

def test_published_table_holds_the_figures_the_chapter_cites():
    table = bl.published_results()
    assert list(table.columns) == ["classifier", "preprocessing", "test error %", "reference"]
    by_name = {(r.classifier, r.reference): r._3 for r in table.itertuples()}
    assert by_name[("K-nearest-neighbors, Euclidean (L2)", "Kenneth Wilder, U. Chicago")] == 3.09
    assert by_name[("SVM, Gaussian Kernel", "")] == 1.4  # the page names no reference for it
    assert by_name[("linear classifier (1-layer NN)", "LeCun et al. 1998")] in (12.0, 8.4)
    assert "yann.lecun.com/exdb/mnist" in bl.PUBLISHED_SOURCE
    # Counterparts point at rows of the same kind of classifier, on raw pixels ("none").
    for method, index in bl.PUBLISHED_COUNTERPART.items():
        assert method in bl.METHODS and bl.PUBLISHED[index][1] == "none"


# ------------------------------------------------------------------ inputs

def test_flatten_keeps_pixels_and_order():
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    rows = bl.flatten(x)
    assert rows.shape == (2, 784) and rows.dtype == np.uint8
    assert np.array_equal(rows[1], x[1].ravel())


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((3, 784), np.uint8), ValueError, r"x must have shape \(n, 28, 28\) \(3 dimensions\), got shape \(3, 784\)"),
    (np.zeros((3, 28, 27), np.uint8), ValueError, r"x must have shape \(n, 28, 28\), got shape \(3, 28, 27\)"),
    (np.zeros((3, 28, 28), np.float32), TypeError,
     r"x must have dtype uint8 \(pixels 0..255 as loaded\), got float32; pass the images as loaded, before mh.scale"),
    ([[0] * 28] * 28, TypeError, "x must be a NumPy array, got list"),
])
def test_flatten_rejects_bad_images(bad, error, message):
    with pytest.raises(error, match=message):
        bl.flatten(bad)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros(4, np.uint8), ValueError, r"y_train must have shape \(3,\), one label per example, got shape \(4,\)"),
    (np.zeros((3, 1), np.uint8), ValueError, r"got shape \(3, 1\)"),
    (np.zeros(3, np.float64), TypeError, r"y_train must have an integer dtype \(class indices\), got float64"),
    (np.array([0, 10, 2]), ValueError, r"y_train must be class indices in \[0, 10\), got values 0..10"),
    ([0, 1, 2], TypeError, "y_train must be a NumPy array, got list"),
])
def test_labels_are_checked(bad, error, message):
    x = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(error, match=message):
        bl.fit_and_score("kNN", bl.knn(1, n_jobs=1), x, bad, x, np.zeros(3, np.uint8))


def test_to_unit_interval_scales_to_float32():
    rows = np.array([[0, 51, 255]], dtype=np.uint8)
    scaled = bl.to_unit_interval(rows)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]], rtol=1e-7)


def test_to_unit_interval_refuses_pixels_already_scaled():
    # Scaling twice would silently divide by 255 again.
    with pytest.raises(TypeError, match=r"rows must have dtype uint8 \(flattened pixels 0..255\), got float32; "
                                         r"these pixels look scaled already"):
        bl.to_unit_interval(np.ones((2, 784), np.float32))
    with pytest.raises(ValueError, match=r"rows must have shape \(n, 784\) \(2 dimensions\), got shape \(2, 28, 28\); "
                                          r"flatten images with bl.flatten\(x\)"):
        bl.to_unit_interval(np.ones((2, 28, 28), np.uint8))


# ------------------------------------------------------------------ pipelines

def test_builders_make_the_documented_pipelines():
    assert isinstance(bl.logistic_regression()[-1], LogisticRegression)
    assert bl.logistic_regression(C=0.5)[-1].C == 0.5
    model = bl.knn(5, n_components=50)
    assert [name for name, _ in model.steps] == ["scale", "pca", "classify"]
    assert isinstance(model["pca"], PCA) and model["pca"].n_components == 50
    assert isinstance(model[-1], KNeighborsClassifier) and model[-1].n_neighbors == 5
    svm = bl.rbf_svm(C=3.0, gamma=0.02)
    assert isinstance(svm[-1], SVC) and (svm[-1].kernel, svm[-1].C, svm[-1].gamma) == ("rbf", 3.0, 0.02)
    assert [name for name, _ in svm.steps] == ["scale", "classify"]


@pytest.mark.parametrize("build, error, message", [
    (lambda: bl.logistic_regression(C=0), ValueError, r"C=0.0 must be in \(0, inf\) \(the inverse of the penalty's strength\)"),
    (lambda: bl.logistic_regression(tol=-1.0), ValueError, r"tol=-1.0 must be in \(0, inf\)"),
    (lambda: bl.logistic_regression(max_iter=0), ValueError, r"max_iter=0 must be in \[1, inf\)"),
    (lambda: bl.knn(0), ValueError, r"k=0 must be in \[1, inf\) \(the number of neighbours that vote\)"),
    (lambda: bl.knn(2.5), TypeError, "k must be an integer, got float 2.5"),
    (lambda: bl.rbf_svm(gamma="auto"), ValueError, "gamma='auto' must be one of 'scale' or a positive number"),
    (lambda: bl.rbf_svm(gamma=0.0), ValueError, r"gamma=0.0 must be in \(0, inf\) \(or 'scale'\)"),
    (lambda: bl.rbf_svm(C=True), TypeError, "C must be a real number, got bool True"),
    (lambda: bl.knn(3, n_components=0), ValueError,
     r"n_components=0 must be in \[1, 784\] \(principal components of 784 pixels\)"),
    (lambda: bl.knn(3, n_components=785), ValueError, r"n_components=785 must be in \[1, 784\]"),
    (lambda: bl.knn(3, n_components=0.9), TypeError, "n_components must be an integer, got float 0.9"),
])
def test_builders_reject_bad_hyper_parameters(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_builders_accept_numpy_scalars():
    # e.g. k = scores.idxmax() and n_components from an array of candidates are np.int64.
    model = bl.knn(np.int64(5), n_components=np.int64(50))
    assert model["pca"].n_components == 50 and type(model["pca"].n_components) is int
    assert model[-1].n_neighbors == 5 and type(model[-1].n_neighbors) is int
    assert bl.logistic_regression(C=np.float32(0.5), tol=np.float64(1e-3))[-1].C == 0.5
    svm = bl.rbf_svm(C=np.float64(3.0), gamma=np.float32(0.25), n_components=np.int32(30))
    assert (svm[-1].C, svm[-1].gamma, svm["pca"].n_components) == (3.0, 0.25, 30)


def test_mean_squared_distance_is_the_mean_over_all_pairs():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(30, 4)) * [1.0, 2.0, 0.0, 5.0] + [0.0, 3.0, 1.0, -2.0]
    every_pair = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2)
    assert bl.mean_squared_distance(rows) == pytest.approx(every_pair.mean(), rel=1e-12)
    # A shift changes no distance; a scale by a multiplies every squared distance by a^2.
    assert bl.mean_squared_distance(rows + 7.0) == pytest.approx(every_pair.mean(), rel=1e-12)
    assert bl.mean_squared_distance(3 * rows.astype(np.float32)) == pytest.approx(9 * every_pair.mean(), rel=1e-6)


def test_gamma_scale_is_a_narrower_kernel_on_centred_inputs():
    # gamma="scale" is 1 / (d * X.var()): on centred columns gamma * E||x - x'||^2 is exactly 2, on
    # columns with different means it is less (X.var() also counts the spread of the column means).
    def scale_width(x):
        return bl.mean_squared_distance(x) / (x.shape[1] * x.var())

    rows = np.random.default_rng(1).normal(size=(200, 5))
    centred = (rows - rows.mean(axis=0)) / rows.std(axis=0)  # every column: mean 0, variance exactly 1
    assert scale_width(centred) == pytest.approx(2.0)
    # Column means 0..4 add their variance, 2, to each column's 1: the width drops to 2 / (1 + 2).
    assert scale_width(centred + np.arange(5)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((3, 4), np.uint8), TypeError, r"got uint8; scale uint8 rows first"),
    (np.zeros(4), ValueError, r"rows must have shape \(n, d\)"),
    (np.array([[0.0, np.nan]]), ValueError, "NaN"),
])
def test_mean_squared_distance_rejects_bad_rows(bad, error, message):
    with pytest.raises(error, match=message):
        bl.mean_squared_distance(bad)


# ------------------------------------------------------------------ kNN vote

def sklearn_neighbours(seed=0, n_train=200, n_query=300, k=6):
    """Random continuous points (no distance ties), their neighbours' labels and sklearn's predictions."""
    rng = np.random.default_rng(seed)
    x_train, x_query = rng.normal(size=(n_train, 5)), rng.normal(size=(n_query, 5))
    y_train = rng.integers(0, 10, n_train)
    model = KNeighborsClassifier(n_neighbors=k).fit(x_train, y_train)
    labels = y_train[model.kneighbors(x_query, return_distance=False)]
    return labels, model, x_query, x_train, y_train


@pytest.mark.parametrize("k", [1, 2, 4, 5])
def test_knn_vote_equals_scikit_learn_including_ties(k):
    labels, _, x_query, x_train, y_train = sklearn_neighbours()
    expected = KNeighborsClassifier(n_neighbors=k).fit(x_train, y_train).predict(x_query)
    ours = bl.knn_vote(labels, k)
    if k in (2, 4):  # even k: ties happen, so this also checks the tie rule
        votes = (labels[:, :k, None] == np.arange(10)).sum(axis=1)
        assert ((votes == votes.max(axis=1, keepdims=True)).sum(axis=1) > 1).any()
    mh.assert_close(ours, expected, atol=0, rtol=0, name=f"kNN vote, k={k}")


def test_a_wrong_tie_rule_is_caught():
    labels, _, x_query, x_train, y_train = sklearn_neighbours()
    expected = KNeighborsClassifier(n_neighbors=4).fit(x_train, y_train).predict(x_query)
    votes = (labels[:, :4, None] == np.arange(10)).sum(axis=1)
    largest_digit_wins = 9 - votes[:, ::-1].argmax(axis=1)  # ties to the largest digit: wrong
    with pytest.raises(AssertionError, match="kNN vote"):
        mh.assert_close(largest_digit_wins, expected, atol=0, rtol=0, name="kNN vote")


def test_a_vote_over_the_wrong_neighbours_is_caught():
    labels, _, x_query, x_train, y_train = sklearn_neighbours()
    expected = KNeighborsClassifier(n_neighbors=3).fit(x_train, y_train).predict(x_query)
    with pytest.raises(AssertionError):
        mh.assert_close(bl.knn_vote(labels[:, 1:], 3), expected, atol=0, rtol=0, name="kNN vote")


@pytest.mark.parametrize("labels, k, message", [
    (np.zeros(5, int), 1, r"neighbor_labels must have shape \(points, neighbours\) \(2 dimensions\), got shape \(5,\)"),
    (np.zeros((5, 3), int), 4, r"k=4 must be in \[1, 3\] \(the neighbours available\)"),
    (np.zeros((5, 3), int), 0, r"k=0 must be in \[1, 3\]"),
    (np.full((5, 3), 12), 1, r"neighbor_labels must be class indices in \[0, 10\), got values 12..12"),
])
def test_knn_vote_rejects_bad_input(labels, k, message):
    with pytest.raises(ValueError, match=message):
        bl.knn_vote(labels, k)


def test_knn_accuracy_by_k_matches_fitting_each_k(small):
    (x_train, y_train), (x_val, y_val) = small
    scores = bl.knn_accuracy_by_k(x_train, y_train, x_val, y_val, ks=(1, 4, 5), n_jobs=1)
    assert list(scores.index) == [1, 4, 5] and scores.index.name == "k"
    for k in (1, 4, 5):
        model = bl.knn(k, n_jobs=1).fit(bl.flatten(x_train), y_train)
        assert scores[k] == pytest.approx(model.score(bl.flatten(x_val), y_val), abs=0)


def test_knn_accuracy_by_k_in_pca_space(small):
    (x_train, y_train), (x_val, y_val) = small
    scores = bl.knn_accuracy_by_k(x_train, y_train, x_val, y_val, ks=(3,), n_components=20, n_jobs=1)
    model = bl.knn(3, n_components=20, n_jobs=1).fit(bl.flatten(x_train), y_train)
    assert scores[3] == pytest.approx(model.score(bl.flatten(x_val), y_val), abs=0)
    assert scores[3] > 0.7


@pytest.mark.parametrize("ks, error, message", [
    ((), ValueError, r"ks=\(\) must hold at least 1 integer"),
    ((0, 3), ValueError, r"ks\[0\]=0 must be in \[1, inf\)"),
    ((True,), TypeError, r"ks\[0\] must be an integer, got bool"),
])
def test_knn_accuracy_by_k_rejects_bad_ks(small, ks, error, message):
    (x_train, y_train), (x_val, y_val) = small
    with pytest.raises(error, match=message):
        bl.knn_accuracy_by_k(x_train, y_train, x_val, y_val, ks=ks)


def test_knn_accuracy_by_k_rejects_mismatched_labels(small):
    (x_train, y_train), (x_val, y_val) = small
    with pytest.raises(ValueError, match=r"y_val must have shape \(200,\), one label per example"):
        bl.knn_accuracy_by_k(x_train, y_train, x_val, y_val[:-1])


# ------------------------------------------------------------------ fit_and_score and the tables

@pytest.mark.parametrize("predict_jobs", [1, 2, np.int64(2)])
def test_fit_and_score_reports_the_model_accuracy(small, predict_jobs):
    (x_train, y_train), (x_test, y_test) = small
    model = bl.rbf_svm(n_components=30)
    result = bl.fit_and_score("PCA + SVM (RBF)", model, x_train, y_train, x_test, y_test,
                              predict_jobs=predict_jobs)
    assert np.array_equal(result.y_pred, model.predict(bl.flatten(x_test)))
    assert result.accuracy == pytest.approx(np.mean(result.y_pred == y_test), abs=0)
    assert result.accuracy > 0.8 and result.n_train == 600
    assert result.fit_seconds > 0 and result.predict_seconds > 0
    assert set(result.row()) == {"method", "train images", "test accuracy", "fit s", "predict s"}
    assert str(result).startswith(f"PCA + SVM (RBF): test accuracy {result.accuracy:.4f}, fit ")
    assert str(result).endswith("(600 training images)")


def test_predict_in_chunks_keeps_the_order(small):
    (x_train, y_train), (x_test, _) = small
    model = bl.knn(1, n_jobs=1).fit(bl.flatten(x_train), y_train)
    rows = bl.flatten(x_test)
    assert np.array_equal(bl.predict_in_chunks(model, rows, 3), model.predict(rows))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "random forest"}, ValueError, "method='random forest' must be one of 'logistic regression', 'kNN'"),
    ({"x_test": np.zeros((5, 784), np.uint8)}, ValueError, r"x_test must have shape \(n, 28, 28\)"),
    ({"y_train": np.zeros(10, np.uint8)}, ValueError, r"y_train must have shape \(600,\)"),
    ({"predict_jobs": 0}, ValueError, r"predict_jobs=0 must be in \[1, inf\)"),
    ({"predict_jobs": 2.0}, TypeError, "predict_jobs must be an integer, got float"),
    ({"blas_threads": 0}, ValueError, r"blas_threads=0 must be in \[1, inf\) \(or None for the default\)"),
])
def test_fit_and_score_rejects_bad_input(small, kwargs, error, message):
    (x_train, y_train), (x_test, y_test) = small
    args = dict(method="kNN", model=bl.knn(1, n_jobs=1), x_train=x_train, y_train=y_train, x_test=x_test,
                y_test=y_test)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        bl.fit_and_score(**args)


def rows():
    return [{"method": "kNN", "train images": 60000, "test accuracy": 0.97, "fit s": 0.1, "predict s": 30.0},
            {"method": "PCA + kNN", "train images": 60000, "test accuracy": 0.975, "fit s": 2.0, "predict s": 9.0,
             "measured in": "notebook"}]


def test_comparison_table_adds_errors_and_published_counterparts():
    table = bl.comparison_table(rows())
    assert table["test error %"].round(6).tolist() == [3.0, 2.5]
    assert table.loc[0, "published error %"] == 3.09
    assert table.loc[0, "published as"] == "K-nearest-neighbors, Euclidean (L2) [Kenneth Wilder, U. Chicago]"
    assert np.isnan(table.loc[1, "published error %"]) and table.loc[1, "published as"] == ""
    assert table.loc[1, "measured in"] == "notebook"
    svm = bl.comparison_table([{**rows()[0], "method": "SVM (RBF)"}])
    assert svm.loc[0, "published as"] == "SVM, Gaussian Kernel [no reference given]"


@pytest.mark.parametrize("bad, message", [
    ([{"method": "kNN"}], r"rows\[0\] lacks \['fit s', 'predict s', 'test accuracy', 'train images'\]"),
    ([{**rows()[0], "method": "CNN"}], r"rows\[0\]\['method'\]='CNN' must be one of"),
])
def test_comparison_table_rejects_bad_rows(bad, message):
    with pytest.raises(ValueError, match=message):
        bl.comparison_table(bad)


def test_plot_comparison_draws_both_panels():
    import matplotlib.pyplot as plt

    fig = bl.plot_comparison(bl.comparison_table(rows()))
    assert len(fig.axes) == 2 and fig.axes[1].get_xscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"table lacks columns \['published error %'"):
        bl.plot_comparison(pd.DataFrame(rows()).assign(**{"test error %": 1.0}))
