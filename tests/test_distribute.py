"""Data-parallel training: one MirroredStrategy step over two devices equals one step on one device.

The devices are two logical CPUs, which TensorFlow can only make before it initializes, so the
training runs in a fresh interpreter (other tests start TensorFlow in this process). The script
prints one JSON line of measurements; the tests below judge them.
"""
import json
import os
import subprocess
import sys

import pytest

TOLERANCE = 1e-5
"""Largest allowed gap in the loss and in any weight after the step. Both sides run the same float32
arithmetic except the order of the final sums (two halves added, against one whole batch), which
moves the last bits only: ~1e-7 here."""

SCRIPT = r'''
import json

import numpy as np

from mnist_helpers.config import quiet_tensorflow_import

keras = quiet_tensorflow_import()  # imports TensorFlow, but does not initialize its devices
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
devices = [device.name for device in tf.config.list_logical_devices("CPU")]
strategy = tf.distribute.MirroredStrategy(devices)
out = {"devices": devices, "replicas": strategy.num_replicas_in_sync}

# One global batch of 16 whose two halves (one per replica) have different statistics.
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
x[8:] = 3 * x[8:] + 1
y = rng.integers(0, 3, size=16)


def build(synchronized):
    """No random layers; batch norm synchronized across replicas (or not, to show the difference)."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, use_bias=False)(inputs)
    h = keras.layers.BatchNormalization(synchronized=synchronized, momentum=0.9)(h)
    h = keras.layers.Activation("relu")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def one_step(model):
    """One SGD step on the whole batch; the loss before the step and every weight after it."""
    loss = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return loss, model.get_weights()


for synchronized in (True, False):
    keras.utils.set_random_seed(0)
    single = build(synchronized)
    start = single.get_weights()
    with strategy.scope():
        mirrored = build(synchronized)
    mirrored.set_weights(start)  # the same starting point
    loss_single, after_single = one_step(single)
    loss_mirrored, after_mirrored = one_step(mirrored)
    out["synchronized" if synchronized else "per_replica"] = {
        "loss_single": loss_single, "loss_mirrored": loss_mirrored,
        "loss_gap": abs(loss_single - loss_mirrored),
        "weight_gap": max(float(np.abs(a - b).max()) for a, b in zip(after_single, after_mirrored)),
        "step_size": max(float(np.abs(a - b).max()) for a, b in zip(after_single, start)),
    }

# The package's entry point, one tiny step on a few dozen images: it must run and return a
# model tied to the strategy (augmentation and per-replica batch norm make its numbers differ).
from mnist_helpers import cnn

images = rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8)
labels = rng.integers(0, 10, size=32)
model, history, seconds = cnn.train_final_cnn(images, labels, (images[:8], labels[:8]), epochs=1, batch_size=16,
                                              filters=(4, 4, 4), dense_units=8, quiet=True, strategy=strategy)
out["final_cnn"] = {"tied_to_strategy": model.distribute_strategy is strategy, "epochs": len(history),
                    "columns": sorted(history.columns), "loss": float(history["loss"].iloc[0]),
                    "predict_shape": list(model.predict(images[:4], verbose=0).shape)}

# A model built outside the scope cannot be trained with the strategy: one clear error.
try:
    cnn.train_with_schedule(cnn.build_speed_cnn(filters=(2, 2)), images, labels, epochs=1, batch_size=16,
                            quiet=True, strategy=strategy)
    out["outside_scope_error"] = None
except ValueError as exc:
    out["outside_scope_error"] = str(exc)
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def run():
    """The script's measurements, from a fresh interpreter that sees no GPU."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the same CPU arithmetic on a GPU machine too
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or len(lines) != 1:
        pytest.fail(f"the two-device script failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n"
                    f"{result.stderr[-5000:]}")
    return json.loads(lines[0].removeprefix("RESULT "))


def test_two_logical_devices(run):
    assert run["replicas"] == 2, run["devices"]


def test_mirrored_step_matches_one_device(run):
    step = run["synchronized"]
    print(f"loss gap {step['loss_gap']:.3g}, largest weight gap {step['weight_gap']:.3g} "
          f"(tolerance {TOLERANCE:g}; the step moved a weight by up to {step['step_size']:.3g})")
    assert step["step_size"] > 100 * TOLERANCE, "the step barely moved the weights: the comparison shows nothing"
    assert step["loss_gap"] <= TOLERANCE, step
    assert step["weight_gap"] <= TOLERANCE, step


def test_per_replica_batch_norm_differs_by_design(run):
    # Each replica normalizes by its own half of the batch, whose statistics differ from the
    # whole batch's: the same comparison must see it, far outside the tolerance.
    step = run["per_replica"]
    print(f"unsynchronized batch norm: loss gap {step['loss_gap']:.3g}, largest weight gap {step['weight_gap']:.3g}")
    assert step["weight_gap"] > 100 * TOLERANCE, step


def test_train_final_cnn_runs_under_a_strategy(run):
    final = run["final_cnn"]
    assert final["tied_to_strategy"]
    assert final["epochs"] == 1 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(final["columns"])
    assert 0 < final["loss"] < 10, final  # finite, near ln(10) for an untrained 10-class network
    assert final["predict_shape"] == [4, 10]


def test_model_built_outside_the_scope_is_refused(run):
    message = run["outside_scope_error"]
    assert message is not None, "train_with_schedule accepted a model built outside strategy.scope()"
    assert "not built in strategy.scope()" in message and "\n" not in message


@pytest.mark.parametrize("strategy", ["mirrored", 2, object()])
def test_strategy_that_is_not_one_is_refused(strategy):
    import numpy as np

    from mnist_helpers import cnn

    images, labels = np.zeros((4, 28, 28), np.uint8), np.zeros(4, int)
    with pytest.raises(TypeError, match=r"^strategy must be a tf.distribute strategy .* got \w+$"):
        cnn.train_final_cnn(images, labels, epochs=1, batch_size=4, quiet=True, strategy=strategy)
