"""Standardization, PCA whitening and ZCA whitening in NumPy (chapter 3), with their references.

The NumPy functions work on flattened images, a 2-D floating-point array ``x`` of shape
``(n, d)`` (``d = 784`` for MNIST: ``mh.scale(images).reshape(len(images), -1)``). Statistics are
always *fitted* on training data and then *applied* to any data, as a model would be::

    mean, std = standardize_stats(x_train)           # per pixel
    z_val = standardize(x_val, mean, std)            # the same shift and scale for validation
    basis = pca_fit(x_train)
    w_val = pca_whiten(x_val, basis, n_components=100)

The reference implementations (``keras_standardize``, ``sklearn_pca_whiten``,
``sklearn_zca_whiten``) are what the notebook and the tests compare against with
``mh.assert_close``.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .checks import check_choice, check_float_array, check_integer, check_real

KERAS_EPSILON = 1e-7
"""``keras.config.epsilon()``: the floor ``keras.layers.Normalization`` puts under a standard deviation."""


# --------------------------------------------------------------------------- validation

# Every NumPy function here takes a feature matrix x of shape (n, d): finite floats, one row
# per flattened image. uint8 images are refused, not converted: converting them silently
# would hide a missing preprocessing step. Used as ``check_float_array(x, "x", **_FEATURES)``.
_FEATURES = dict(ndim=2, layout="(n, d)", min_rows=1, min_cols=1, finite=True,
                dtype_hint="; for uint8 images use mh.scale(images).reshape(len(images), -1)",
                shape_hint="; one row per example, e.g. x.reshape(len(x), -1)")


# --------------------------------------------------------------------------- standardization

def standardize_stats(x: np.ndarray, per_pixel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the training data, per pixel or over all pixels.

    Parameters
    ----------
    x : ndarray of float, shape (n, d)
        Training data.
    per_pixel : bool, default True
        True: one mean and one standard deviation per column (shape (d,)), as
        ``sklearn.preprocessing.StandardScaler`` and ``keras.layers.Normalization(axis=-1)``.
        False: one of each for the whole array (shape ()), as ``Normalization(axis=None)``.

    Returns
    -------
    mean, std : ndarray of float64, shape (d,) or ()
        The population standard deviation (divide by n, not n - 1), as both libraries use.
    """
    check_float_array(x, "x", **_FEATURES)
    # float64 accumulation: a float32 sum of 47 million pixels loses digits.
    x64 = x.astype(np.float64)
    axis = 0 if per_pixel else None
    return x64.mean(axis=axis), x64.std(axis=axis)


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, eps: float = KERAS_EPSILON) -> np.ndarray:
    """Shift and scale: ``(x - mean) / max(std, eps)``.

    Parameters
    ----------
    x : ndarray of float, shape (n, d)
    mean, std : ndarray of shape (d,) or ()
        From ``standardize_stats`` on the training data.
    eps : float > 0, default 1e-7 (Keras' ``epsilon()``)
        Floor under the standard deviation. MNIST has pixels that are 0 in every training image
        (std 0): without a floor they give 0/0 = NaN. ``keras.layers.Normalization`` uses this
        floor; scikit-learn's ``StandardScaler`` instead replaces a zero std by 1.

    Returns
    -------
    ndarray of shape (n, d), in the dtype of ``x``
    """
    check_float_array(x, "x", **_FEATURES)
    eps = check_real(eps, "eps", low=0, low_open=True, hint=" (a floor under the standard deviation)")
    mean, std = np.asarray(mean), np.asarray(std)
    d = x.shape[1]
    for label, value in (("mean", mean), ("std", std)):
        check_float_array(value, label, finite=True, dtype_hint="; pass what standardize_stats returns")
        if value.shape not in ((), (d,)):
            raise ValueError(f"{label} must have shape () or ({d},) to match x of shape {x.shape}, "
                             f"got {value.shape}")
    if (std < 0).any():
        raise ValueError("std must be >= 0 (it is a standard deviation), got negative values")
    return ((x - mean) / np.maximum(std, eps)).astype(x.dtype, copy=False)


def keras_standardize(x_fit: np.ndarray, x: np.ndarray, per_pixel: bool = True,
                      dtype: str = "float32") -> np.ndarray:
    """Reference: ``keras.layers.Normalization`` adapted on ``x_fit``, applied to ``x``.

    Parameters
    ----------
    x_fit : ndarray of float, shape (m, d)
        Training data for ``adapt``.
    x : ndarray of float, shape (n, d)
    per_pixel : bool
        ``axis=-1`` (one mean/variance per column) if True, ``axis=None`` (global) if False.
    dtype : {"float32", "float64"}
        The layer's dtype. In float32 the variance of a pixel inked in only a few images is
        accurate to about three digits; float64 allows a tight comparison.

    Returns
    -------
    ndarray of ``dtype``, shape (n, d)
    """
    from ._keras import keras  # the one import that sets oneDNN and the log level first

    check_float_array(x_fit, "x_fit", **_FEATURES)
    check_float_array(x, "x", **_FEATURES)
    check_choice(dtype, "dtype", ("float32", "float64"))
    layer = keras.layers.Normalization(axis=-1 if per_pixel else None, dtype=dtype)
    layer.adapt(x_fit.astype(dtype))
    return np.asarray(layer(x.astype(dtype)))


# --------------------------------------------------------------------------- PCA and whitening

class Eigenbasis(NamedTuple):
    """The eigen-decomposition of the training data's covariance matrix.

    Attributes
    ----------
    mean : ndarray of shape (d,)
        Per-column mean of the training data.
    variances : ndarray of shape (d,)
        Eigenvalues of the covariance (divided by n - 1), largest first: the variance of the
        data along each principal direction (scikit-learn's ``explained_variance_``). Values
        at round-off level (below largest * d * machine epsilon) are exactly 0.
    components : ndarray of shape (d, d)
        Unit eigenvectors as rows, in the same order (scikit-learn's ``components_``); each
        row's sign is arbitrary.
    """

    mean: np.ndarray
    variances: np.ndarray
    components: np.ndarray

    def explained_variance_ratio(self) -> np.ndarray:
        """Share of the total variance along each principal direction, shape (d,), summing to 1."""
        return self.variances / self.variances.sum()


def pca_fit(x: np.ndarray) -> Eigenbasis:
    """Principal directions of ``x`` from the eigen-decomposition of its covariance matrix.

    Parameters
    ----------
    x : ndarray of float, shape (n, d), n >= 2
        Training data.

    Returns
    -------
    Eigenbasis
        ``mean`` (d,), ``variances`` (d,) largest first, ``components`` (d, d) as rows.
    """
    check_float_array(x, "x", **{**_FEATURES, "min_rows": 2})  # a covariance needs two rows
    mean = x.mean(axis=0, dtype=np.float64)
    centred = x.astype(np.float64) - mean
    cov = centred.T @ centred / (len(x) - 1)
    # eigh: the covariance is symmetric, so its eigenvalues are real and its eigenvectors orthonormal.
    variances, vectors = np.linalg.eigh(cov)
    order = np.argsort(variances)[::-1]
    variances, vectors = variances[order], vectors[:, order]
    # A singular covariance (constant pixels) has zero eigenvalues that round-off turns into
    # +-1e-15; call them 0 below numpy.linalg.matrix_rank's threshold, so that whitening
    # refuses to divide by them instead of multiplying noise by 1e7.
    noise_level = variances[0] * cov.shape[0] * np.finfo(np.float64).eps
    variances = np.where(variances > noise_level, variances, 0.0)
    return Eigenbasis(mean, variances, vectors.T)


def _check_basis(basis: Eigenbasis, x: np.ndarray, n_components: Optional[int]) -> int:
    if not isinstance(basis, Eigenbasis):
        raise TypeError(f"basis must be an Eigenbasis from pca_fit, got {type(basis).__name__}")
    d = basis.components.shape[1]
    if x.shape[1] != d:
        raise ValueError(f"x has {x.shape[1]} columns but the basis was fitted on {d}")
    if n_components is None:
        return d
    return check_integer(n_components, "n_components", low=1, high=d, hint=f" (the basis has d={d} features)")


def _whitening_scales(basis: Eigenbasis, k: int, eps: float) -> np.ndarray:
    # 1 / sqrt(variance + eps): a direction of variance 0 cannot be scaled to variance 1.
    variances = basis.variances[:k] + eps
    if (variances <= 0).any():
        first = int(np.argmax(variances <= 0))
        raise ValueError(f"principal direction {first} has variance 0: keep fewer components "
                         f"(n_components <= {first}) or pass eps > 0")
    return 1.0 / np.sqrt(variances)


def pca_whiten(x: np.ndarray, basis: Eigenbasis, n_components: Optional[int] = None,
               eps: float = 0.0) -> np.ndarray:
    """PCA whitening: rotate onto the principal directions, keep ``k``, scale each to variance 1.

    ``z = (x - mean) @ U_k.T / sqrt(variances_k + eps)``; with ``eps=0`` the training data's
    ``z`` has the identity as covariance (scikit-learn's ``PCA(whiten=True).transform``).

    Parameters
    ----------
    x : ndarray of float, shape (n, d)
    basis : Eigenbasis
        From ``pca_fit`` on the training data.
    n_components : int in 1..d, optional
        How many leading directions to keep (all by default).
    eps : float >= 0, default 0
        Added to every variance before dividing, so that directions of (nearly) zero variance,
        which hold mostly noise, are not blown up to variance 1.

    Returns
    -------
    ndarray of float64, shape (n, n_components)
    """
    check_float_array(x, "x", **_FEATURES)
    k = _check_basis(basis, x, n_components)
    scales = _whitening_scales(basis, k, check_real(eps, "eps", low=0))
    return (x - basis.mean) @ basis.components[:k].T * scales


def zca_matrix(basis: Eigenbasis, n_components: Optional[int] = None, eps: float = 0.0) -> np.ndarray:
    """The ZCA whitening matrix ``W = U_k.T diag(1 / sqrt(variances_k + eps)) U_k``.

    Symmetric, and independent of the arbitrary signs of the eigenvectors.

    Returns
    -------
    ndarray of float64, shape (d, d)
    """
    if not isinstance(basis, Eigenbasis):
        raise TypeError(f"basis must be an Eigenbasis from pca_fit, got {type(basis).__name__}")
    probe = np.zeros((1, basis.components.shape[1]))
    k = _check_basis(basis, probe, n_components)
    scales = _whitening_scales(basis, k, check_real(eps, "eps", low=0))
    top = basis.components[:k]
    return top.T @ (scales[:, None] * top)


def zca_whiten(x: np.ndarray, basis: Eigenbasis, n_components: Optional[int] = None,
               eps: float = 0.0) -> np.ndarray:
    """ZCA whitening: PCA whitening rotated back to pixel space, ``(x - mean) @ W``.

    Of all whitening transforms, ZCA changes the data least (it stays as close as possible to
    ``x - mean``), so the output still looks like an image: its edges, amplified.

    Parameters
    ----------
    x : ndarray of float, shape (n, d)
    basis : Eigenbasis
        From ``pca_fit`` on the training data.
    n_components : int in 1..d, optional
    eps : float >= 0, default 0

    Returns
    -------
    ndarray of float64, shape (n, d)
    """
    check_float_array(x, "x", **_FEATURES)
    _check_basis(basis, x, n_components)
    return (x - basis.mean) @ zca_matrix(basis, n_components, eps)


def align_signs(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip columns of ``ours`` so that each points the same way as the same column of ``reference``.

    An eigenvector ``u`` and ``-u`` are equally valid, so two correct PCA implementations can
    disagree in the sign of any component. This removes that freedom and nothing else: a wrong
    scale or a wrong direction still shows.

    Parameters
    ----------
    ours, reference : ndarray of shape (n, k)

    Returns
    -------
    ndarray of shape (n, k)
    """
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.ndim != 2 or ours.shape != reference.shape:
        raise ValueError(f"ours and reference must be 2-D of the same shape, got {ours.shape} and {reference.shape}")
    signs = np.where(np.sum(ours * reference, axis=0) < 0, -1.0, 1.0)
    return ours * signs


def _sklearn_whitening_pca(x_fit: np.ndarray, x: np.ndarray, n_components: int):
    """``sklearn.decomposition.PCA(n_components, whiten=True)`` fitted on ``x_fit`` (inputs checked)."""
    from sklearn.decomposition import PCA

    check_float_array(x_fit, "x_fit", **{**_FEATURES, "min_rows": 2})
    check_float_array(x, "x", **_FEATURES)
    # float64 and the full SVD of the data: a different route from pca_fit's covariance eigh,
    # at full precision (scikit-learn keeps float32 input in float32).
    return PCA(n_components=n_components, whiten=True, svd_solver="full").fit(x_fit.astype(np.float64))


def sklearn_pca_whiten(x_fit: np.ndarray, x: np.ndarray, n_components: int) -> np.ndarray:
    """Reference: ``sklearn.decomposition.PCA(n_components, whiten=True)`` fitted on ``x_fit``, applied to ``x``.

    Returns
    -------
    ndarray of shape (n, n_components)
    """
    return _sklearn_whitening_pca(x_fit, x, n_components).transform(x.astype(np.float64))


def sklearn_zca_whiten(x_fit: np.ndarray, x: np.ndarray, n_components: int) -> np.ndarray:
    """Reference ZCA: scikit-learn's PCA-whitened data rotated back with ``components_``.

    Returns
    -------
    ndarray of shape (n, d)
    """
    pca = _sklearn_whitening_pca(x_fit, x, n_components)
    # Rotating back with components_ cancels the sign of each component: no alignment needed.
    return pca.transform(x.astype(np.float64)) @ pca.components_
