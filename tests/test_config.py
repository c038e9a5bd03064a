"""The package's set-up: nothing happens at import, TensorFlow starts quietly, and nothing a
reader needs to see (a crash's traceback, a warning) is lost."""
import os
import subprocess
import sys

import pytest

import mnist_helpers as mh
from mnist_helpers import config

NOISE = b"I0000 00:00:1795649624.855197    6011 cudart_stub.cc:31] Could not find cuda drivers\n"
REAL = b"E0000 00:00:1.1   1 some_real_problem.cc:12] disk full\n"


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, as a reader's script would run."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_filter_drops_only_the_noise_and_restores_fd2(capfd):
    before = os.fstat(2).st_ino
    with config.native_stderr_filtered():
        os.write(2, NOISE)
        os.write(2, REAL)
        os.write(2, b"no newline at the end")
    assert os.fstat(2).st_ino == before
    err = capfd.readouterr().err
    assert "cudart_stub" not in err
    assert "some_real_problem.cc:12] disk full" in err and err.endswith("no newline at the end")


def test_filter_writes_back_and_restores_when_the_block_raises(capfd):
    before = os.fstat(2).st_ino
    with pytest.raises(RuntimeError, match="inside"):
        with config.native_stderr_filtered():
            os.write(2, b"written before the error\n")
            raise RuntimeError("inside")
    assert os.fstat(2).st_ino == before
    assert "written before the error" in capfd.readouterr().err


def test_import_does_nothing():
    result = run_python("import os, sys\n"
                        "fd2 = os.fstat(2).st_ino\n"
                        "import mnist_helpers as mh\n"
                        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'matplotlib', 'pandas') if m in sys.modules]\n"
                        "assert not heavy, heavy\n"
                        "assert os.fstat(2).st_ino == fd2, 'file descriptor 2 was re-routed'\n"
                        "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ\n"
                        "print(mh.load_mnist.__module__, mh.cnn.__name__)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mnist_helpers.data", "mnist_helpers.cnn"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'lod_mnist'"):
        mh.lod_mnist  # noqa: B018


def test_top_level_names_all_resolve():
    for name in mh.__all__:
        assert getattr(mh, name) is not None, name


def test_crash_after_setup_shows_its_whole_traceback_and_no_noise():
    # No sleep: nothing buffers stderr in another thread, so the traceback is there at exit.
    result = run_python("import mnist_helpers as mh\n"
                        "mh.setup_book()\n"
                        "def inner():\n"
                        "    raise RuntimeError('boom from the reader')\n"
                        "inner()\n")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr[:500]
    assert "in inner" in result.stderr and result.stderr.rstrip().endswith("RuntimeError: boom from the reader")
    assert "cudart_stub" not in result.stderr and "cpu_feature_guard" not in result.stderr


def test_tensorflow_python_warnings_still_reach_the_reader():
    result = run_python("import mnist_helpers as mh\n"
                        "mh.setup_book()\n"
                        "import tensorflow as tf\n"
                        "tf.get_logger().warning('a warning from TensorFlow\\'s Python side')\n"
                        "import keras\n"
                        "keras.layers.Dense(2, input_shape=(3,))\n")
    assert result.returncode == 0, result.stderr
    assert "a warning from TensorFlow's Python side" in result.stderr
    assert "Do not pass an `input_shape`" in result.stderr  # Keras' UserWarning is not silenced


def test_tensorflow_native_errors_are_not_hidden():
    # TF_CPP_MIN_LOG_LEVEL=3 would hide C++ errors too; the package sets 1 (INFO hidden only).
    result = run_python("import os, mnist_helpers as mh\n"
                        "mh.setup_book()\n"
                        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'])\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]  # INFO hidden; oneDNN's fast CPU kernels on
    result = run_python("import os\n"
                        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '0'\n"
                        "import mnist_helpers as mh\n"
                        "mh.setup_book()\n"
                        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n")
    assert result.stdout.strip() == "0", "a reader's own setting must win"


@pytest.mark.parametrize("value, fast", [("", False), ("0", False), ("1", True)])
def test_fast_mode_values(monkeypatch, value, fast):
    monkeypatch.setenv(mh.FAST_ENV, value)
    assert mh.fast_mode() is fast
    assert mh.pick("full", "fast") == ("fast" if fast else "full")


def test_fast_mode_refuses_other_values(monkeypatch):
    monkeypatch.setenv(mh.FAST_ENV, "yes")
    with pytest.raises(ValueError, match="MNIST_FAST='yes' is not understood: set it to 1"):
        mh.fast_mode()


def test_fit_is_quiet_but_keeps_warnings_raised_during_it():
    result = run_python("import warnings, numpy as np, mnist_helpers as mh\n"
                        "mh.setup_book()\n"
                        "import keras\n"
                        "class Warn(keras.callbacks.Callback):\n"
                        "    def on_epoch_end(self, epoch, logs=None):\n"
                        "        warnings.warn('raised during the fit')\n"
                        "model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
                        "                          keras.layers.Dense(3, activation='softmax')])\n"
                        "model.compile('adam', 'sparse_categorical_crossentropy')\n"
                        # Arrays this large make Keras build the tf.data pipeline that logs "NodeDef".
                        "x, y = np.zeros((3000, 28, 28), 'uint8'), np.zeros(3000, 'int64')\n"
                        "mh.fit(model, x, y, epochs=1, validation_data=(x, y), quiet=True, callbacks=[Warn()])\n"
                        "print('fitted')\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fitted"
    assert "raised during the fit" in result.stderr
    assert "NodeDef" not in result.stderr and "cudart_stub" not in result.stderr, result.stderr
