"""The NumPy update rules against Keras' optimizers, step by step, and their clear errors on bad input."""
import keras
import numpy as np
import pytest

import mnist_helpers as mh
from mnist_helpers import optimizers as opt

N_STEPS, SIZE = 30, 12


@pytest.fixture(scope="module")
def problem():
    """Starting weights and a gradient sequence whose scale spans 1e-6..1, in float32 like Keras."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 4)).astype(np.float32)
    scales = 10.0 ** rng.uniform(-6, 0, size=(N_STEPS, 1, 1))
    grads = (rng.normal(size=(N_STEPS, 3, 4)) * scales).astype(np.float32)
    return w0, grads


CASES = {
    "sgd": (opt.sgd_step, dict(lr=0.1), lambda: keras.optimizers.SGD(learning_rate=0.1)),
    "momentum": (opt.momentum_step, dict(lr=0.1, momentum=0.8),
                 lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.8)),
    "rmsprop": (opt.rmsprop_step, dict(lr=0.01, rho=0.8), lambda: keras.optimizers.RMSprop(learning_rate=0.01, rho=0.8)),
    "adam": (opt.adam_step, dict(lr=0.01), lambda: keras.optimizers.Adam(learning_rate=0.01)),
}


# ------------------------------------------------------------------ right implementations agree with Keras

@pytest.mark.parametrize("name", CASES)
def test_numpy_matches_keras_step_by_step(problem, name):
    w0, grads = problem
    step, hyper, make = CASES[name]
    ours = opt.trajectory(step, w0, grads, **hyper)
    theirs = opt.keras_trajectory(make(), w0, grads)
    assert ours.shape == theirs.shape == (N_STEPS, 3, 4)
    assert ours.dtype == np.float32
    mh.assert_close(ours, theirs, atol=1e-6, name=name)


def test_default_hyper_parameters_are_keras_defaults(problem):
    w0, grads = problem
    pairs = [(opt.sgd_step, keras.optimizers.SGD()), (opt.momentum_step, keras.optimizers.SGD(momentum=0.9)),
             (opt.rmsprop_step, keras.optimizers.RMSprop()), (opt.adam_step, keras.optimizers.Adam())]
    for step, optimizer in pairs:
        mh.assert_close(opt.trajectory(step, w0, grads), opt.keras_trajectory(optimizer, w0, grads),
                        atol=1e-6, name=step.__name__)


def test_steps_registry_and_states():
    w, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    assert set(opt.STEPS) == {"sgd", "momentum", "rmsprop", "adam"}
    new, state = opt.sgd_step(w, g, {}, lr=0.1)
    assert state == {} and np.allclose(new, 0.95)
    new, state = opt.momentum_step(w, g, {}, lr=0.1)
    assert np.allclose(state["velocity"], -0.05) and np.allclose(new, 0.95)
    _, state = opt.adam_step(w, g, {}, lr=0.1)
    _, state = opt.adam_step(w, g, state, lr=0.1)
    assert state["t"] == 2 and state["m"].dtype == np.float32
    # Adam's first step moves every weight by about lr, whatever the gradient's scale.
    for scale in (10.0, 1.0, 1e-2):
        new, _ = opt.adam_step(w, g * np.float32(scale), {}, lr=0.1)
        assert np.allclose(w - new, 0.1, rtol=1e-3)
    new, _ = opt.rmsprop_step(w.astype(np.float64), g.astype(np.float64), {}, lr=0.1)
    assert new.dtype == np.float64


# ------------------------------------------------------------------ wrong implementations fail the same check

def adam_textbook(w, g, state, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Algorithm 1 of Kingma & Ba: epsilon added to sqrt(v_hat), not to sqrt(v)."""
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(w)) + (1 - beta_1) * g
    v = beta_2 * state.get("v", np.zeros_like(w)) + (1 - beta_2) * g**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon), {"m": m, "v": v, "t": t}


def adam_without_bias_correction(w, g, state, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    t = state.get("t", 0) + 1
    m = beta_1 * state.get("m", np.zeros_like(w)) + (1 - beta_1) * g
    v = beta_2 * state.get("v", np.zeros_like(w)) + (1 - beta_2) * g**2
    return w - lr * m / (np.sqrt(v) + epsilon), {"m": m, "v": v, "t": t}


def rmsprop_epsilon_outside(w, g, state, *, lr=0.001, rho=0.9, epsilon=1e-7):
    v = rho * state.get("v", np.zeros_like(w)) + (1 - rho) * g**2
    return w - lr * g / (np.sqrt(v) + epsilon), {"v": v}


def momentum_forgetting_velocity(w, g, state, *, lr=0.01, momentum=0.9):
    velocity = momentum * np.zeros_like(w) - lr * g  # the state is ignored: plain SGD in disguise
    return w + velocity, {"velocity": velocity}


def sgd_wrong_sign(w, g, state, *, lr=0.01):
    return w + lr * g, state


WRONG = {
    "adam textbook epsilon": (adam_textbook, "adam"),
    "adam no bias correction": (adam_without_bias_correction, "adam"),
    "rmsprop epsilon outside sqrt": (rmsprop_epsilon_outside, "rmsprop"),
    "momentum ignores its velocity": (momentum_forgetting_velocity, "momentum"),
    "sgd ascends": (sgd_wrong_sign, "sgd"),
}


@pytest.mark.parametrize("label", WRONG)
def test_wrong_implementation_fails_the_check(problem, label):
    w0, grads = problem
    wrong, name = WRONG[label]
    _, hyper, make = CASES[name]
    theirs = opt.keras_trajectory(make(), w0, grads)
    with pytest.raises(AssertionError, match="NumPy and Keras differ"):
        mh.assert_close(opt.trajectory(wrong, w0, grads, **hyper), theirs, atol=1e-6, name=label)


def test_textbook_adam_passes_on_large_gradients_only(problem):
    """Why the check feeds tiny gradients: with gradients ~1 the epsilon placement is invisible."""
    w0, _ = problem
    grads = np.random.default_rng(1).normal(size=(N_STEPS, 3, 4)).astype(np.float32)
    theirs = opt.keras_trajectory(keras.optimizers.Adam(learning_rate=0.01), w0, grads)
    mh.assert_close(opt.trajectory(adam_textbook, w0, grads, lr=0.01), theirs, atol=1e-6)


# ------------------------------------------------------------------ bad inputs

W = np.zeros((2, 3), np.float32)


@pytest.mark.parametrize("step", list(opt.STEPS.values()))
def test_wrong_shapes_and_dtypes_are_rejected(step):
    with pytest.raises(ValueError, match=r"g has shape \(3,\) but w has shape \(2, 3\)"):
        step(W, np.zeros(3, np.float32), {})
    with pytest.raises(TypeError, match=r"dtypes differ \(w is float32, g is float64\)"):
        step(W, np.zeros((2, 3)), {})
    with pytest.raises(TypeError, match="w must have a floating dtype.*int64"):
        step(np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64), {})
    with pytest.raises(TypeError, match="w must be a NumPy array, got list"):
        step([0.0, 1.0], np.zeros(2, np.float32), {})
    with pytest.raises(TypeError, match="state must be a dict"):
        step(W, W, None)
    with pytest.raises(ValueError, match=r"lr=0.0 must be in \(0, inf\)"):
        step(W, W, {}, lr=0.0)
    with pytest.raises(TypeError, match="lr must be a real number, got str"):
        step(W, W, {}, lr="0.1")


@pytest.mark.parametrize("name", CASES)
def test_numpy_scalar_hyper_parameters_are_accepted(name, problem):
    # e.g. lr = np.float32(0.01) read from a float32 array: the same steps as with a Python float.
    step, hyper, _ = CASES[name]
    w0, grads = problem
    as_numpy = {key: np.float32(value) for key, value in hyper.items()}
    np.testing.assert_array_equal(opt.trajectory(step, w0, grads, **as_numpy),
                                  opt.trajectory(step, w0, grads, **{k: float(v) for k, v in as_numpy.items()}))


def test_adam_step_count_may_be_a_numpy_integer():
    _, state = opt.adam_step(W, W, {"m": W, "v": W, "t": np.int64(4)})
    assert state["t"] == 5


def test_bad_hyper_parameters_and_state_are_rejected():
    with pytest.raises(ValueError, match=r"momentum=1.0 must be in \[0, 1\)"):
        opt.momentum_step(W, W, {}, momentum=1.0)
    with pytest.raises(ValueError, match=r"rho=-0.1 must be in \[0, 1\)"):
        opt.rmsprop_step(W, W, {}, rho=-0.1)
    with pytest.raises(ValueError, match=r"epsilon=-1e-07 must be in \[0, inf\) \(Keras' default is 1e-7\)"):
        opt.rmsprop_step(W, W, {}, epsilon=-1e-7)
    with pytest.raises(ValueError, match="beta_2=nan must be a finite number"):
        opt.adam_step(W, W, {}, beta_2=float("nan"))
    with pytest.raises(ValueError, match=r"state\['v'\] has shape \(3,\)"):
        opt.adam_step(W, W, {"m": W, "v": np.zeros(3, np.float32), "t": 1})
    with pytest.raises(ValueError, match=r"state\['t'\]=-1 must be in \[0, inf\) \(the number of steps already taken\)"):
        opt.adam_step(W, W, {"t": -1})
    with pytest.raises(TypeError, match=r"state\['t'\] must be an integer, got float 1.0"):
        opt.adam_step(W, W, {"t": 1.0})
    with pytest.raises(ValueError, match=r"state\['velocity'\] has shape \(2, 3\) and dtype float64"):
        opt.momentum_step(W, W, {"velocity": np.zeros((2, 3))})


def test_trajectory_inputs_are_checked():
    with pytest.raises(ValueError, match=r"grads must have shape \(n_steps >= 1, \*w0.shape\) = \(n_steps, 2, 3\), got \(2, 3\)"):
        opt.trajectory(opt.sgd_step, W, W)
    with pytest.raises(ValueError, match="got \\(0, 2, 3\\)"):
        opt.trajectory(opt.sgd_step, W, np.zeros((0, 2, 3), np.float32))
    with pytest.raises(TypeError, match=r"dtypes differ \(w0 is float32, grads is float64\)"):
        opt.trajectory(opt.sgd_step, W, np.zeros((4, 2, 3)))
    with pytest.raises(TypeError, match="must be a keras.optimizers.Optimizer, got str"):
        opt.keras_trajectory("adam", W, np.zeros((4, 2, 3), np.float32))
    used = keras.optimizers.Adam()
    opt.keras_trajectory(used, W, np.ones((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="pass a fresh one"):
        opt.keras_trajectory(used, W, np.ones((1, 2, 3), np.float32))
