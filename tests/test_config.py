"""The package's set-up: nothing happens at import, TensorFlow starts quietly, and nothing a
reader needs to see (a crash's traceback, a warning) is lost."""
import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import mnist_helpers as mh
from mnist_helpers import config

NOISE = b"I0000 00:00:1795649624.855197    6011 cudart_stub.cc:31] Could not find cuda drivers\n"
REAL = b"E0000 00:00:1.1   1 some_real_problem.cc:12] disk full\n"


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, as a reader's script would run: without the TensorFlow
    settings that the package puts into this test process's environment when another test module
    imports it (a child would inherit them and could not tell who set them)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)


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
                        "print(mh.load_mnist.__module__, mh.stats.__name__)\n")  # names resolve on first use
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mnist_helpers.data", "mnist_helpers.stats"]


def test_version_is_pyprojects_everywhere():
    # pyproject.toml writes it once; the package reads it from its installed metadata and
    # CITATION.cff must name the same release.
    root = Path(__file__).resolve().parent.parent
    version = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf8"))["project"]["version"]
    assert mh.__version__ == version
    assert f'\nversion: "{version}"\n' in (root / "CITATION.cff").read_text(encoding="utf8")


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'lod_mnist'"):
        mh.lod_mnist  # noqa: B018


def test_top_level_names_all_resolve():
    # Each top-level name is the object its module defines (the lazy loader returns that one).
    for name in mh.__all__:
        module = importlib.import_module(f"mnist_helpers.{mh._EXPORTS[name]}")
        assert getattr(mh, name) is getattr(module, name), name


# One fresh interpreter plays a reader's whole script (starting TensorFlow costs seconds, so the
# checks share it): set-up, TensorFlow and Keras warnings, a quiet fit that raises a warning, then
# a crash. Nothing may be lost on the way and no start-up noise may show.
READER_SCRIPT = """\
import os, warnings, numpy as np, mnist_helpers as mh
mh.setup_book()
print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'])
import tensorflow as tf, keras
tf.get_logger().warning("a warning from TensorFlow's Python side")
keras.layers.Dense(2, input_shape=(3,))
class Warn(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        warnings.warn('raised during the fit')
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(3, activation='softmax')])
model.compile('adam', 'sparse_categorical_crossentropy')
# Arrays this large make Keras build the tf.data pipeline that logs "NodeDef".
x, y = np.zeros((3000, 28, 28), 'uint8'), np.zeros(3000, 'int64')
mh.fit(model, x, y, epochs=1, validation_data=(x, y), quiet=True, callbacks=[Warn()])
model.evaluate(x, y, verbose=0)
model.predict(x, verbose=0)
print('fitted')
def inner():
    raise RuntimeError('boom from the reader')
inner()
"""


@pytest.fixture(scope="module")
def reader_run() -> subprocess.CompletedProcess:
    return run_python(READER_SCRIPT)


def test_crash_shows_its_whole_traceback_with_no_sleep(reader_run):
    # setup_book's stderr filter passes everything on at exit, so the whole traceback is there.
    assert reader_run.returncode == 1
    traceback = reader_run.stderr[reader_run.stderr.index("Traceback (most recent call last):"):]
    assert "in inner" in traceback and traceback.rstrip().endswith("RuntimeError: boom from the reader")


def test_start_up_and_fit_noise_is_dropped(reader_run):
    for noise in ("cudart_stub", "cpu_feature_guard", "NodeDef"):
        assert noise not in reader_run.stderr, reader_run.stderr[:2000]
    assert reader_run.stdout.split() == ["1", "1", "fitted"]  # INFO hidden, oneDNN on, the fit ran


def test_warnings_reach_the_reader(reader_run):
    assert "a warning from TensorFlow's Python side" in reader_run.stderr
    assert "Do not pass an `input_shape`" in reader_run.stderr  # Keras' UserWarning is not silenced
    assert "raised during the fit" in reader_run.stderr  # written back after the fit's filter


def test_tensorflow_settings_are_defaults_a_reader_can_override(monkeypatch):
    # TF_CPP_MIN_LOG_LEVEL=3 would hide C++ errors too, so the package sets 1, but only by default.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    config.tensorflow_environment_defaults()
    assert (os.environ["TF_CPP_MIN_LOG_LEVEL"], os.environ["TF_ENABLE_ONEDNN_OPTS"]) == ("1", "0")


@pytest.mark.parametrize("value, fast", [("", False), ("0", False), ("1", True)])
def test_fast_mode_values(monkeypatch, value, fast):
    monkeypatch.setenv(mh.FAST_ENV, value)
    assert mh.fast_mode() is fast
    assert mh.pick("full", "fast") == ("fast" if fast else "full")


def test_fast_mode_refuses_other_values(monkeypatch):
    monkeypatch.setenv(mh.FAST_ENV, "yes")
    with pytest.raises(ValueError, match="MNIST_FAST='yes' is not understood: set it to 1"):
        mh.fast_mode()


@pytest.mark.parametrize("seconds, text", [
    (0, "0.0 s"), (0.44, "0.4 s"), (9.96, "10 s"), (42.4, "42 s"), (59.6, "1 min"), (185, "3 min 5 s"),
    (599.6, "10 min"), (600, "10 min"), (658, "11 min"), (725, "12 min"), (3599, "1 h"), (4080, "1 h 8 min"),
])
def test_durations_read_like_a_person_says_them(seconds, text):
    assert config.format_duration(seconds) == text


def test_run_times_measure_this_mode_and_quote_the_other(monkeypatch):
    # A patched clock: 125 s since setup_book(), however long the test itself takes.
    monkeypatch.setattr(config.time, "perf_counter", lambda: 1125.0)
    monkeypatch.setattr(config, "_run_started", 1000.0)
    monkeypatch.setenv(mh.FAST_ENV, "")
    monkeypatch.setenv(config.FAST_SECONDS_ENV, "95")
    assert mh.run_times() == {"time_full": "2 min 5 s", "time_fast": "1 min 35 s"}
    monkeypatch.delenv(config.FAST_SECONDS_ENV)
    assert mh.run_times()["time_fast"] == "not measured in this run"
    monkeypatch.setenv(mh.FAST_ENV, "1")
    assert mh.run_times() == {"time_full": "not measured in this run", "time_fast": "2 min 5 s"}


def test_run_times_write_the_seconds_for_the_other_run(monkeypatch, tmp_path):
    # make execute times the fast run by the full run's clock: run_times writes what it measured.
    monkeypatch.setattr(config, "_run_started", config.time.perf_counter() - 95)
    monkeypatch.setenv(mh.FAST_ENV, "1")
    monkeypatch.setenv(config.RUN_SECONDS_FILE_ENV, str(tmp_path / "seconds"))
    assert mh.run_times()["time_fast"] == "1 min 35 s"
    written = float((tmp_path / "seconds").read_text())
    assert 95 <= written < 100
    monkeypatch.setenv(mh.FAST_ENV, "")
    monkeypatch.setenv(config.FAST_SECONDS_ENV, str(written))
    monkeypatch.delenv(config.RUN_SECONDS_FILE_ENV)
    assert mh.run_times()["time_fast"] == "1 min 35 s"


def test_run_times_need_the_clock_and_a_number(monkeypatch):
    monkeypatch.setattr(config, "_run_started", None)
    with pytest.raises(RuntimeError, match=r"call mh.setup_book\(\)"):
        mh.run_times()
    monkeypatch.setattr(config, "_run_started", 0.0)
    monkeypatch.setenv(mh.FAST_ENV, "")
    monkeypatch.setenv(config.FAST_SECONDS_ENV, "soon")
    with pytest.raises(ValueError, match="MNIST_FAST_SECONDS='soon' is not understood"):
        mh.run_times()


# ------------------------------------------------------------------ the persistent stderr filter

NODEDEF = ("E0000 00:00:1764000000.123456  1234 node_def_util.cc:682] NodeDef mentions attribute "
           "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; ...>")
FILTER_SCRIPT = f"""\
import os, sys, time
from mnist_helpers import config
before = os.fstat(2).st_ino
config.filter_native_stderr()
config.filter_native_stderr()  # idempotent: one filter, not two
assert os.fstat(2).st_ino != before, 'fd 2 was not re-routed'
os.write(2, {(NODEDEF + chr(10)).encode()!r})
os.write(2, b'W0000 00:00:1796317795.792484   30698 util.cc:163] Not handling type DT_DOUBLE\\n')
os.write(2, b'a normal native line\\n')
os.write(2, b'a partial line')
time.sleep(0.5)  # no newline follows: it must come out anyway, before the next stdout line
print('stdout after the partial line', flush=True)
sys.stderr.write('python text\\n')
raise SystemExit('exit message')
"""


def test_persistent_filter_drops_only_the_noise_and_loses_nothing_at_exit():
    # stdout and stderr into one pipe, so the order in which they arrive is checked too.
    result = subprocess.run([sys.executable, "-c", FILTER_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ("a normal native line\na partial linestdout after the partial line\n"
                             "python text\nexit message\n"), result.stdout


def test_persistent_filter_passes_on_a_long_stream_whole():
    code = ("import os\nfrom mnist_helpers import config\nconfig.filter_native_stderr()\n"
            "for i in range(20000):\n"
            f"    os.write(2, f'line {{i}}\\n'.encode() + ({NODEDEF!r} + chr(10)).encode())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [f"line {i}" for i in range(20000)]


# ------------------------------------------------------------------ determinism and the device line

@pytest.fixture()
def fake_tf(monkeypatch):
    """setup_book with TensorFlow's device list and determinism switch mocked; returns the calls."""
    import matplotlib as mpl
    import numpy as np
    import tensorflow as tf

    calls = {"determinism": 0}
    monkeypatch.setattr(config, "filter_native_stderr", lambda: None)  # fd 2 stays pytest's
    monkeypatch.setattr(config, "_run_started", None)
    monkeypatch.setattr(mpl, "rcParams", mpl.rcParams.copy())
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism",
                        lambda: calls.__setitem__("determinism", calls["determinism"] + 1))
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "NVIDIA Fake 80GB"})
    monkeypatch.delenv(config.DETERMINISTIC_ENV, raising=False)
    printing = np.get_printoptions()

    def devices(gpus):
        listed = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU")
                  for i in range(gpus)]
        monkeypatch.setattr(tf.config, "list_physical_devices",
                            lambda device_type=None: listed)

    calls["devices"] = devices
    yield calls
    np.set_printoptions(**printing)


def test_cpu_keeps_determinism_and_prints_nothing(fake_tf, capsys):
    fake_tf["devices"](0)
    mh.setup_book()
    assert fake_tf["determinism"] == 1
    assert capsys.readouterr().out == ""


def test_gpu_turns_determinism_off_and_says_so(fake_tf, capsys):
    fake_tf["devices"](1)
    mh.setup_book()
    assert fake_tf["determinism"] == 0
    assert capsys.readouterr().out == (
        "Running on GPU:0 (NVIDIA Fake 80GB); op determinism off (results may differ slightly between "
        "runs; mh.setup_book(deterministic=True) or MNIST_DETERMINISTIC=1 turns it on)\n")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_gpu_determinism_on_request(fake_tf, capsys, monkeypatch, how):
    fake_tf["devices"](2)
    if how == "argument":
        mh.setup_book(deterministic=True)
    else:
        monkeypatch.setenv(config.DETERMINISTIC_ENV, "1")
        mh.setup_book()
    assert fake_tf["determinism"] == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("Running on GPU:0 (NVIDIA Fake 80GB), the first of 2 GPUs; op determinism on")


def test_cpu_determinism_off_on_request_is_said(fake_tf, capsys, monkeypatch):
    fake_tf["devices"](0)
    monkeypatch.setenv(config.DETERMINISTIC_ENV, "0")
    mh.setup_book()
    assert fake_tf["determinism"] == 0
    assert capsys.readouterr().out.startswith("Running on CPU; op determinism off")
    monkeypatch.setenv(config.DETERMINISTIC_ENV, "0")
    mh.setup_book(deterministic=True)  # the argument wins over the environment
    assert fake_tf["determinism"] == 1


def test_determinism_env_refuses_other_values(fake_tf, monkeypatch):
    fake_tf["devices"](0)
    monkeypatch.setenv(config.DETERMINISTIC_ENV, "yes")
    with pytest.raises(ValueError, match=r"^MNIST_DETERMINISTIC='yes' is not understood: set it to 1 "):
        mh.setup_book()
    assert fake_tf["determinism"] == 0
