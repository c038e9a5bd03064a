"""The CNN builders, batch normalization in NumPy against Keras, the schedule and augmentation."""
import numpy as np
import pytest

import keras
import mnist_helpers as mh
from mnist_helpers import cnn


def _bn_layer(rng, channels=6):
    layer = keras.layers.BatchNormalization()
    layer.build((None, 4, 4, channels))
    weights = [rng.normal(size=channels), rng.normal(size=channels), rng.normal(size=channels),
               rng.uniform(0.5, 2, size=channels)]
    layer.set_weights([w.astype("float32") for w in weights])
    return layer, weights


def test_batch_norm_matches_keras():
    rng = np.random.default_rng(0)
    layer, (gamma, beta, mean, var) = _bn_layer(rng)
    x = rng.normal(size=(3, 4, 4, 6)).astype("float32")
    gap = mh.assert_close(cnn.batch_norm(x, gamma, beta, mean, var, layer.epsilon), layer(x, training=False),
                          atol=1e-5, name="batch norm")
    assert gap < 1e-5


def test_wrong_batch_norm_fails_the_check():
    """Forgetting epsilon, or dividing by the variance instead of its square root, is caught."""
    rng = np.random.default_rng(1)
    layer, (gamma, beta, mean, var) = _bn_layer(rng)
    x = rng.normal(size=(3, 4, 4, 6)).astype("float32")
    for wrong in (gamma * (x - mean) / np.sqrt(var) + beta, gamma * (x - mean) / (var + 1e-3) + beta):
        with pytest.raises(AssertionError, match="batch norm: NumPy and Keras differ"):
            mh.assert_close(wrong, layer(x, training=False), atol=1e-5, name="batch norm")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(x=np.ones((2, 3), dtype=np.int64)), TypeError, "x must be a float array, got dtype int64"),
    (dict(gamma=np.ones(4)), ValueError, r"gamma must have shape \(3,\) to match x's last axis, got \(4,\)"),
    (dict(variance=-np.ones(3)), ValueError, "variance must be non-negative"),
])
def test_batch_norm_bad_inputs(kwargs, error, message):
    args = dict(x=np.ones((2, 3)), gamma=np.ones(3), beta=np.zeros(3), mean=np.zeros(3), variance=np.ones(3))
    args.update(kwargs)
    with pytest.raises(error, match=message):
        cnn.batch_norm(**args)


@pytest.mark.parametrize("build, params", [
    (cnn.build_keras_example_convnet, 34826),  # the published figure of the Keras example
    (cnn.build_original_model, None),
    (cnn.build_final_cnn, None),
])
def test_models_take_raw_uint8_and_return_probabilities(build, params):
    model = build()
    if params is not None:
        assert model.count_params() == params
    probs = np.asarray(model.predict(np.zeros((3, 28, 28), np.uint8), verbose=0))
    assert probs.shape == (3, 10)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_augmentation_is_off_at_inference():
    model = cnn.build_final_cnn(seed=0)
    x = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_flip_layer_only_when_asked():
    kinds = {type(layer).__name__ for layer in cnn.build_original_model(horizontal_flip=True).layers}
    assert "RandomFlip" in kinds
    assert "RandomFlip" not in {type(layer).__name__ for layer in cnn.build_original_model().layers}


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation_degrees=90), r"rotation_degrees=90 is outside 0..45"),
    (dict(shift=-0.1), r"shift=-0.1 is outside 0..0.3"),
    (dict(zoom=0.5), r"zoom=0.5 is outside 0..0.3"),
])
def test_augmentation_refuses_digit_breaking_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.build_augmentation(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dropout=1.0), r"dropout=1.0 must be in \[0, 1\)"),
    (dict(filters=(8, 16)), r"filters=\(8, 16\) must be three positive integers"),
])
def test_final_cnn_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.build_final_cnn(**kwargs)


def test_one_cycle_schedule_warms_up_then_decays():
    schedule = cnn.one_cycle_schedule(epochs=10, steps_per_epoch=100, max_lr=3e-3)
    rates = np.array([float(schedule(step)) for step in range(0, 1000, 10)])
    peak = rates.argmax()
    assert rates[0] == pytest.approx(3e-4, rel=1e-3)
    assert rates.max() == pytest.approx(3e-3, rel=1e-2)
    assert 15 <= peak <= 25  # 20% of the steps
    assert np.all(np.diff(rates[: peak + 1]) >= 0) and np.all(np.diff(rates[peak:]) <= 0)
    assert rates[-1] < 1e-4


def test_train_final_cnn_runs_and_learns():
    (x, y), _ = mh.load_mnist(download=False)
    model, history, seconds = cnn.train_final_cnn(x[:1000], y[:1000], (x[1000:1500], y[1000:1500]),
                                                  epochs=2, quiet=True, filters=(8, 16, 16), dense_units=32)
    assert list(history.index) == [1, 2] and seconds > 0
    # Training metrics use the batch's own statistics, so they show learning even when two
    # short epochs leave batch normalization's moving averages unsettled.
    assert history["loss"].iloc[1] < history["loss"].iloc[0]
    assert history["accuracy"].iloc[-1] > 0.2  # twice chance (0.1) after 16 small steps


def test_native_tensorflow_noise_is_filtered_but_other_stderr_passes():
    import subprocess
    import sys

    code = ("import os, time, mnist_helpers\n"
            "os.write(2, b'E0000 00:00:1795593247.791395   27416 node_def_util.cc:682] NodeDef mentions x\\n')\n"
            "os.write(2, b'W0000 00:00:1.1   1 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
            "os.write(2, b'E0000 00:00:1.1   1 some_real_problem.cc:12] disk full\\n')\n"
            "os.write(2, b'plain message\\n'); time.sleep(0.3)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "node_def_util" not in result.stderr and "cudart_stub" not in result.stderr
    assert "some_real_problem.cc:12] disk full" in result.stderr and "plain message" in result.stderr
