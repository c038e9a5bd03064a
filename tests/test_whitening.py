"""Standardization, PCA and ZCA whitening (chapter 3): agreement with Keras and scikit-learn,
wrong implementations caught by the same checks, and clear errors for bad inputs."""
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

import mnist_helpers as mh
from mnist_helpers import whitening as W

TIGHT = dict(atol=1e-9, rtol=1e-9)  # float64 on both sides


@pytest.fixture
def data():
    """Small correlated data with a constant column (like MNIST's always-blank border pixels)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6)
    x[:, 2] = 0.0
    return x[:40], x[40:]  # fit on 40 rows, apply to 20 others


@pytest.fixture
def full_rank():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5)) + 3.0
    return x[:60], x[60:]


# ------------------------------------------------------------------ input validation

@pytest.mark.parametrize("bad, error, words", [
    ([[0.0, 1.0]], TypeError, "x must be a NumPy array, got list"),
    (np.zeros((3, 4), dtype=np.uint8), TypeError, "got uint8; for uint8 images use mh.scale(images).reshape"),
    (np.zeros((3, 4), dtype=np.int64), TypeError, "got int64"),
    (np.zeros((3, 4), dtype=np.float16), TypeError, "(float32 or float64), got float16"),
    (np.zeros((3, 28, 28)), ValueError, "x must have shape (n, d) (2 dimensions), got shape (3, 28, 28); "
                                        "one row per example, e.g. x.reshape(len(x), -1)"),
    (np.zeros(5), ValueError, "shape (5,)"),
    (np.zeros((0, 4)), ValueError, "at least 1 row"),
    (np.zeros((4, 0)), ValueError, "and 1 column(s)"),
    (np.array([[0.0, np.nan]]), ValueError, "NaN"),
    (np.array([[0.0, np.inf]]), ValueError, "infinite"),
])
def test_feature_matrices_are_checked(bad, error, words):
    with pytest.raises(error) as info:
        W.standardize_stats(bad)
    assert words in str(info.value)


def test_float32_and_float64_features_are_accepted():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert W.standardize_stats(x)[0].shape == (2,)
    assert W.standardize_stats(x.astype(np.float64))[0].shape == (2,)


@pytest.mark.parametrize("function", [W.standardize_stats, W.pca_fit])
def test_fitting_functions_reject_uint8_images(function):
    with pytest.raises(TypeError, match="uint8"):
        function(np.zeros((5, 28, 28), dtype=np.uint8))


def test_pca_fit_needs_two_rows():
    with pytest.raises(ValueError, match="at least 2 row"):
        W.pca_fit(np.ones((1, 3)))


# ------------------------------------------------------------------ standardization

def test_stats_shapes_and_values(data):
    x, _ = data
    mean, std = W.standardize_stats(x)
    assert mean.shape == std.shape == (6,)
    np.testing.assert_allclose(mean, x.mean(axis=0))
    np.testing.assert_allclose(std, x.std(axis=0))
    g_mean, g_std = W.standardize_stats(x, per_pixel=False)
    assert g_mean.shape == g_std.shape == ()
    assert g_mean == pytest.approx(x.mean()) and g_std == pytest.approx(x.std())


@pytest.mark.parametrize("per_pixel", [True, False])
def test_standardize_matches_keras_normalization(data, per_pixel):
    x, x_new = data
    mean, std = W.standardize_stats(x, per_pixel)
    for rows in (x, x_new):
        ours = W.standardize(rows, mean, std)
        mh.assert_close(ours, W.keras_standardize(x, rows, per_pixel, dtype="float64"), **TIGHT,
                        name="standardize")
        # Keras' default float32 layer agrees on well-conditioned data.
        mh.assert_close(ours, W.keras_standardize(x, rows, per_pixel), atol=1e-5, rtol=1e-5)


def test_standardized_training_data_has_mean_0_and_std_1(data):
    x, _ = data
    z = W.standardize(x, *W.standardize_stats(x))
    live = np.ones(6, dtype=bool)
    live[2] = False
    np.testing.assert_allclose(z[:, live].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, live].std(axis=0), 1, atol=1e-12)
    # The constant column: 0 / max(0, eps) = 0, not NaN.
    assert np.all(z[:, 2] == 0)


def test_standardize_matches_standard_scaler_on_training_data(data):
    x, _ = data
    scaler = StandardScaler().fit(x)
    ours = W.standardize(x, *W.standardize_stats(x))
    mh.assert_close(ours, scaler.transform(x), **TIGHT)


def test_standardize_keeps_float32():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert W.standardize(x, *W.standardize_stats(x)).dtype == np.float32


@pytest.mark.parametrize("wrong", [
    lambda x, rows: (rows - x.mean(0)) / np.maximum(x.std(0, ddof=1), 1e-7),  # n - 1: not what Keras uses
    lambda x, rows: (rows - x.mean(0)) / np.maximum(x.var(0), 1e-7),          # variance, not std
    lambda x, rows: (rows - x.mean()) / np.maximum(x.std(0), 1e-7),           # global mean, per-pixel std
    lambda x, rows: (rows - x.mean(0)) / (x.std(0) + 1e-3),                   # eps added, not a floor
    lambda x, rows: (rows - rows.mean(0)) / np.maximum(rows.std(0), 1e-7),    # statistics of the wrong data
])
def test_wrong_standardization_fails_the_keras_check(data, wrong):
    x, x_new = data
    keras_out = W.keras_standardize(x, x_new, dtype="float64")
    mh.assert_close(W.standardize(x_new, *W.standardize_stats(x)), keras_out, **TIGHT)
    with pytest.raises(AssertionError):
        mh.assert_close(wrong(x, x_new), keras_out, **TIGHT, name="wrong standardize")


def test_no_floor_gives_nan_and_fails_the_check(data):
    x, _ = data
    with np.errstate(invalid="ignore", divide="ignore"):
        wrong = (x - x.mean(0)) / x.std(0)
    with pytest.raises(AssertionError, match="NaN"):
        mh.assert_close(wrong, W.keras_standardize(x, x, dtype="float64"))


def test_keras_float32_loses_digits_on_rare_pixels(mnist):
    """On real MNIST a pixel inked in a handful of images has a tiny variance that float32 gets
    only to about three digits: tight tolerance fails, 1e-3 holds, float64 agrees exactly."""
    (x_train, _), _ = mnist
    x = mh.scale(x_train[:5000]).reshape(5000, -1)
    ours = W.standardize(x, *W.standardize_stats(x))
    assert np.isfinite(ours).all()
    mh.assert_close(ours, W.keras_standardize(x, x), atol=1e-3, rtol=1e-3)
    mh.assert_close(ours, W.keras_standardize(x, x, dtype="float64"), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(mean=np.zeros(5)), ValueError, "mean must have shape () or (6,)"),
    (dict(std=np.ones((6, 1))), ValueError, "std must have shape"),
    (dict(std=-np.ones(6)), ValueError, "std must be >= 0"),
    (dict(mean=np.zeros(6, dtype=int)), TypeError, "mean must have a floating dtype (float32 or float64), got int64"),
    (dict(std=np.full(6, np.nan)), ValueError, "std contains NaN or infinite values"),
    (dict(eps=0.0), ValueError, "eps=0.0 must be in (0, inf) (a floor under the standard deviation)"),
    (dict(eps=-1.0), ValueError, "eps=-1.0"),
    (dict(eps=float("nan")), ValueError, "eps=nan must be a finite number"),
    (dict(eps="1e-7"), TypeError, "eps must be a real number, got str"),
    (dict(eps=True), TypeError, "eps must be a real number, got bool"),
])
def test_standardize_rejects_bad_arguments(data, kwargs, error, words):
    x, _ = data
    args = dict(mean=np.zeros(6), std=np.ones(6), eps=1e-7)
    args.update(kwargs)
    with pytest.raises(error) as info:
        W.standardize(x, **args)
    assert words in str(info.value)


def test_keras_standardize_rejects_bad_dtype(data):
    x, _ = data
    with pytest.raises(ValueError, match="dtype='float16' must be one of 'float32', 'float64'"):
        W.keras_standardize(x, x, dtype="float16")


# ------------------------------------------------------------------ PCA

def test_pca_fit_matches_sklearn(full_rank):
    x, _ = full_rank
    basis = W.pca_fit(x)
    pca = PCA(svd_solver="full").fit(x)
    assert np.all(np.diff(basis.variances) <= 0), "largest variance first"
    mh.assert_close(basis.variances, pca.explained_variance_, **TIGHT)
    mh.assert_close(basis.explained_variance_ratio(), pca.explained_variance_ratio_, **TIGHT)
    mh.assert_close(basis.components @ basis.components.T, np.eye(5), atol=1e-12)
    # Rows equal up to sign: align them as columns.
    mh.assert_close(W.align_signs(basis.components.T, pca.components_.T), pca.components_.T, atol=1e-9)


def test_pca_fit_singular_covariance_has_zero_variances(data):
    x, _ = data
    basis = W.pca_fit(x)
    assert basis.variances[-1] == 0.0 and (basis.variances >= 0).all()
    assert basis.explained_variance_ratio().sum() == pytest.approx(1.0)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_pca_whiten_matches_sklearn_up_to_sign(full_rank, k):
    x, x_new = full_rank
    basis = W.pca_fit(x)
    for rows in (x, x_new):
        reference = W.sklearn_pca_whiten(x, rows, k)
        ours = W.pca_whiten(rows, basis, k)
        assert ours.shape == (len(rows), k)
        mh.assert_close(W.align_signs(ours, reference), reference, **TIGHT, name="PCA whitening")


def test_pca_whitened_training_data_has_identity_covariance(full_rank):
    x, _ = full_rank
    z = W.pca_whiten(x, W.pca_fit(x))
    mh.assert_close(np.cov(z, rowvar=False), np.eye(5), atol=1e-10)


def _wrong_pca_whitenings():
    def no_sqrt(rows, b, k):
        return (rows - b.mean) @ b.components[:k].T / b.variances[:k]

    def not_centred(rows, b, k):
        return rows @ b.components[:k].T / np.sqrt(b.variances[:k])

    def population_variance(rows, b, k):
        n = 60  # divides by n instead of n - 1, unlike scikit-learn
        return (rows - b.mean) @ b.components[:k].T / np.sqrt(b.variances[:k] * (n - 1) / n)

    def columns_not_rows(rows, b, k):
        return (rows - b.mean) @ b.components[:, :k] / np.sqrt(b.variances[:k])

    def smallest_first(rows, b, k):
        return (rows - b.mean) @ b.components[::-1][:k].T / np.sqrt(b.variances[::-1][:k])

    return [no_sqrt, not_centred, population_variance, columns_not_rows, smallest_first]


@pytest.mark.parametrize("wrong", _wrong_pca_whitenings())
def test_wrong_pca_whitening_fails_the_sklearn_check_even_after_sign_alignment(full_rank, wrong):
    x, x_new = full_rank
    basis = W.pca_fit(x)
    reference = W.sklearn_pca_whiten(x, x_new, 3)
    mh.assert_close(W.align_signs(W.pca_whiten(x_new, basis, 3), reference), reference, **TIGHT)
    with pytest.raises(AssertionError):
        mh.assert_close(W.align_signs(wrong(x_new, basis, 3), reference), reference, **TIGHT,
                        name="wrong PCA whitening")


def test_pca_whiten_zero_variance_needs_eps(data):
    x, x_new = data
    basis = W.pca_fit(x)
    with pytest.raises(ValueError, match=r"principal direction 5 has variance 0.*n_components <= 5"):
        W.pca_whiten(x_new, basis)
    assert np.isfinite(W.pca_whiten(x_new, basis, eps=1e-6)).all()
    assert W.pca_whiten(x_new, basis, 5).shape == (20, 5)


@pytest.mark.parametrize("k, error, words", [
    (0, ValueError, "n_components=0 must be in [1, 6] (the basis has d=6 features)"),
    (7, ValueError, "n_components=7 must be in [1, 6]"),
    (2.0, TypeError, "n_components must be an integer, got float"),
    (True, TypeError, "n_components must be an integer, got bool"),
])
def test_bad_n_components(data, k, error, words):
    x, _ = data
    basis = W.pca_fit(x)
    for call in (lambda: W.pca_whiten(x, basis, k), lambda: W.zca_whiten(x, basis, k),
                 lambda: W.zca_matrix(basis, k)):
        with pytest.raises(error) as info:
            call()
        assert words in str(info.value)


def test_numpy_scalars_are_accepted_as_eps_and_n_components(data):
    # e.g. eps = np.float64(1e-7) from a computed array, n_components = np.int64 from np.argmax.
    x, x_new = data
    mean, std = W.standardize_stats(x)
    np.testing.assert_array_equal(W.standardize(x_new, mean, std, eps=np.float64(1e-7)),
                                  W.standardize(x_new, mean, std, eps=1e-7))
    np.testing.assert_array_equal(W.standardize(x_new, mean, std, eps=np.float32(1e-3)),
                                  W.standardize(x_new, mean, std, eps=float(np.float32(1e-3))))
    basis = W.pca_fit(x)
    np.testing.assert_array_equal(W.pca_whiten(x_new, basis, np.int64(3), eps=np.float64(1e-6)),
                                  W.pca_whiten(x_new, basis, 3, eps=1e-6))
    np.testing.assert_array_equal(W.zca_matrix(basis, np.int32(2), np.float64(0.0)), W.zca_matrix(basis, 2))


def test_whitening_rejects_bad_basis_columns_and_eps(data):
    x, _ = data
    basis = W.pca_fit(x)
    with pytest.raises(TypeError, match="Eigenbasis"):
        W.pca_whiten(x, (basis.mean, basis.variances, basis.components))
    with pytest.raises(TypeError, match="Eigenbasis"):
        W.zca_matrix("basis")
    with pytest.raises(ValueError, match="x has 5 columns but the basis was fitted on 6"):
        W.zca_whiten(x[:, :5], basis, eps=1e-3)
    with pytest.raises(ValueError, match=r"eps=-0.1 must be in \[0, inf\)"):
        W.zca_whiten(x, basis, eps=-0.1)
    with pytest.raises(TypeError, match="uint8"):
        W.pca_whiten(x.astype(np.uint8), basis, 2)


# ------------------------------------------------------------------ ZCA

def test_zca_matches_sklearn_and_is_symmetric(full_rank):
    x, x_new = full_rank
    basis = W.pca_fit(x)
    for k in (2, 5):
        mh.assert_close(W.zca_whiten(x_new, basis, k), W.sklearn_zca_whiten(x, x_new, k), **TIGHT, name="ZCA")
    matrix = W.zca_matrix(basis, eps=0.1)
    assert matrix.shape == (5, 5)
    mh.assert_close(matrix, matrix.T, atol=1e-12, name="ZCA matrix symmetry")
    # Full rank, eps 0: whitened covariance is the identity, and W^2 is the inverse covariance.
    z = W.zca_whiten(x, basis)
    mh.assert_close(np.cov(z, rowvar=False), np.eye(5), atol=1e-10)
    mh.assert_close(W.zca_matrix(basis) @ W.zca_matrix(basis), np.linalg.inv(np.cov(x, rowvar=False)), atol=1e-9)


def test_wrong_zca_fails_the_sklearn_check(full_rank):
    x, x_new = full_rank
    basis = W.pca_fit(x)
    reference = W.sklearn_zca_whiten(x, x_new, 5)
    # PCA whitening is a whitening too, but not ZCA: it is not rotated back to pixel space.
    with pytest.raises(AssertionError):
        mh.assert_close(W.pca_whiten(x_new, basis), reference, **TIGHT)
    # Scaling by 1/variance instead of 1/sqrt(variance).
    top = basis.components
    wrong = (x_new - basis.mean) @ (top.T @ (top / basis.variances[:, None]))
    with pytest.raises(AssertionError):
        mh.assert_close(wrong, reference, **TIGHT)


def test_eps_shrinks_the_small_directions(full_rank):
    x, _ = full_rank
    basis = W.pca_fit(x)
    z = W.pca_whiten(x, basis, eps=basis.variances[0])
    stds = z.std(axis=0, ddof=1)
    # variance v becomes v / (v + eps): the largest ends at 1/2, smaller ones are shrunk more.
    assert stds[0] == pytest.approx(np.sqrt(0.5))
    assert np.all(np.diff(stds) < 0)


# ------------------------------------------------------------------ sign alignment

def test_align_signs_flips_only_signs():
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(10, 3))
    flipped = reference * np.array([-1.0, 1.0, -1.0])
    np.testing.assert_array_equal(W.align_signs(flipped, reference), reference)
    # A wrong scale survives the alignment.
    assert not np.allclose(W.align_signs(2 * flipped, reference), reference)


def test_align_signs_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(4, 2\) and \(4, 3\)"):
        W.align_signs(np.ones((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="2-D"):
        W.align_signs(np.ones(4), np.ones(4))
