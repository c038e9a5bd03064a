"""mh.fit's input route: the same weights as Keras' own fit, without tf.data's autotuning."""
import numpy as np
import pytest

import mnist_helpers as mh
from mnist_helpers import cnn, training


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def _trained(route, **fit_args):
    import keras

    x, y = _data()
    keras.utils.set_random_seed(0)
    model = cnn.build_keras_example_convnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if route == "keras":
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, **fit_args).history
    else:
        frame, _ = mh.fit(model, x, y, epochs=2, batch_size=64, quiet=True, **fit_args)
        history = {name: list(frame[name]) for name in frame}
    return model.get_weights(), history


@pytest.mark.parametrize("fit_args", [{}, {"validation_split": 0.25}, {"validation_data": _data(100, 1)}])
def test_fit_trains_the_weights_keras_fit_trains(fit_args):
    keras_weights, keras_history = _trained("keras", **fit_args)
    weights, history = _trained("mh", **fit_args)
    assert len(weights) == len(keras_weights)
    for ours, theirs in zip(weights, keras_weights):
        np.testing.assert_array_equal(ours, theirs)
    assert history.keys() == keras_history.keys()
    for name in history:
        np.testing.assert_allclose(history[name], keras_history[name], rtol=0, atol=1e-6, err_msg=name)


def test_array_inputs_go_through_a_pipeline_without_autotuning():
    x, y = _data(200)
    train, _, validation, batch_size, _ = training._steady_arrays(x, y, 32, (x[:50], y[:50]), {})
    assert batch_size is None  # the adapter batches
    dataset = train.get_tf_dataset()
    assert dataset.options().autotune.enabled is False
    assert validation.options().autotune.enabled is False
    assert [len(batch[0]) for batch in validation] == [32, 18]


def test_other_inputs_keep_keras_route():
    x, y = _data(100)
    weights = np.ones(len(y))
    route = training._steady_arrays(x, y, 32, None, {"sample_weight": weights})
    assert route[0] is x and route[3] == 32 and route[4] == {"sample_weight": weights}


@pytest.mark.parametrize("split, message", [(0.999, "leaves no training or no validation image of 100"),
                                            (1e-18, "leaves no training or no validation image of 100"),
                                            (1.5, "validation_split")])
def test_a_split_that_leaves_nothing_is_one_clear_error(split, message):
    x, y = _data(100)
    with pytest.raises(ValueError, match=message):
        training._steady_arrays(x, y, 32, None, {"validation_split": split})


def test_split_and_validation_data_together_is_an_error():
    x, y = _data(100)
    with pytest.raises(ValueError, match="not both"):
        training._steady_arrays(x, y, 32, (x, y), {"validation_split": 0.1})
