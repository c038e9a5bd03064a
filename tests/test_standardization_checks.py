"""Chapter 3's cross-checks against Keras and scikit-learn on the real MNIST.

The chapter keeps one short check per idea (its NumPy standardization against Keras'
``Normalization`` in float32, its PCA directions against scikit-learn's); the rest live here: Keras
in float64, scikit-learn's ``StandardScaler`` and where it parts ways with Keras, both whitenings
against ``PCA(whiten=True)``, ZCA's covariance, and the units of logistic regression's penalty.
Every check runs on MNIST's own pixels, whose never-inked and rarely inked pixels are what make
standardization delicate.
"""
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mnist_helpers as mh
from mnist_helpers import baselines as bl
from mnist_helpers import whitening as W


@pytest.fixture(scope="module")
def split(mnist):
    """The chapter's split (10% validation, seed 0), cut to 10,000 training and 1,000 validation rows."""
    (x_train, y_train), _ = mnist
    (x_tr, y_tr), (x_val, y_val) = mh.train_val_split(x_train, y_train, val_size=0.1, seed=0)
    rows = lambda x: mh.scale(x).reshape(len(x), -1)  # noqa: E731 - one line, used twice
    return rows(x_tr[:10000]), y_tr[:10000], rows(x_val[:1000]), y_val[:1000]


# ------------------------------------------------------------------ standardization

def test_keras_normalization_agrees_in_float64_and_float32(split):
    X_tr, _, X_val, _ = split
    mean, std = W.standardize_stats(X_tr)
    ours = W.standardize(X_val.astype(np.float64), mean, std)
    assert (std == 0).any(), "the check must meet never-inked pixels"
    # float64: only the order of the additions differs.
    mh.assert_close(ours, W.keras_standardize(X_tr, X_val, dtype="float64"), atol=1e-9, rtol=1e-9)
    # float32 gets a rarely inked pixel's variance to about three digits: 1e-3 holds, 1e-6 does not.
    keras32 = W.keras_standardize(X_tr, X_val)
    mh.assert_close(ours, keras32, atol=1e-3, rtol=1e-3)
    with pytest.raises(AssertionError):
        mh.assert_close(ours, keras32, atol=1e-6, rtol=1e-6)
    # Global standardization is well conditioned: 1e-6 in float32.
    g_mean, g_std = W.standardize_stats(X_tr, per_pixel=False)
    mh.assert_close(W.standardize(X_val, g_mean, g_std), W.keras_standardize(X_tr, X_val, per_pixel=False),
                    atol=1e-6, rtol=1e-6)


def test_standard_scaler_parts_ways_only_on_never_inked_pixels(split):
    X_tr, _, X_val, _ = split
    mean, std = W.standardize_stats(X_tr)
    scaler = StandardScaler().fit(X_tr)
    # float32 in, float32 out: 1e-4. No validation row inks a never-inked pixel, so they agree everywhere.
    never_inked = np.flatnonzero(std == 0)
    assert not X_val[:, never_inked].any()
    mh.assert_close(W.standardize(X_val, mean, std), scaler.transform(X_val), atol=1e-4, rtol=1e-4)
    # A faint stroke (0.5) where no training image had ink: Keras' floor divides by 1e-7, the scaler by 1.
    stray = X_val[:1].copy()
    stray[0, never_inked[0]] = 0.5
    assert W.standardize(stray, mean, std)[0, never_inked[0]] == pytest.approx(0.5 / W.KERAS_EPSILON, rel=1e-6)
    assert W.keras_standardize(X_tr, stray)[0, never_inked[0]] == pytest.approx(0.5 / W.KERAS_EPSILON, rel=1e-3)
    assert scaler.transform(stray)[0, never_inked[0]] == pytest.approx(0.5)


# ------------------------------------------------------------------ PCA and whitening

@pytest.fixture(scope="module")
def first_2000(split):
    """The chapter's 2,000-image PCA check: a full SVD of the whole split would be slow."""
    X_tr, _, X_val, _ = split
    return X_tr[:2000].astype(np.float64), X_val


def test_pca_matches_scikit_learn_up_to_sign(first_2000):
    X_check, _ = first_2000
    basis = W.pca_fit(X_check)
    sk_pca = PCA(n_components=50, svd_solver="full").fit(X_check)
    mh.assert_close(basis.variances[:50], sk_pca.explained_variance_, atol=1e-10, rtol=1e-9, name="variances")
    ours = basis.components[:50].T  # directions as columns
    mh.assert_close(W.align_signs(ours, sk_pca.components_.T), sk_pca.components_.T, atol=1e-8,
                    name="principal directions, up to sign")
    # Without the sign alignment some columns point the other way: the alignment is needed, and all it does.
    assert not np.allclose(ours, sk_pca.components_.T, atol=1e-8)


def test_pca_and_zca_whitening_match_scikit_learn(first_2000):
    X_check, X_val = first_2000
    basis = W.pca_fit(X_check)
    sk_white = W.sklearn_pca_whiten(X_check, X_val, 50)
    mh.assert_close(W.align_signs(W.pca_whiten(X_val, basis, 50), sk_white), sk_white, atol=1e-8,
                    name="PCA whitening, up to sign")
    # ZCA needs no alignment: the sign of u_j appears twice in u_j u_j^T and cancels.
    mh.assert_close(W.zca_whiten(X_val, basis, 50), W.sklearn_zca_whiten(X_check, X_val, 50), atol=1e-8,
                    name="ZCA")


def test_zca_covariance_on_the_central_pixels(split):
    # Cov(W(x - mu)) = U diag(lambda / (lambda + eps)) U^T: the identity for eps = 0, where every
    # direction varies (the central 14 x 14 pixels), and each direction shrunk for eps > 0.
    X_tr, _, _, _ = split
    rows, cols = np.meshgrid(np.arange(7, 21), np.arange(7, 21), indexing="ij")
    X_central = X_tr[:, (rows * 28 + cols).ravel()].astype(np.float64)
    basis = W.pca_fit(X_central)
    assert (basis.variances > 0).all()
    mh.assert_close(np.cov(W.zca_whiten(X_central, basis), rowvar=False), np.eye(196), atol=1e-10)
    shrink = basis.variances / (basis.variances + 0.01)
    expected = basis.components.T @ np.diag(shrink) @ basis.components
    mh.assert_close(np.cov(W.zca_whiten(X_central, basis, eps=0.01), rowvar=False), expected, atol=1e-10)
    assert shrink.min() < 0.5 < 0.99 < shrink.max()  # some directions far from white, others nearly


# ------------------------------------------------------------------ the penalty's units

def test_penalty_on_standardized_inputs_is_c_over_sigma_squared_on_unit_pixels(split):
    # On z = (x - mu) / sigma the weights w_z = sigma w_x give the same scores, and the unpenalized
    # intercept absorbs the shift: C on z is the problem C / sigma^2 on x.
    X_tr, y_tr, X_val, _ = split
    X, y = X_tr[:300].astype(np.float64), y_tr[:300]
    mean, std = W.standardize_stats(X_tr, per_pixel=False)
    # Solved far more tightly than the chapter's tol=1e-3, so that the two solutions can be compared;
    # BLAS on one thread (spinning threads make these small fits many times slower on a busy CPU).
    tight = dict(tol=1e-6, max_iter=10_000)
    with threadpool_limits(limits=1, user_api="blas"):
        on_z = bl.logistic_regression(C=0.1, **tight)[-1].fit((X - mean) / std, y)
        on_x = bl.logistic_regression(C=0.1 / std**2, **tight)[-1].fit(X, y)
        # The same C on x is another problem: a ten times stronger penalty, visibly other weights.
        on_x_same_c = bl.logistic_regression(C=0.1)[-1].fit(X, y)
    mh.assert_close(on_z.predict_proba((X_val - mean) / std), on_x.predict_proba(X_val), atol=1e-2, rtol=0)
    mh.assert_close(on_z.coef_ / std, on_x.coef_, atol=1e-2, rtol=0)
    assert np.abs(on_x_same_c.coef_ - on_x.coef_).max() > 0.1
