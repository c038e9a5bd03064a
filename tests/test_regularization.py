"""Inverted dropout against keras.layers.Dropout, wrong dropouts caught, the gap table, bad inputs."""
import numpy as np
import pandas as pd
import pytest

import mnist_helpers as mh
from mnist_helpers import regularization as reg


@pytest.fixture(scope="module")
def x():
    """Activations with no zeros, so Keras' mask can be read off its output."""
    return np.random.default_rng(0).uniform(0.5, 1.5, size=(200, 16)).astype(np.float32)


# ------------------------------------------------------------------ the checks the notebook makes

def check_training(dropout_fn, x, rate, seed=1):
    """Chapter 8's training-mode check: our function with Keras' own mask reproduces Keras' output."""
    theirs = reg.keras_dropout(x, rate, training=True, seed=seed)
    mask = reg.keep_mask_from_output(x, theirs)
    mh.assert_close(dropout_fn(x, rate, training=True, mask=mask), theirs, atol=1e-6, rtol=1e-6, name="training")


def check_inference(dropout_fn, x, rate):
    """Chapter 8's inference-mode check: both are the identity."""
    theirs = reg.keras_dropout(x, rate, training=False)
    mh.assert_close(dropout_fn(x, rate, training=False), theirs, atol=0, rtol=0, name="inference")


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.8])
def test_numpy_dropout_matches_keras(x, rate):
    check_training(reg.dropout, x, rate)
    check_inference(reg.dropout, x, rate)
    theirs = reg.keras_dropout(x, rate, training=True, seed=3)
    kept = theirs != 0
    mh.assert_close(x[kept] / (1 - rate), theirs[kept], atol=0, rtol=1e-6)
    # The share dropped is the rate, within 5 binomial standard deviations.
    assert abs((~kept).mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / x.size)


def test_keras_rate_zero_and_dtype(x):
    assert np.array_equal(reg.keras_dropout(x, 0.0, training=True), x)
    assert reg.keras_dropout(x.astype(np.float64), 0.5, training=True).dtype == np.float64
    assert reg.dropout(x.astype(np.float64), 0.5, training=True, rng=np.random.default_rng(0)).dtype == np.float64


def test_mean_is_preserved_in_expectation():
    rate, n = 0.5, 20000
    x = np.linspace(0.5, 1.5, 8, dtype=np.float32)
    tiled = np.tile(x, (n, 1))
    tolerance = 5 * np.sqrt(rate / (1 - rate) / n)  # 5 standard errors, relative
    mh.assert_close(reg.keras_dropout(tiled, rate, training=True).mean(axis=0), x, atol=0, rtol=tolerance)
    ours = reg.dropout(tiled, rate, training=True, rng=np.random.default_rng(0))
    mh.assert_close(ours.mean(axis=0), x, atol=0, rtol=tolerance)


def test_rng_mask_and_broadcast_mask(x):
    mask = reg.dropout_mask(x.shape, 0.5, np.random.default_rng(0))
    assert mask.dtype == np.bool_ and mask.shape == x.shape
    assert np.array_equal(reg.dropout(x, 0.5, training=True, rng=np.random.default_rng(0)),
                          reg.dropout(x, 0.5, training=True, mask=mask))
    rows = np.array([[True], [False]] * 100)  # shape (200, 1): whole rows dropped, like noise_shape
    y = reg.dropout(x, 0.5, training=True, mask=rows)
    assert (y[1::2] == 0).all() and np.allclose(y[::2], 2 * x[::2])
    assert reg.dropout(x, 0.0, training=True) is x
    assert reg.dropout(x, 0.5, training=False) is x


# ------------------------------------------------------------------ wrong dropouts fail the same checks

def dropout_not_inverted(x, rate, *, training, mask=None):
    """Old-style dropout in training: no 1 / (1 - rate) scaling."""
    return np.where(mask, x, 0).astype(x.dtype) if training else x


def dropout_scaled_by_rate(x, rate, *, training, mask=None):
    """Confuses the drop rate with the keep probability."""
    return np.where(mask, x / rate, 0).astype(x.dtype) if training else x


def dropout_scaled_at_inference(x, rate, *, training, mask=None):
    """Original (2014) dropout: no scaling in training, multiply by the keep probability at inference."""
    return np.where(mask, x, 0).astype(x.dtype) if training else x * (1 - rate)


def dropout_own_mask(x, rate, *, training, mask=None):
    """Right formula, but draws its own mask instead of using the one it is given."""
    return reg.dropout(x, rate, training=training, rng=np.random.default_rng(7))


@pytest.mark.parametrize("wrong", [dropout_not_inverted, dropout_scaled_by_rate, dropout_own_mask])
def test_wrong_training_dropout_fails(x, wrong):
    with pytest.raises(AssertionError, match="NumPy and Keras differ"):
        check_training(wrong, x, 0.25)


def test_scaling_at_inference_fails(x):
    with pytest.raises(AssertionError, match="inference: NumPy and Keras differ"):
        check_inference(dropout_scaled_at_inference, x, 0.25)


# ------------------------------------------------------------------ generalization gap table

def history(train, val, val_loss):
    frame = pd.DataFrame({"accuracy": train, "val_accuracy": val, "val_loss": val_loss, "loss": val_loss})
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def test_generalization_gap_table():
    table = reg.generalization_gap({"a": history([0.8, 0.9, 1.0], [0.7, 0.85, 0.8], [0.5, 0.3, 0.4]),
                                    "b": history([0.6, 0.7], [0.6, 0.65], [0.6, 0.5])})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "gap"] == pytest.approx(0.2) and table.loc["b", "gap"] == pytest.approx(0.05)
    assert table.loc["a", "best validation"] == 0.85 and table.loc["a", "best epoch"] == 2
    assert table.loc["a", "val loss min epoch"] == 2 and table.loc["b", "val loss min epoch"] == 2
    assert table["best epoch"].dtype == int


def test_generalization_gap_bad_inputs():
    with pytest.raises(ValueError, match="non-empty dict"):
        reg.generalization_gap({})
    with pytest.raises(TypeError, match=r"histories\['a'\] must be a DataFrame, got list"):
        reg.generalization_gap({"a": [0.9]})
    with pytest.raises(ValueError, match=r"lacks columns \['val_accuracy'\]"):
        reg.generalization_gap({"a": pd.DataFrame({"accuracy": [1.0], "val_loss": [0.1]})})
    with pytest.raises(ValueError, match="higher-is-better"):
        reg.generalization_gap({"a": history([1.0], [1.0], [0.1])}, metric="loss")


# ------------------------------------------------------------------ bad inputs

def test_numpy_scalars_are_accepted_as_rate_seed_and_shape(x):
    # e.g. rate = np.float32(0.25) from a float32 grid of rates, seed = np.int64(1).
    rng = np.random.default_rng
    np.testing.assert_array_equal(reg.dropout_mask((np.int64(4), 3), np.float32(0.25), rng(0)),
                                  reg.dropout_mask((4, 3), float(np.float32(0.25)), rng(0)))
    mask = reg.dropout_mask(x.shape, 0.5, rng(0))
    np.testing.assert_array_equal(reg.dropout(x, np.float32(0.5), training=True, mask=mask),
                                  reg.dropout(x, 0.5, training=True, mask=mask))
    np.testing.assert_array_equal(reg.keras_dropout(x, np.float32(0.5), training=True, seed=np.int64(1)),
                                  reg.keras_dropout(x, 0.5, training=True, seed=1))


def test_bad_inputs_raise_clear_errors(x):
    with pytest.raises(TypeError, match="x must be a NumPy array, got list"):
        reg.dropout([1.0, 2.0], 0.5, training=False)
    with pytest.raises(TypeError, match="x must have a floating dtype.*uint8"):
        reg.dropout(np.ones((2, 3), np.uint8), 0.5, training=True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"rate=1.0 must be in \[0, 1\) \(the probability that an input is dropped\)"):
        reg.dropout(x, 1.0, training=True, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rate must be a real number, got str"):
        reg.dropout(x, "0.5", training=True)
    with pytest.raises(TypeError, match="training must be True or False, got 1"):
        reg.dropout(x, 0.5, training=1)
    with pytest.raises(ValueError, match="needs a keep-mask"):
        reg.dropout(x, 0.5, training=True)
    with pytest.raises(ValueError, match="either mask or rng, not both"):
        reg.dropout(x, 0.5, training=True, mask=x > 1, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"mask must have a boolean dtype \(True = kept\), got float32"):
        reg.dropout(x, 0.5, training=True, mask=x)
    with pytest.raises(ValueError, match=r"mask has shape \(3,\), which does not broadcast to x's shape \(200, 16\)"):
        reg.dropout(x, 0.5, training=True, mask=np.ones(3, bool))
    with pytest.raises(ValueError, match=r"mask has shape \(2, 200, 16\), which does not broadcast"):
        reg.dropout(x, 0.5, training=True, mask=np.ones((2, 200, 16), bool))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator.*got int"):
        reg.dropout_mask((2, 3), 0.5, 0)
    with pytest.raises(ValueError, match=r"shape=\[2, 3\] must be a tuple"):
        reg.dropout_mask([2, 3], 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"shape\[1\]=-3 must be in \[0, inf\)"):
        reg.dropout_mask((2, -3), 0.5, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"shape\[0\] must be an integer, got bool"):
        reg.dropout_mask((True, 3), 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="x has 1 zero entries"):
        reg.keep_mask_from_output(np.array([0.0, 1.0], np.float32), np.array([0.0, 2.0], np.float32))
    with pytest.raises(ValueError, match=r"x has shape \(200, 16\) but y has shape \(16,\)"):
        reg.keep_mask_from_output(x, x[0])
    with pytest.raises(TypeError, match="y must have a floating dtype.*int64"):
        reg.keep_mask_from_output(x, x.astype(np.int64))
    with pytest.raises(ValueError, match=r"rate=-0.1"):
        reg.keras_dropout(x, -0.1, training=True)
