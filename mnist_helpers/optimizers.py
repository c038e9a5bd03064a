"""SGD, momentum, RMSprop and Adam written in NumPy, update for update as Keras does them (chapter 6).

Every step function has the same shape, so one loop (:func:`trajectory`) drives any of them::

    w_new, state_new = step(w, g, state, lr=..., **hyper_parameters)

``state`` is a dict of NumPy arrays (the optimizer's "slots"), empty before the first step;
missing slots start at zero, exactly like the variables Keras creates in ``optimizer.build``.
The arithmetic follows the installed Keras source (``keras/src/optimizers/{sgd,rmsprop,adam}.py``),
including where each optimizer puts its ``epsilon``. :func:`keras_trajectory` runs a real Keras
optimizer on the same gradients, so the two can be compared step by step with ``mh.assert_close``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .checks import check_float_array, check_integer, check_real, check_same_dtype

State = dict
"""An optimizer's slots: a dict of name -> ndarray shaped like the weights (plus Adam's step count)."""

StepFunction = Callable[..., "tuple[np.ndarray, State]"]


# ----------------------------------------------------------------------------- validation

def _check_weights_and_gradient(w, g) -> None:
    """Weights and gradient: float arrays of one shape and one dtype (nothing is silently cast)."""
    check_float_array(w, "w")
    check_float_array(g, "g")
    if g.shape != w.shape:
        raise ValueError(f"g has shape {g.shape} but w has shape {w.shape}: a gradient is shaped like its weights")
    check_same_dtype(w=w, g=g)


def _check_state(state, w: np.ndarray, slots: Sequence[str]) -> None:
    """The state must be a dict whose array slots match the weights in shape and dtype."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of slot arrays (empty before the first step), got {type(state).__name__}")
    for slot in slots:
        if slot in state:
            value = check_float_array(state[slot], f"state[{slot!r}]")
            if value.shape != w.shape or value.dtype != w.dtype:
                raise ValueError(f"state[{slot!r}] has shape {value.shape} and dtype {value.dtype}; "
                                 f"expected the weights' shape {w.shape} and dtype {w.dtype}")


# The hyper-parameters' ranges, for check_real (NumPy scalars such as np.float32(0.01) pass).
_LR = dict(low=0.0, low_open=True)  # a learning rate > 0
_DECAY = dict(low=0.0, high=1.0, high_open=True)  # momentum, rho, beta_1, beta_2 in [0, 1)
_EPSILON = dict(low=0.0, hint=" (Keras' default is 1e-7)")  # epsilon >= 0


def _slot(state: State, name: str, w: np.ndarray) -> np.ndarray:
    """A slot's current value; zeros (Keras' initial value) before the first step."""
    return state[name] if name in state else np.zeros_like(w)


# ----------------------------------------------------------------------------- the update rules

def sgd_step(w: np.ndarray, g: np.ndarray, state: State, *, lr: float = 0.01) -> tuple[np.ndarray, State]:
    r"""One step of plain stochastic gradient descent, as ``keras.optimizers.SGD()``.

    .. math:: w \leftarrow w - \eta\, g

    Parameters
    ----------
    w : ndarray of float, any shape
        Current weights.
    g : ndarray of float, same shape and dtype as ``w``
        Gradient of the loss with respect to ``w`` (on one mini-batch).
    state : dict
        Unused (plain SGD keeps no state); returned unchanged so all steps share one signature.
    lr : float > 0, default 0.01 (Keras' default)
        Learning rate :math:`\eta`.

    Returns
    -------
    w_new : ndarray, same shape and dtype as ``w``
    state : dict, the one given
    """
    _check_weights_and_gradient(w, g)
    _check_state(state, w, ())
    lr = check_real(lr, "lr", **_LR)
    return w - lr * g, state


def momentum_step(w: np.ndarray, g: np.ndarray, state: State, *, lr: float = 0.01,
                  momentum: float = 0.9) -> tuple[np.ndarray, State]:
    r"""One step of SGD with (heavy-ball) momentum, as ``keras.optimizers.SGD(momentum=...)``.

    Keras keeps a velocity :math:`u` (initially 0) that already contains the learning rate:

    .. math::
        u \leftarrow \mu\, u - \eta\, g, \qquad w \leftarrow w + u

    so the step is a running, exponentially decaying sum of past gradient steps.

    Parameters
    ----------
    w, g : ndarray of float, same shape and dtype
        Weights and gradient.
    state : dict
        ``{"velocity": ndarray shaped like w}``, or ``{}`` before the first step.
    lr : float > 0, default 0.01
        Learning rate :math:`\eta`.
    momentum : float in [0, 1), default 0.9
        Decay :math:`\mu` of the velocity.

    Returns
    -------
    w_new : ndarray, same shape and dtype as ``w``
    state_new : dict with ``"velocity"``
    """
    _check_weights_and_gradient(w, g)
    _check_state(state, w, ("velocity",))
    lr, momentum = check_real(lr, "lr", **_LR), check_real(momentum, "momentum", **_DECAY)
    velocity = momentum * _slot(state, "velocity", w) - lr * g
    return w + velocity, {"velocity": velocity}


def rmsprop_step(w: np.ndarray, g: np.ndarray, state: State, *, lr: float = 0.001, rho: float = 0.9,
                 epsilon: float = 1e-7) -> tuple[np.ndarray, State]:
    r"""One step of RMSprop, as ``keras.optimizers.RMSprop()``.

    A running mean of squared gradients :math:`v` (initially 0) scales each weight's step:

    .. math::
        v \leftarrow \rho\, v + (1 - \rho)\, g^2, \qquad
        w \leftarrow w - \frac{\eta\, g}{\sqrt{v + \epsilon}}

    Note that Keras puts :math:`\epsilon` *inside* the square root for RMSprop (and outside it
    for Adam).

    Parameters
    ----------
    w, g : ndarray of float, same shape and dtype
        Weights and gradient.
    state : dict
        ``{"v": ndarray shaped like w}``, or ``{}`` before the first step.
    lr : float > 0, default 0.001
        Learning rate :math:`\eta`.
    rho : float in [0, 1), default 0.9
        Decay of the running mean of squared gradients.
    epsilon : float >= 0, default 1e-7
        Keeps the division finite where :math:`v = 0`.

    Returns
    -------
    w_new : ndarray, same shape and dtype as ``w``
    state_new : dict with ``"v"``
    """
    _check_weights_and_gradient(w, g)
    _check_state(state, w, ("v",))
    lr, rho = check_real(lr, "lr", **_LR), check_real(rho, "rho", **_DECAY)
    epsilon = check_real(epsilon, "epsilon", **_EPSILON)
    v = rho * _slot(state, "v", w) + (1 - rho) * g**2
    return w - lr * g / np.sqrt(v + epsilon), {"v": v}


def adam_step(w: np.ndarray, g: np.ndarray, state: State, *, lr: float = 0.001, beta_1: float = 0.9,
              beta_2: float = 0.999, epsilon: float = 1e-7) -> tuple[np.ndarray, State]:
    r"""One step of Adam, as ``keras.optimizers.Adam()`` computes it.

    With :math:`t` the step number (1 for the first step) and :math:`m, v` starting at 0:

    .. math::
        m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \\
        \alpha_t = \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \qquad
        w \leftarrow w - \alpha_t\, \frac{m}{\sqrt{v} + \hat\epsilon}

    The bias correction is folded into the step size :math:`\alpha_t`, and :math:`\hat\epsilon` is
    added to :math:`\sqrt{v}`, not to :math:`\sqrt{\hat v}` (the "epsilon hat" of Kingma & Ba,
    section 2). Algebraically this is Algorithm 1 of the paper with a step-dependent
    :math:`\epsilon = \hat\epsilon / \sqrt{1 - \beta_2^t}` (about :math:`32\hat\epsilon` at the
    first step); the two differ visibly only where gradients are not much larger than that.

    Parameters
    ----------
    w, g : ndarray of float, same shape and dtype
        Weights and gradient.
    state : dict
        ``{"m": ndarray, "v": ndarray, "t": int}`` from the previous step, or ``{}`` before the first.
    lr : float > 0, default 0.001
        Learning rate :math:`\eta`.
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
        Decay rates of the first and second moment estimates.
    epsilon : float >= 0, default 1e-7
        :math:`\hat\epsilon` above.

    Returns
    -------
    w_new : ndarray, same shape and dtype as ``w``
    state_new : dict with ``"m"``, ``"v"`` (arrays shaped like ``w``) and ``"t"`` (steps taken)
    """
    _check_weights_and_gradient(w, g)
    _check_state(state, w, ("m", "v"))
    lr, epsilon = check_real(lr, "lr", **_LR), check_real(epsilon, "epsilon", **_EPSILON)
    beta_1, beta_2 = check_real(beta_1, "beta_1", **_DECAY), check_real(beta_2, "beta_2", **_DECAY)
    t = check_integer(state.get("t", 0), "state['t']", low=0, hint=" (the number of steps already taken)") + 1
    m = beta_1 * _slot(state, "m", w) + (1 - beta_1) * g
    v = beta_2 * _slot(state, "v", w) + (1 - beta_2) * g**2
    # Keras computes the bias corrections in the weights' dtype (float32): so do we.
    real = w.dtype.type
    alpha = real(lr) * np.sqrt(1 - real(beta_2) ** t) / (1 - real(beta_1) ** t)
    return w - alpha * m / (np.sqrt(v) + epsilon), {"m": m, "v": v, "t": t}


STEPS: dict[str, StepFunction] = {"sgd": sgd_step, "momentum": momentum_step, "rmsprop": rmsprop_step,
                                  "adam": adam_step}
"""The four update rules by name."""


# ----------------------------------------------------------------------------- running many steps

def _check_gradient_sequence(w0, grads) -> np.ndarray:
    """Gradients stacked as an array of shape (n_steps, *w0.shape) with w0's dtype."""
    check_float_array(w0, "w0")
    check_float_array(grads, "grads")
    if grads.ndim != w0.ndim + 1 or grads.shape[1:] != w0.shape or len(grads) == 0:
        raise ValueError(f"grads must have shape (n_steps >= 1, *w0.shape) = (n_steps, {', '.join(map(str, w0.shape))})"
                         f", got {grads.shape}")
    check_same_dtype(w0=w0, grads=grads)
    return grads


def trajectory(step: StepFunction, w0: np.ndarray, grads: np.ndarray, **hyper) -> np.ndarray:
    """Run a NumPy step function over a fixed sequence of gradients; return the weights after each step.

    Parameters
    ----------
    step : callable ``step(w, g, state, **hyper) -> (w_new, state_new)``
        One of :func:`sgd_step`, :func:`momentum_step`, :func:`rmsprop_step`, :func:`adam_step`
        (or your own, with the same signature).
    w0 : ndarray of float, shape (d1, ..., dk)
        Starting weights.
    grads : ndarray, shape (n_steps, d1, ..., dk), same dtype as ``w0``
        The gradient fed at each step (fixed in advance, so Keras can be fed the same ones).
    **hyper
        Hyper-parameters passed to ``step`` (``lr=...``, ``beta_1=...``).

    Returns
    -------
    ndarray of shape (n_steps, d1, ..., dk)
        Row ``i`` holds the weights after step ``i + 1``.
    """
    grads = _check_gradient_sequence(w0, grads)
    w, state, path = w0, {}, []
    for g in grads:
        w, state = step(w, g, state, **hyper)
        path.append(w)
    return np.stack(path)


def keras_trajectory(optimizer, w0: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Feed the same gradients to a Keras optimizer; return the weights after each step.

    Each step is ``optimizer.apply_gradients([(g, w)])`` on one ``keras.Variable`` that starts
    at ``w0``: the same call ``model.fit`` makes after computing the gradients.

    Parameters
    ----------
    optimizer : keras.optimizers.Optimizer
        A fresh optimizer (it builds its slots on the variable at the first step).
    w0 : ndarray of float, shape (d1, ..., dk)
        Starting weights.
    grads : ndarray, shape (n_steps, d1, ..., dk), same dtype as ``w0``

    Returns
    -------
    ndarray of shape (n_steps, d1, ..., dk), dtype of ``w0``
    """
    from ._keras import keras  # the one import that sets oneDNN and the log level first

    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a keras.optimizers.Optimizer, got {type(optimizer).__name__}")
    if optimizer.built:
        raise ValueError("optimizer has already taken steps (it is built): pass a fresh one, "
                         "so that its slots start at zero like the NumPy state")
    grads = _check_gradient_sequence(w0, grads)
    variable = keras.Variable(w0, dtype=str(w0.dtype), name="w")
    path = []
    for g in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        path.append(keras.ops.convert_to_numpy(variable))
    return np.stack(path)
