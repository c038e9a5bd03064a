"""The CNN builders, batch normalization in NumPy against Keras, the schedule and augmentation."""
import re

import keras
import numpy as np
import pytest

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


@pytest.mark.parametrize("momentum", [cnn.BN_MOMENTUM, 0.99])
def test_batch_norm_training_step_matches_keras(momentum):
    """Batch statistics, the output, and the moving mean/variance update, against one Keras step."""
    rng = np.random.default_rng(2)
    layer = keras.layers.BatchNormalization(momentum=momentum)
    layer.build((None, 4, 4, 6))
    gamma, beta, moving_mean, moving_var = (w.astype("float32") for w in (
        rng.normal(size=6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, size=6)))
    layer.set_weights([gamma, beta, moving_mean, moving_var])
    x = rng.normal(2.0, 3.0, size=(8, 4, 4, 6)).astype("float32")
    y, new_mean, new_var = cnn.batch_norm_train(x, gamma, beta, moving_mean, moving_var, momentum, layer.epsilon)
    mh.assert_close(y, layer(x, training=True), atol=1e-5, name="batch norm, training output")
    keras_mean, keras_var = (np.asarray(v) for v in (layer.moving_mean, layer.moving_variance))
    mh.assert_close(new_mean, keras_mean, atol=1e-6, name="moving mean")
    mh.assert_close(new_var, keras_var, atol=1e-5, name="moving variance")
    # Dividing by n - 1 (the unbiased variance) is a different update, and the check sees it.
    unbiased = momentum * moving_var + (1 - momentum) * x.var(axis=(0, 1, 2), ddof=1)
    with pytest.raises(AssertionError, match="moving variance"):
        mh.assert_close(unbiased, keras_var, atol=1e-5, name="moving variance")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(x=np.ones(3)), ValueError, r"x must have at least 2 dimension\(s\), got shape \(3,\)"),
    (dict(moving_mean=np.ones(4)), ValueError, r"moving_mean must have shape \(3,\)"),
    (dict(momentum=1.0), ValueError, r"momentum=1.0 must be in \[0, 1\)"),
    (dict(momentum=np.float32(0.9)), None, None),
])
def test_batch_norm_train_inputs(kwargs, error, message):
    args = dict(x=np.ones((2, 3)), gamma=np.ones(3), beta=np.zeros(3), moving_mean=np.zeros(3),
                moving_variance=np.ones(3))
    args.update(kwargs)
    if error is None:
        cnn.batch_norm_train(**args)
    else:
        with pytest.raises(error, match=message):
            cnn.batch_norm_train(**args)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(x=np.ones((2, 3), dtype=np.int64)), TypeError, "x must have a floating dtype"),
    (dict(x=[[1.0, 2.0, 3.0]]), TypeError, "x must be"),
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


@pytest.mark.parametrize("build", [
    cnn.build_keras_example_convnet, lambda: cnn.build_original_model(horizontal_flip=True), cnn.build_final_cnn,
    lambda: cnn.build_final_cnn(batch_norm=False), cnn.build_speed_cnn, cnn.build_augmentation,
])
def test_every_layer_has_a_name_that_says_what_it_is(build):
    """No Keras default names ("conv2d_6"): a summary, a saved model and the web export read better."""
    model = build()
    names = [layer.name for layer in model.layers] + [sub.name for layer in model.layers
                                                       for sub in getattr(layer, "layers", [])]
    defaults = [name for name in names if re.fullmatch(rf"({'|'.join(KERAS_DEFAULT_NAMES)})(_\d+)?", name)
                or re.fullmatch(r"(flatten|dropout)_\d+", name)]
    assert not defaults, f"layers with Keras' default names: {defaults}"


# Names that say only a layer's type (a lone "flatten" or "dropout" says all there is to say).
KERAS_DEFAULT_NAMES = ("conv2d", "dense", "batch_normalization", "activation", "max_pooling2d", "reshape",
                       "rescaling", "random_flip", "random_rotation", "random_translation", "random_zoom",
                       "input_layer", "sequential")


def test_augmentation_is_off_at_inference():
    model = cnn.build_final_cnn(seed=0)
    x = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_flip_layer_only_when_asked():
    kinds = {type(layer).__name__ for layer in cnn.build_original_model(horizontal_flip=True).layers}
    assert "RandomFlip" in kinds
    assert "RandomFlip" not in {type(layer).__name__ for layer in cnn.build_original_model().layers}


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation_degrees=90), r"rotation_degrees=90.0 must be in \[0, 45\]: larger changes turn digits"),
    (dict(shift=-0.1), r"shift=-0.1 must be in \[0, 0.3\]"),
    (dict(zoom=0.5), r"zoom=0.5 must be in \[0, 0.3\]"),
])
def test_augmentation_refuses_digit_breaking_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.build_augmentation(**kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(dropout=1.0), ValueError, r"dropout=1.0 must be in \[0, 1\) \(the probability that an input is dropped\)"),
    (dict(filters=(8, 16)), ValueError, r"filters=\(8, 16\) must hold exactly 3 integer\(s\), got 2"),
    (dict(filters=(8, 16, 0)), ValueError, r"filters\[2\]=0 must be in \[1, inf\)"),
    (dict(filters=(8, 16, 16.0)), TypeError, r"filters\[2\] must be an integer, got float"),
    (dict(seed=0.5), TypeError, "seed must be an integer, got float"),
])
def test_final_cnn_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        cnn.build_final_cnn(**kwargs)


def test_numpy_scalars_are_accepted_by_the_builders_and_the_schedule():
    # Keras itself refuses np.int64 seeds and window sizes: the builders hand it Python numbers.
    model = cnn.build_final_cnn(np.array([8, 16, 16]), np.int64(32), np.float32(0.25), seed=np.int64(3))
    assert model.count_params() == cnn.build_final_cnn((8, 16, 16), 32, 0.25, seed=3).count_params()
    flipped = cnn.build_original_model(horizontal_flip=True, seed=np.int64(1))
    assert flipped.count_params() == cnn.build_original_model(horizontal_flip=True, seed=1).count_params() > 0
    assert len(cnn.build_augmentation(np.float64(5), np.float32(0.1), zoom=np.float64(0.1), seed=np.int64(2)).layers) == 3
    assert cnn.steps_per_epoch(np.int64(60000), np.int64(128)) == 469
    schedule = cnn.warmup_cosine_schedule(np.int64(10), np.int64(100), np.float32(3e-3))
    assert float(schedule(0)) == pytest.approx(3e-4, rel=1e-3)
    with pytest.raises(ValueError, match=r"batch_size=0 must be in \[1, inf\)"):
        cnn.steps_per_epoch(100, 0)
    with pytest.raises(ValueError, match=r"warmup_fraction=1.0 must be in \[0, 1\)"):
        cnn.warmup_cosine_schedule(10, 100, warmup_fraction=1.0)


def test_fit_takes_numpy_integers_and_checks_them():
    model = mh.models.build_dense((4,), input_shape=(3,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.zeros((16, 3), np.float32), np.zeros(16, np.uint8)
    history, _ = mh.fit(model, x, y, epochs=np.int64(2), batch_size=np.int64(8), quiet=True)
    assert list(history.index) == [1, 2]
    with pytest.raises(TypeError, match="epochs must be an integer, got float 2.0"):
        mh.fit(model, x, y, epochs=2.0)
    with pytest.raises(ValueError, match=r"every=0 must be in \[1, inf\)"):
        mh.fit(model, x, y, epochs=1, log_every=0)


def test_warmup_cosine_schedule_warms_up_then_decays():
    schedule = cnn.warmup_cosine_schedule(epochs=10, steps_per_epoch=100, max_lr=3e-3)
    rates = np.array([float(schedule(step)) for step in range(0, 1000, 10)])
    peak = rates.argmax()
    assert rates[0] == pytest.approx(3e-4, rel=1e-3)
    assert rates.max() == pytest.approx(3e-3, rel=1e-2)
    assert 15 <= peak <= 25  # 20% of the steps
    assert np.all(np.diff(rates[: peak + 1]) >= 0) and np.all(np.diff(rates[peak:]) <= 0)
    assert rates[-1] < 1e-4


@pytest.mark.parametrize("epochs, steps, fraction", [(10, 100, 0.2), (3, 7, 0.0), (1, 2, 0.5), (20, 430, 0.2),
                                                     (1, 1, 0.2)])  # one step: a tiny train.csv
def test_the_numpy_schedule_is_keras_schedule_at_every_step(epochs, steps, fraction):
    keras_schedule = cnn.warmup_cosine_schedule(epochs, steps, max_lr=3e-3, warmup_fraction=fraction)
    every_step = np.arange(epochs * steps + 3)  # and past the end, where both stay at the last step's 0
    numpy_rates = cnn.warmup_cosine_lr(every_step, epochs=epochs, steps_per_epoch=steps, max_lr=3e-3,
                                       warmup_fraction=fraction)
    keras_rates = np.array([float(keras_schedule(step)) for step in every_step])
    np.testing.assert_allclose(numpy_rates, keras_rates, rtol=1e-6, atol=1e-10)  # float32 in Keras
    assert numpy_rates[0] == pytest.approx(3e-4) and numpy_rates[-1] == 0
    # A schedule one step off (the step after, or the warm-up rounded up) fails the same check.
    assert not np.allclose(cnn.warmup_cosine_lr(every_step + 1, epochs=epochs, steps_per_epoch=steps,
                                                warmup_fraction=fraction), keras_rates, rtol=1e-6, atol=1e-10)


def test_the_numpy_schedule_refuses_steps_that_are_not_counts():
    with pytest.raises(ValueError, match="whole numbers of updates"):
        cnn.warmup_cosine_lr([0, 1.5], epochs=2, steps_per_epoch=10)
    with pytest.raises(ValueError, match="whole numbers of updates"):
        cnn.warmup_cosine_lr(-1, epochs=2, steps_per_epoch=10)


def test_train_final_cnn_runs_and_learns():
    (x, y), _ = mh.load_mnist()
    model, history, seconds = cnn.train_final_cnn(x[:1000], y[:1000], (x[1000:1500], y[1000:1500]),
                                                  epochs=2, quiet=True, filters=(8, 16, 16), dense_units=32)
    assert list(history.index) == [1, 2] and seconds > 0
    # Training metrics use the batch's own statistics, so they show learning even when two
    # short epochs leave batch normalization's moving averages unsettled.
    assert history["loss"].iloc[1] < history["loss"].iloc[0]
    assert history["accuracy"].iloc[-1] > 0.2  # twice chance (0.1) after 16 small steps


def test_speed_cnn_and_accuracy_curve():
    """The speed run's network trains, and the curve's clock excludes its own evaluation."""
    import time

    from mnist_helpers.training import AccuracyCurve

    (x, y), _ = mh.load_mnist()
    keras.utils.set_random_seed(0)
    model = cnn.build_speed_cnn(filters=(8, 16))
    assert model.output_shape == (None, 10)

    class SlowCurve(AccuracyCurve):
        def score(self):
            time.sleep(0.5)  # a slow evaluation, which must stay off the training clock
            return super().score()

    curve = SlowCurve(x[2000:2500], y[2000:2500], per_epoch=2)
    _, history, seconds = cnn.train_with_schedule(model, x[:2000], y[:2000], epochs=2, batch_size=128,
                                                  max_lr=1e-2, quiet=True, callbacks=[curve])
    # 16 steps per epoch, evaluated after step 8 and at the end of each epoch
    assert curve.epochs == [0.5, 1.0, 1.5, 2.0] and len(curve.seconds) == len(curve.accuracy) == 4
    assert curve.evaluation_seconds >= 4 * 0.5  # fit's own time counts it: the benchmark subtracts it
    assert curve.seconds == sorted(curve.seconds) and curve.seconds[-1] <= seconds - curve.evaluation_seconds
    assert len(curve.epoch_seconds) == 2 and sum(curve.epoch_seconds) == pytest.approx(curve.seconds[-1])
    assert curve.accuracy[-1] > 0.5  # far above chance (0.1) after 32 steps
    assert curve.seconds_to_reach(0.0) == curve.seconds[0] and curve.seconds_to_reach(1.01) is None


def test_accuracy_curve_sustained_time_ignores_a_crossing_that_dips_again():
    from mnist_helpers.training import AccuracyCurve

    curve = AccuracyCurve(np.zeros((1, 28, 28), "uint8"), np.zeros(1, int))
    curve.seconds, curve.accuracy = [10.0, 20.0, 30.0, 40.0], [0.991, 0.975, 0.992, 0.993]
    assert curve.seconds_to_reach(0.99) == 10.0  # the first crossing
    assert curve.seconds_to_sustain(0.99) == 30.0  # from here on it stays above
    assert curve.seconds_to_sustain(0.9925) == 40.0 and curve.seconds_to_sustain(0.995) is None
    curve.accuracy = [0.991, 0.995, 0.999, 0.98]
    assert curve.seconds_to_reach(0.99) == 10.0 and curve.seconds_to_sustain(0.99) is None  # ends below


def test_ablation_switches_change_the_network():
    full = cnn.build_final_cnn()
    no_bn = cnn.build_final_cnn(batch_norm=False)
    small_window = cnn.build_final_cnn(first_kernel=3)
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert kinds(full).count("BatchNormalization") == 5 and "BatchNormalization" not in kinds(no_bn)
    first_conv = lambda model: next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))  # noqa: E731
    assert first_conv(full).kernel_size == (5, 5) and first_conv(small_window).kernel_size == (3, 3)
    with pytest.raises(ValueError, match="first_kernel=9 must be in"):
        cnn.build_final_cnn(first_kernel=9)


def test_constant_learning_rate_ablation():
    (x, y), _ = mh.load_mnist()
    model, _, _ = cnn.train_final_cnn(x[:256], y[:256], epochs=1, quiet=True, constant_lr=1e-3,
                                      filters=(4, 4, 4), dense_units=8)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="constant_lr=-1.0 must be in"):
        cnn.train_final_cnn(x[:256], y[:256], epochs=1, quiet=True, constant_lr=-1.0)
