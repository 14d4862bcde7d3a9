"""Optimizers as pairs of pure functions on batched arrays, in the style of optax.

Every array has shape ``(n, R)``: one column per run, so R runs advance together. An
optimizer is ``init(x) -> state`` and ``update(grad, state, x) -> (step, state)``; the new
point is ``x + step``. The state carries each run's learning rate (shape ``(R,)``), so a
batch can drop finished runs by slicing every state array along its last axis.

>>> import numpy as np
>>> opt = make("gd", np.array([0.1]))
>>> x = np.array([[3.0], [4.0]])
>>> step, _ = opt.update(2 * x, opt.init(x), x)
>>> (x + step).ravel().tolist()
[2.4, 3.2]
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

State = tuple
Update = Callable[[np.ndarray, State, np.ndarray], tuple[np.ndarray, State]]

#: Default hyper-parameters; ``rmsprop`` uses ``beta2`` as its decay (0.9 unless given).
DEFAULTS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
NAMES = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton")


class Optimizer(NamedTuple):
    """An optimizer: its name, hyper-parameters, and the pure pair (init, update)."""

    name: str
    hyper: dict
    init: Callable[[np.ndarray], State]
    update: Update
    #: Index in the state of a per-run flag the engine counts over the steps it keeps
    #: (Newton: steps that met a Hessian that is not positive definite), or None.
    flag: int | None = None
    #: Optional ``step_into(grad, state, x, out) -> state``: writes x + step into ``out``
    #: without temporaries (the engine's fast lane; the same numbers as ``update``).
    #: ``out`` may be ``grad`` itself (the stepwise engine writes x_{k+1} over g_k).
    step_into: Callable | None = None
    #: Optional ``max_move(lr, G) -> float``: a bound of |step| in each coordinate while
    #: every gradient so far had |g_i| ≤ G and the learning rate is at most lr (the
    #: engine then knows how many steps a run needs to leave a box, and skips tests).
    max_move: Callable[[float, float], float] | None = None


def _lr_and_buffer(lr: np.ndarray) -> Callable[[np.ndarray], State]:
    """``init`` for optimizers whose state is the learning rate and one zeroed buffer."""

    def init(x):
        return (np.array(lr, dtype=float), np.zeros_like(x))

    return init


class _Scratch:
    """Work arrays for ``step_into``, one per shape and slot, made once and reused."""

    def __init__(self):
        self._arrays: dict = {}

    def __call__(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        key = (like.shape, slot)
        a = self._arrays.get(key)
        if a is None:
            if len(self._arrays) > 8:  # the batch shrank several times: keep only what is used
                self._arrays.clear()
            a = self._arrays[key] = np.empty(like.shape)
        return a


def _scaled_step(na, g, acc, eps, t, x, out) -> None:
    """out = x + (−lr)·g/(√acc + ε), in the order of ``-a * g / (np.sqrt(acc) + eps)``
    (``t`` is scratch; it may be ``acc`` itself, and ``g`` may be ``out``)."""
    np.sqrt(acc, out=t)
    np.add(t, eps, out=t)
    np.multiply(na, g, out=out)
    np.true_divide(out, t, out=out)
    np.add(x, out, out=out)


def gd(lr: np.ndarray) -> Optimizer:
    """Gradient descent: step = −lr·g."""

    def init(x):
        # The state keeps −lr: one multiplication a step instead of two.
        return (-np.array(lr, dtype=float),)

    def update(g, state, x):
        return state[0] * g, state

    def step_into(g, state, x, out):
        # x + (−lr)·g written into ``out``, with no temporary: the same bits as update
        np.multiply(state[0], g, out=out)
        np.add(x, out, out=out)
        return state

    return Optimizer("gd", {}, init, update, step_into=step_into, max_move=lambda lr, G: lr * G)


def momentum(lr: np.ndarray, beta: float) -> Optimizer:
    """Heavy-ball momentum: v ← βv + g, step = −lr·v (x_{k+1} = x_k − lr·g_k + β(x_k − x_{k−1}))."""

    init = _lr_and_buffer(lr)
    scratch = _Scratch()

    def update(g, state, x):
        a, v = state
        v = beta * v + g
        return -a * v, (a, v)

    def step_into(g, state, x, out):
        a, v = state
        na = np.negative(a, out=scratch(a))
        np.multiply(beta, v, out=v)
        np.add(v, g, out=v)
        np.multiply(na, v, out=out)
        np.add(x, out, out=out)
        return state

    # |v| ≤ G·(1 + β + β² + …) = G/(1 − β), from v = 0
    return Optimizer("momentum", {"momentum": beta}, init, update, step_into=step_into,
                     max_move=(lambda lr, G: lr * G / (1 - beta)) if 0 <= beta < 1 else None)


def nesterov(lr: np.ndarray, beta: float) -> Optimizer:
    """Nesterov momentum (Sutskever's form): v ← βv + g, step = −lr·(βv + g)."""

    init = _lr_and_buffer(lr)
    scratch = _Scratch()

    def update(g, state, x):
        a, v = state
        v = beta * v + g
        return -a * (beta * v + g), (a, v)

    def step_into(g, state, x, out):
        a, v = state
        na = np.negative(a, out=scratch(a))
        np.multiply(beta, v, out=v)
        np.add(v, g, out=v)
        t = scratch(g, 1)  # (not out: out may be g, read once more below)
        np.multiply(beta, v, out=t)
        np.add(t, g, out=out)
        np.multiply(na, out, out=out)
        np.add(x, out, out=out)
        return state

    # |βv + g| ≤ βG/(1 − β) + G = G/(1 − β)
    return Optimizer("nesterov", {"momentum": beta}, init, update, step_into=step_into,
                     max_move=(lambda lr, G: lr * G / (1 - beta)) if 0 <= beta < 1 else None)


def adagrad(lr: np.ndarray, eps: float) -> Optimizer:
    """AdaGrad: G ← G + g², step = −lr·g/(√G + ε)."""

    init = _lr_and_buffer(lr)
    scratch = _Scratch()

    def update(g, state, x):
        a, acc = state
        acc = acc + g * g
        return -a * g / (np.sqrt(acc) + eps), (a, acc)

    def step_into(g, state, x, out):
        a, acc = state
        na, t = np.negative(a, out=scratch(a)), scratch(g, 1)
        np.multiply(g, g, out=t)
        np.add(acc, t, out=acc)
        _scaled_step(na, g, acc, eps, t, x, out)
        return state

    # G_acc ≥ g², so |g|/(√G_acc + ε) ≤ 1
    return Optimizer("adagrad", {"eps": eps}, init, update, step_into=step_into,
                     max_move=(lambda lr, G: lr) if eps >= 0 else None)


def rmsprop(lr: np.ndarray, decay: float, eps: float) -> Optimizer:
    """RMSProp: E ← ρE + (1 − ρ)g², step = −lr·g/(√E + ε)."""

    init = _lr_and_buffer(lr)
    scratch = _Scratch()

    def update(g, state, x):
        a, e = state
        e = decay * e + (1 - decay) * g * g
        return -a * g / (np.sqrt(e) + eps), (a, e)

    def step_into(g, state, x, out):
        a, e = state
        na, t = np.negative(a, out=scratch(a)), scratch(g, 1)
        np.multiply(1 - decay, g, out=t)
        np.multiply(t, g, out=t)
        np.multiply(decay, e, out=e)
        np.add(e, t, out=e)
        _scaled_step(na, g, e, eps, t, x, out)
        return state

    # E ≥ (1 − ρ)g², so |g|/(√E + ε) ≤ 1/√(1 − ρ)
    return Optimizer("rmsprop", {"beta2": decay, "eps": eps}, init, update, step_into=step_into,
                     max_move=(lambda lr, G: lr / math.sqrt(1 - decay)) if 0 <= decay < 1 and eps >= 0 else None)


def adam(lr: np.ndarray, beta1: float, beta2: float, eps: float) -> Optimizer:
    """Adam (Kingma & Ba): bias-corrected moments m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ),
    step = −lr·m̂/(√v̂ + ε)."""

    def init(x):
        return (np.array(lr, dtype=float), np.zeros_like(x), np.zeros_like(x), 0)

    def update(g, state, x):
        a, m, v, t = state
        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        return -a * m_hat / (np.sqrt(v_hat) + eps), (a, m, v, t)

    scratch = _Scratch()

    def step_into(g, state, x, out):
        a, m, v, t = state
        t += 1
        na, tmp = np.negative(a, out=scratch(a)), scratch(g, 1)
        np.multiply(beta1, m, out=m)
        np.multiply(1 - beta1, g, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(beta2, v, out=v)
        np.multiply(1 - beta2, g, out=tmp)
        np.multiply(tmp, g, out=tmp)
        np.add(v, tmp, out=v)
        np.true_divide(v, 1 - beta2**t, out=tmp)  # v̂
        np.true_divide(m, 1 - beta1**t, out=out)  # m̂
        _scaled_step(na, out, tmp, eps, tmp, x, out)
        return (a, m, v, t)

    return Optimizer("adam", {"beta1": beta1, "beta2": beta2, "eps": eps}, init, update, step_into=step_into)


#: The margin of :func:`surely_positive_definite`, relative to n·max(diag H): far above
#: the rounding of a Cholesky factorisation and of ``eigvalsh`` (about n²·2⁻⁵³·‖H‖ for
#: n ≤ 64), far below any curvature a descent cares about.
PD_MARGIN = 1e-8

try:  # the kernels behind np.linalg.solve (one right-hand side) and np.linalg.cholesky:
    # for a 10×10 system their Python wrappers cost more than the work
    from numpy.linalg import _umath_linalg

    _solve1, _cholesky = _umath_linalg.solve1, _umath_linalg.cholesky_lo
except (ImportError, AttributeError):  # another numpy: the public functions
    _solve1 = _cholesky = None


def cholesky_or_nan(S: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of each symmetric ``S`` (``(..., n, n)``, its lower
    triangle read), NaN where ``S`` is not numerically positive definite."""
    with np.errstate(invalid="ignore"):
        if _cholesky is not None:
            return _cholesky(S, signature="d->d")  # NaN-filled where the factorisation fails
        out = np.full(S.shape, np.nan)
        for i in np.ndindex(S.shape[:-2]):
            try:
                out[i] = np.linalg.cholesky(S[i])
            except np.linalg.LinAlgError:
                pass
        return out


def surely_positive_definite(H: np.ndarray) -> np.ndarray:
    """For symmetric finite ``H`` (``(..., n, n)``, n ≤ 64): True where ``H − δI`` has a
    Cholesky factor, δ = PD_MARGIN·n·max(diag H) > 0. Then every eigenvalue of H exceeds
    δ less the factorisation's backward error (‖E‖ ≤ c·n²·2⁻⁵³·‖H‖, and ‖H‖ ≤ trace H ≤
    n·max(diag H) for such an H), so H is positive definite and ``eigvalsh``, whose error
    is as small, finds every eigenvalue positive too. False means "not sure": ``eigvalsh``
    then decides. Unlike Gershgorin's discs it accepts every H whose smallest eigenvalue
    is above δ, dominant diagonal or not.

    >>> surely_positive_definite(np.array([[[4.0, 3.0], [3.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]]])).tolist()
    [True, False]
    """
    n = H.shape[-1]
    delta = PD_MARGIN * n * np.diagonal(H, axis1=-2, axis2=-1).max(axis=-1)
    L = cholesky_or_nan(H - delta[..., None, None] * np.eye(n))
    return (delta > 0) & (L[..., -1, -1] > 0)  # (a failed factor is all NaN)


def _solve_regular(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(H, g)`` for float64 ``H`` known to be regular (no singular case
    to report) and one right-hand side ``g``."""
    return np.linalg.solve(H, g) if _solve1 is None else _solve1(H, g, signature="dd->d")


def newton_direction(H: np.ndarray, g: np.ndarray, fast: bool = True) -> tuple[np.ndarray, bool]:
    """Newton's direction for one run, ``(d, modified)``: ``d = H⁻¹g`` where H is
    positive definite, else the saddle-free ``V·|Λ|⁻¹·Vᵀg`` (``modified`` True); NaN
    where H or g is not finite. ``fast`` lets :func:`surely_positive_definite` spare
    ``eigvalsh`` where it cannot change the answer.

    >>> d, modified = newton_direction(np.diag([2.0, -4.0]), np.array([2.0, 4.0]))
    >>> d.tolist(), modified
    ([1.0, 1.0], True)
    """
    if not (np.isfinite(H).all() and np.isfinite(g).all()):
        return np.full_like(g, np.nan), False
    if (fast and surely_positive_definite(H)) or np.linalg.eigvalsh(H).min() > 0:
        return _solve_regular(H, g), False
    w, V = np.linalg.eigh(H)
    w = np.maximum(np.abs(w), 1e-8 * np.abs(w).max())  # all-zero H: 0/0, a NaN step
    return V @ ((V.T @ g) / w), True


def newton(lr: np.ndarray, hessian: Callable[[np.ndarray], np.ndarray], fast: bool = True) -> Optimizer:
    """Newton's method with the exact Hessian: step = −lr·H⁻¹g.

    Where H is positive definite (every eigenvalue > 0) the step uses H itself. Elsewhere
    each eigenvalue λ is replaced by max(|λ|, 1e-8·max|λ|) (the "saddle-free" Newton step):
    the step then always goes downhill, and moves away from saddles instead of towards
    them. Where H has a non-finite entry (f undefined nearby) the step is NaN, so that run
    diverges and the others go on. The state's second entry flags, per run, whether this
    step met a Hessian that is not positive definite; the engine counts the flags of the
    steps it keeps. ``fast``: a Hessian that is positive definite by a safe margin
    (:func:`surely_positive_definite`) skips ``eigvalsh``, whose answer it cannot change.

    >>> opt = newton(np.array([1.0]), lambda X: np.array([[[2.0], [0.0]], [[0.0], [-2.0]]]))
    >>> x = np.array([[1.0], [1.0]])
    >>> step, (_, flag) = opt.update(np.array([[2.0], [-2.0]]), opt.init(x), x)
    >>> (x + step).ravel().tolist(), flag.tolist()
    ([0.0, 2.0], [True])
    """

    def init(x):
        return (np.array(lr, dtype=float), np.zeros(x.shape[1], dtype=bool))

    def update(g, state, x):
        a = state[0]
        if g.shape[1] == 1:  # one run (a lone run's steps are descent/scalar_newton.py's)
            d, modified = newton_direction(hessian(x)[:, :, 0], g[:, 0], fast)
            return -a * d[:, None], (a, np.array([modified]))
        H = np.moveaxis(hessian(x), -1, 0)  # (R, n, n)
        d = np.full(g.shape[::-1], np.nan)  # (R, n)
        finite = np.isfinite(H).all(axis=(1, 2)) & np.isfinite(g).all(axis=0)
        modified = np.zeros(H.shape[0], dtype=bool)
        if finite.any():
            Hf, gf = H[finite], g.T[finite][:, :, None]  # (r, n, n), (r, n, 1)
            # eigvalsh decides; only the Hessians that need it pay for eigenvectors.
            pd = surely_positive_definite(Hf) if fast else np.zeros(Hf.shape[0], dtype=bool)
            if not pd.all():
                pd[~pd] = np.linalg.eigvalsh(Hf[~pd]).min(axis=1) > 0
            df = np.empty(gf.shape[:2])
            if pd.any():
                df[pd] = np.linalg.solve(Hf[pd], gf[pd])[:, :, 0]
            if not pd.all():
                w, V = np.linalg.eigh(Hf[~pd])
                floor = 1e-8 * np.abs(w).max(axis=1, keepdims=True)
                w = np.maximum(np.abs(w), floor)  # all-zero H: 0/0, a NaN step, divergence
                gn = gf[~pd]
                df[~pd] = (V @ ((np.swapaxes(V, 1, 2) @ gn) / w[:, :, None]))[:, :, 0]
            d[finite] = df
            modified[np.flatnonzero(finite)[~pd]] = True
        return -a * d.T, (a, modified)

    return Optimizer("newton", {}, init, update, flag=1)


def make(name: str, lr: np.ndarray, hessian: Callable | None = None, fast: bool = True,
         **hyper: float) -> Optimizer:
    """The optimizer ``name`` with learning rates ``lr`` (one per run) and hyper-parameters
    (``fast``: Newton's shortcut past eigvalsh, see :func:`newton`).

    ``rmsprop`` takes its decay from ``beta2`` and defaults it to 0.9 (Hinton's value)
    rather than Adam's 0.999.
    """
    h = {**DEFAULTS, **{k: v for k, v in hyper.items() if v is not None}}
    if name == "gd":
        return gd(lr)
    if name == "momentum":
        return momentum(lr, h["momentum"])
    if name == "nesterov":
        return nesterov(lr, h["momentum"])
    if name == "adagrad":
        return adagrad(lr, h["eps"])
    if name == "rmsprop":
        return rmsprop(lr, hyper.get("beta2") if hyper.get("beta2") is not None else 0.9, h["eps"])
    if name == "adam":
        return adam(lr, h["beta1"], h["beta2"], h["eps"])
    if name == "newton":
        if hessian is None:
            raise ValueError("newton needs the Hessian")
        return newton(lr, hessian, fast)
    raise ValueError(f"unknown optimizer {name!r}")
