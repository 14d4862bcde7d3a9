"""One run of a first-order optimizer on Python floats: a loop generated for the surface.

The array engine (:mod:`gradlab.descent.runs`) pays numpy's per-call cost on ``(n, 1)``
arrays at every step. For a single run, :func:`run_single` executes a loop written for
this surface and this optimizer instead: ∇f inlined on Python floats (the very code the
engine's float gradient runs, so the same bits), the optimizer's update in the engine's
operations and order, and stop tests that cost one chained comparison a step:

* ``lo ≤ Σg² ≤ hi``. ``lo`` is tol² raised by a relative 1e-13, so a step that passes
  cannot have ‖∇f‖ < tol whatever order numpy sums the squares in; ``hi`` keeps every
  gradient finite, and small enough that no iterate can leave the box ``|x_i| ≤ bound``
  before the next plan.
* A *plan* every few hundred steps bounds how far the iterates can move in the coming
  chunk (gd: lr·‖g‖ a step; momentum adds the velocity; AdaGrad, RMSProp and Adam move a
  coordinate at most lr·Φ a step whatever g is, Φ from Cauchy–Schwarz on their moving
  averages) and sets the chunk's length and ``hi`` so that the box test holds unseen.
  Where no such bound exists (exotic hyper-parameters, an iterate near the edge of the
  box) the chunk tests the box at every step instead.
* f is evaluated only when its finiteness is not already implied: when f is built of
  sums, products, non-negative integer powers and bounded functions and cannot overflow
  inside the box, a finite iterate in the box has a finite f.
* Better still, a plan may *certify* a chunk: from ‖∇f(x_k)‖, a bound H on the Hessian
  and E on the gradient's rounding error over a box around x_k (generated code, see
  :func:`certifier`), no iterate of the chunk can leave the box and no ‖∇f‖ can fall
  below tol, so the chunk runs with no test at all, as fast as a hand-written loop.

A step that fails the fast test is decided exactly (``_decide``: the engine's own norm,
f, the box) and the loop goes on, so statuses, step counts, ``diverged_at`` and iterates
are the array engine's, bit for bit. Where math raises (the log of a negative number, an
overflowing power) numpy would give inf or nan instead: the caller then runs the array
engine, which the loop matches step for step.

>>> from gradlab.calculus.parsing import parse
>>> from gradlab.descent.runs import Objective
>>> obj = Objective(parse("x**2 + 25*y**2"))
>>> status, k, x, gn = run_single(obj, "gd", {}, (-4.0, 2.0), 0.01, 10_000, 1e-6)
>>> status, k
('converged', 787)
"""

from __future__ import annotations

import ast
import math
import re
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from gradlab.calculus import numeric

if TYPE_CHECKING:
    from gradlab.descent.runs import Objective

#: Optimizers whose single runs take this generated loop (Newton, which needs linear
#: algebra, has its own: descent/scalar_newton.py).
SCALAR_OPTIMIZERS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: Beyond this many coordinates numpy's arrays win, and the generated code would grow
#: past what Python compiles comfortably.
SCALAR_MAX_N = 64
#: The longest chunk between two plans (a plan costs about as much as ten steps).
MAX_CHUNK = 1024
#: Below this a folded chunk is not worth its plan: the chunk tests the box every step.
MIN_CHUNK = 16
#: The largest Σg² a fast step accepts: every gradient it passes is finite.
_HMAX = 1e300
#: Relative slack for rounding in the plans' bounds (a chunk makes at most MAX_CHUNK
#: steps, each off by a few units in the last place).
_SLACK = 1e-9
_MATH_ERRORS = (ValueError, OverflowError, ZeroDivisionError, TypeError)
#: Loops: stop test folded into ``lo ≤ Σg² ≤ hi`` (+ Adam's bits), the box tested every
#: step, or no test at all (a chunk certified free of events beforehand).
_FOLDED, _BOXED, _FREE = 0, 4, 8
#: The longest certified chunk, and the most coordinates a certificate is sought for
#: (its Hessian bound is generated code with n² terms).
MAX_FREE, FREE_MAX_N = 8192, 16
#: A run seeks certificates when it has at least this many steps per operation of ∇f.
CERTIFY_STEPS_PER_OP = 10_000
#: Relative bound on the rounding error of a generated gradient, per operation, taken
#: 10⁷ times larger than a unit in the last place (see ``_magnitude_src``).
_ROUNDING = 1e-9

# The update of each optimizer on one coordinate, in exactly the operations (and order)
# of optimizers.py, so the float path and the array path give the same bits (``na`` is
# −lr, ``ob1`` 1 − β₁, …: the same floats, computed once).
_UPDATES = {
    "gd": ["x{i} = x{i} + na * g{i}"],
    "momentum": ["s{i} = beta * s{i} + g{i}", "x{i} = x{i} + na * s{i}"],
    "nesterov": ["s{i} = beta * s{i} + g{i}", "x{i} = x{i} + na * (beta * s{i} + g{i})"],
    "adagrad": ["s{i} = s{i} + g{i} * g{i}", "x{i} = x{i} + na * g{i} / (sqrt(s{i}) + eps)"],
    "rmsprop": ["s{i} = decay * s{i} + odecay * g{i} * g{i}", "x{i} = x{i} + na * g{i} / (sqrt(s{i}) + eps)"],
    "adam": ["s{i} = beta1 * s{i} + ob1 * g{i}", "u{i} = beta2 * u{i} + ob2 * g{i} * g{i}",
             "x{i} = x{i} + na * (s{i} / c1) / (sqrt(u{i} / c2) + eps)"],
}


def _code(args, exprs, cse: Callable, names: list[str]) -> tuple[list[str], dict]:
    """Straight-line Python for ``names = exprs`` as lambdify prints it for the ``math``
    module (the code of ``numeric.lambdify_scalar``), with the variables ``_v0, _v1, …``
    written ``x0, x1, …``; also the namespace the code needs."""
    import inspect

    import sympy

    fn = sympy.lambdify(args, exprs, modules=[numeric._MATH_FUNCS, "math"], cse=cse, dummify=False)
    lines = inspect.getsource(fn).splitlines()[1:]
    ret = lines[-1].strip()
    assert ret.startswith("return [") and ret.endswith("]")
    body = [ln.strip() for ln in lines[:-1]]
    # one assignment a name, no tuple built and unpacked at every step
    values = ast.parse(ret[len("return "):]).body[0].value.elts
    body += [f"{name} = {ast.unparse(v)}" for name, v in zip(names, values)]
    return [re.sub(r"\b_v(\d+)\b", r"x\1", ln) for ln in body], fn.__globals__


def _bodies(objective: Objective) -> tuple[list[str], list[str], dict]:
    """The code of ∇f (``g0, g1, …``) and of f (``fv``), f reusing the gradient's
    temporaries ``_c…`` where it contains them whole.

    The gradient's code is the engine's float gradient exactly (the same CSE, the same
    printing), so its bits are the engine's; f only decides finiteness, so its code may
    share work freely.
    """
    import sympy

    n = objective.n
    args, grad, _ = numeric._safe(objective.variables, objective.gradient_exprs)
    _, [f], _ = numeric._safe(objective.variables, [objective.parsed.expr])
    replacements, reduced = sympy.cse(grad, symbols=sympy.numbered_symbols("_c"))
    gbody, ns = _code(args, grad, lambda es: (replacements, reduced), [f"g{i}" for i in range(n)])
    whole: dict = {}
    for sym, sub in replacements:
        whole[sym] = sub.xreplace(whole)
    shared = f.xreplace({full: sym for sym, full in whole.items()})
    used = sorted(shared.free_symbols - set(args), key=lambda s: int(s.name[2:]))
    fbody, _ = _code([*args, *used], [shared], lambda es: sympy.cse(es, symbols=sympy.numbered_symbols("_e")),
                     ["fv"])
    return gbody, fbody, ns


def _magnitude(expr, bound: float) -> float | None:
    """An upper bound of |expr| over the box |x_i| ≤ bound when expr is built only of
    sums, products, non-negative powers and functions that stay finite there; else None.
    (Float arithmetic on such an expression stays finite where the bound does.)"""
    import sympy

    from gradlab.calculus import functions as gf

    try:
        if expr.is_number:
            v = abs(complex(expr))
            return v if v < math.inf else None
        if expr.is_Symbol:
            return bound
        if expr.is_Add or expr.is_Mul:
            parts = [_magnitude(a, bound) for a in expr.args]
            if any(p is None for p in parts):
                return None
            return math.fsum(parts) if expr.is_Add else math.prod(parts)
        if expr.is_Pow:
            base, e = expr.args
            m = _magnitude(base, bound)
            if m is None or not e.is_number or not e.is_real or e.is_negative or e.is_zero:
                return None
            if not (e.is_integer or base.is_nonnegative):
                return None  # a fractional power of a negative number is not real
            return m ** float(e)
        arg = [_magnitude(a, bound) for a in expr.args]
        if any(a is None for a in arg):
            return None
        if isinstance(expr, (sympy.sin, sympy.cos, sympy.tanh, gf.sigmoid, gf.step, sympy.sign)):
            return 1.0
        if isinstance(expr, sympy.atan):
            return math.pi / 2
        if isinstance(expr, (sympy.Abs, gf.relu)):
            return arg[0]
        if isinstance(expr, gf.softplus):
            return arg[0] + 1.0
        if isinstance(expr, sympy.exp):
            return 1.0 if expr.args[0].is_nonpositive else math.exp(arg[0])
    except (OverflowError, TypeError, ValueError, AttributeError):
        pass
    return None


def _magnitude_src(expr, amplify: bool = False) -> str | None:
    """Python source bounding |expr| over the box |x_i| ≤ m_i (the ``_v{i}`` are written
    ``m{i}``), for sums, products, non-negative integer powers, sin, cos, tanh and exp;
    else None.

    With ``amplify`` each bounded function also counts its argument's size, ``1 + |u|``
    for sin u: the first-order rounding error of the expression is then at most about
    (operations) × 2⁻⁵³ × this bound (an argument off by ε|u| moves sin u by ε|u|), which
    ``_ROUNDING`` covers ten million times over.
    """
    import sympy

    if expr.is_number:
        try:
            v = abs(complex(expr))
        except TypeError:
            return None
        return repr(v) if v < math.inf else None
    if expr.is_Symbol:
        return f"m{expr.name[2:]}" if re.fullmatch(r"_v\d+", expr.name) else None
    parts = [_magnitude_src(a, amplify) for a in expr.args]
    if any(p is None for p in parts):
        return None
    if expr.is_Add or expr.is_Mul:
        return "(" + (" + " if expr.is_Add else " * ").join(parts) + ")"
    if expr.is_Pow:
        e = expr.args[1]
        return f"{parts[0]} ** {int(e)}" if e.is_Integer and e >= 0 else None
    if isinstance(expr, (sympy.sin, sympy.cos, sympy.tanh)):
        return f"(1.0 + {parts[0]})" if amplify else "1.0"
    if isinstance(expr, sympy.exp):
        top = "1.0" if expr.args[0].is_nonpositive else f"exp({parts[0]})"
        return f"{top} * (1.0 + {parts[0]})" if amplify else top
    return None


def certifier(objective: Objective) -> Callable | None:
    """``bounds(m) -> (H, E)`` over the box |x_i| ≤ m_i: H ≥ ‖∇²f‖₂ (the largest absolute
    row sum of bounds of the Hessian's entries) and E ≥ ‖g̃ − ∇f‖₂, the rounding error of
    the generated gradient; None where f is not made of what ``_magnitude_src`` bounds.
    Made once per objective."""
    cache = objective.__dict__.setdefault("_loops", {})
    if "_certifier" in cache:
        return cache["_certifier"]
    cache["_certifier"] = None
    n = objective.n
    if n > FREE_MAX_N or not f_is_implied(objective):
        return None
    import sympy

    args, grad, _ = numeric._safe(objective.variables, objective.gradient_exprs)
    errs = []
    for g in grad:  # the gradient first: it is cheap to check, the Hessian is not
        src = _magnitude_src(g, amplify=True)
        if src is None:
            return None
        errs.append(f"{_ROUNDING * (sympy.count_ops(g) + 1)!r} * {src}")
    H = numeric.hessian(objective.parsed.expr, objective.variables, objective.gradient_exprs)
    _, hess, _ = numeric._safe(objective.variables, [e for row in H for e in row])
    rows = []
    for i in range(n):
        entries = [_magnitude_src(e) for e in hess[i * n:(i + 1) * n]]
        if any(e is None for e in entries):
            return None
        rows.append(" + ".join(entries))
    code = (f"def _bounds({', '.join(f'm{i}' for i in range(n))}, *, exp=exp):\n"
            f"    return max({', '.join(f'({r})' for r in rows)}, 0.0), {' + '.join(errs)}\n")
    ns = {"exp": math.exp}
    exec(compile(code, "<gradlab certificate bounds>", "exec"), ns)  # noqa: S102
    cache["_certifier"] = ns["_bounds"]
    return ns["_bounds"]


def _gradient_ops(objective: Objective) -> int:
    """The operations of ∇f (SymPy's count), a proxy for what its certificate costs."""
    cache = objective.__dict__.setdefault("_loops", {})
    if "_ops" not in cache:
        import sympy

        cache["_ops"] = sum(sympy.count_ops(g) for g in objective.gradient_exprs)
    return cache["_ops"]


def f_is_implied(objective: Objective) -> bool:
    """True when f is finite wherever the iterate is in the box ``|x_i| ≤ bound``: then
    the box test alone decides what f's finiteness would."""
    cache = objective.__dict__.setdefault("_loops", {})
    if "_f_implied" not in cache:
        _, [f], _ = numeric._safe(objective.variables, [objective.parsed.expr])
        m = _magnitude(f, float(objective.bound))
        cache["_f_implied"] = m is not None and m < 1e300
    return cache["_f_implied"]


def _norm(gs: Sequence[float]) -> float:
    """‖g‖ exactly as the array engine computes it for one run: numpy's sum of squares
    (its order of summation, not Python's), scaled where that under- or overflows."""
    G = np.array(gs, dtype=float).reshape(1, -1, 1)
    with np.errstate(all="ignore"):
        gn2 = np.einsum("jir,jir->jr", G, G)
        g2 = float(gn2[0, 0])
        if 1e-290 < g2 < math.inf:
            return math.sqrt(g2)
        sub = np.abs(G[:, :, 0])
        m = sub.max(axis=1)
        scaled = m * np.sqrt(np.sum((sub / m[:, None]) ** 2, axis=1))
        return float(scaled[0]) if 0 < m[0] < math.inf else float(m[0])


def _adam_reach(beta1: float, beta2: float) -> float | None:
    """Φ with |m̂_i| / (√v̂_i + ε) ≤ Φ at every step of Adam, or None.

    Cauchy–Schwarz on the moving averages gives, at step t, with r = β₁²/β₂ < 1,
    Φ(t) = (1−β₁)/(1−β₁ᵗ) · √((1−β₂ᵗ)/(1−β₂)) · √((1−rᵗ)/(1−r)); the first 4,000 steps
    are taken as they are and the rest bounded by their limit with (1−β₁)/(1−β₁⁴⁰⁰⁰).
    """
    if not (0 <= beta1 < 1 and 0 < beta2 < 1 and beta1 * beta1 < beta2 * (1 - 1e-9)):
        return None
    r = beta1 * beta1 / beta2
    t = np.arange(1, 4001, dtype=float)
    with np.errstate(all="ignore"):
        phi = ((1 - beta1) / (1 - beta1 ** t) * np.sqrt((1 - beta2 ** t) / (1 - beta2))
               * np.sqrt((1 - r ** t) / (1 - r)))
        tail = (1 - beta1) / (1 - beta1 ** 4000) / math.sqrt((1 - beta2) * (1 - r))
    top = max(float(phi.max()), tail)
    return top * (1 + 1e-6) if math.isfinite(top) else None


def _planner(optimizer: str, steps: int, bound: float, a: float, beta: float, beta1: float, beta2: float,
             decay: float, eps: float, tol: float = math.nan, n: int = 1, bounds: Callable | None = None,
             grad: Callable | None = None) -> Callable:
    """``plan(k, x, s, gn2) -> (K, hi, mode)``: the next chunk runs steps ``k … K−1`` fast,
    each accepting ``Σg² ≤ hi``; ``mode`` says which loop (folded box test, with Adam's
    bias corrections known to be 1.0 or not, the box tested every step, or no test at all).

    A chunk needs no test at all when it is *certified*: with ``bounds`` (H ≥ ‖∇²f‖ and
    E ≥ the gradient's rounding error over a box around x_k, see :func:`certifier`) and
    ‖g_k‖, every iterate of the next L steps stays within r of x_k (r from the same
    per-step moves as below, with ‖g_j‖ ≤ ‖g_k‖ + 2E + H·r), hence in the box, and every
    ‖g_j‖ ≥ ‖g_k‖ − 2E − H·r ≥ tol, hence no stop. ``grad`` gives g_k on floats."""
    edge = bound * (1 - 1e-12)
    aa = abs(a) * (1 + _SLACK)
    reach: float | None = None  # per-step move of a coordinate bounded regardless of g
    heavy = optimizer in ("momentum", "nesterov")
    foldable = math.isfinite(aa)
    if optimizer in ("adagrad", "rmsprop", "adam"):
        # the ε that keeps an underflowing √v from lifting the bound: far above 1e-150
        foldable = foldable and 1e-100 <= eps < math.inf
        if optimizer == "adagrad":
            reach = 1.0
        elif optimizer == "rmsprop":
            reach = 1 / math.sqrt(1 - decay) if 0 <= decay < 1 else None
        else:
            reach = _adam_reach(beta1, beta2)
        foldable = foldable and reach is not None
        if reach is not None:
            reach *= 1 + _SLACK
    elif heavy:
        foldable = foldable and abs(beta) <= 1
    cap = 1 / (1 - abs(beta)) if heavy and abs(beta) < 1 else math.inf
    adam = optimizer == "adam"
    monotone1, monotone2 = 0 <= beta1 < 1, 0 <= beta2 < 1

    def boxed(k: int) -> tuple[int, float, int]:
        return min(k + MAX_CHUNK, steps), _HMAX, _BOXED

    def bits(k: int) -> int:  # Adam's bias corrections that are 1.0 from step k on
        if not adam:
            return 0
        return (monotone1 and 1 - beta1 ** (k + 1) == 1.0) + 2 * (monotone2 and 1 - beta2 ** (k + 1) == 1.0)

    nesterov = optimizer == "nesterov"
    need = tol * (1 + _SLACK) if tol > 0 else -math.inf  # (a NaN tol stops nothing)
    drift = 2.3e-16 * edge * math.sqrt(n)  # rounding of x + step, per step, at most
    free = {"cool": 0, "wait": 0}

    def moves(L: int, s0: float) -> tuple[float, float]:
        """(P, Q): over L steps ‖x_j − x_k‖ ≤ lr·L·(P + Q·G) when every ‖g‖ ≤ G."""
        if reach is not None:
            return reach * math.sqrt(n), 0.0
        if heavy:
            return s0, min(L, cap) + nesterov
        return 0.0, 1.0

    def certified(L: int, xs: tuple, top: float, g0: float, s0: float) -> bool:
        step = aa * L
        P, Q = moves(L, s0)
        r1 = 1.5 * (step * (P + Q * g0) + L * drift) + 1e-300
        if not top + r1 <= edge:
            return False
        H, E = bounds(*(abs(v) + r1 for v in xs))
        room = 1 - step * Q * H
        if not room > 0:
            return False
        r2 = (step * (P + Q * (g0 + 2 * E)) + L * drift) / room
        # every ‖g_j‖ within [g0 − 2E − H·r2, g0 + 2E + H·r2]: finite, and not below tol
        return r2 <= r1 and g0 + 2 * E + H * r2 < _HMAX and g0 - 2 * E - H * r2 >= need

    def longest(xs: tuple, top: float, g0: float, s0: float) -> float:
        """A first guess of the longest chunk a certificate allows, from H at x_k: the
        move must stay in the box, and H times it well below ‖g‖ − tol."""
        H0, _ = bounds(*map(abs, xs))
        P, Q = moves(MAX_FREE, s0)
        per_step = aa * (P + Q * g0) + drift
        L = (edge - top) / (1.5 * per_step) if per_step > 0 else math.inf
        if H0 > 0:
            L = min(L, (g0 - max(need, 0.0)) / (2 * per_step * H0) if per_step > 0 else math.inf)
            if Q > 0 and aa > 0:
                L = min(L, 1 / (3 * aa * Q * H0))
        return L

    def certify(k: int, xs: tuple, ss: tuple) -> tuple[int, float, int] | None:
        if free["wait"] > 0:  # certificates failed lately: not at every plan
            free["wait"] -= 1
            return None
        try:
            g0 = math.hypot(*grad(*xs))
            if g0 < math.inf:
                top, s0 = max(map(abs, xs)), (math.hypot(*ss) if heavy else 0.0)
                guess = longest(xs, top, g0, s0)
                L = int(min(MAX_FREE, guess)) if guess >= 4 * MIN_CHUNK else 0
                for L in (L, L // 2, L // 4):
                    if L >= 4 * MIN_CHUNK and certified(L, xs, top, g0, s0):
                        free["cool"] = 0
                        return min(k + L, steps), 0.0, _FREE + bits(k)
        except _MATH_ERRORS:
            pass
        free["cool"] = min(2 * free["cool"] + 1, 3)
        free["wait"] = free["cool"]
        return None

    def plan(k: int, xs: tuple, ss: tuple, gn2: float) -> tuple[int, float, int]:
        if k >= steps or not all(-edge <= v <= edge for v in xs):
            return k, 0.0, _BOXED  # the last step, or an iterate at the edge: decide it exactly
        if not foldable:
            return boxed(k)
        if bounds is not None and tol < math.inf:
            chunk = certify(k, xs, ss)
            if chunk is not None:
                return chunk
        margin = edge - max(map(abs, xs))
        if aa == 0:
            L, hi = MAX_CHUNK, _HMAX
        elif reach is not None:
            L, hi = min(MAX_CHUNK, int(margin / (aa * reach))), _HMAX
        else:
            s0 = math.hypot(*ss) if heavy else 0.0
            want = 4 * math.sqrt(gn2) if gn2 < _HMAX else math.inf  # room for ‖g‖ to grow 4×
            L, top = MAX_CHUNK, -1.0
            while L >= MIN_CHUNK:
                # ‖x_j − x_k‖ ≤ lr·L·(‖s_k‖ + c·G) over the chunk when every ‖g‖ ≤ G
                c = (min(L, cap) + (optimizer == "nesterov")) if heavy else 1.0
                top = (margin / (aa * L) - s0) / c
                if top >= want:
                    break
                L //= 2
            hi = min(_HMAX, top * top) if top > 0 else 0.0
        if L < MIN_CHUNK:
            return boxed(k)
        return min(k + L, steps), hi, _FOLDED + bits(k)

    return plan


def _decider(steps: int, tol: float, bound: float) -> Callable:
    """``decide(k, x, g, fv)``: the array engine's stop tests at step k, exactly:
    ``(status, ‖g‖)`` when the run stops there, else None."""
    nb = -bound

    def decide(k: int, xs: tuple, gs: tuple, fv: float) -> tuple[str, float] | None:
        gn = _norm(gs)
        if not (math.isfinite(gn) and math.isfinite(fv) and all(nb <= v <= bound for v in xs)):
            return "diverged", gn
        if gn < tol:
            return "converged", gn
        if k == steps:
            return "max_steps", gn
        return None

    return decide


def _generate(objective: Objective, optimizer: str) -> Callable:
    """The source of the loop for this surface and optimizer, compiled once."""
    n = objective.n
    xs = [f"x{i}" for i in range(n)]
    gs = [f"g{i}" for i in range(n)]
    gbody, fbody, namespace = _bodies(objective)
    check_f = not f_is_implied(objective)
    adam = optimizer == "adam"
    state = [f"s{i}" for i in range(n)] + ([f"u{i}" for i in range(n)] if adam else [])
    sq = " + ".join(f"{g} * {g}" for g in gs)
    xt = f"({', '.join(xs)},)"
    st = f"({', '.join(state[:n])},)"

    def update(mode: int) -> list[str]:
        if not adam:
            return [ln.format(i=i) for i in range(n) for ln in _UPDATES[optimizer]]
        # a bias correction known to be 1.0 is left out: x/1.0 is x, bit for bit
        m_hat, v_hat = ("s{i}" if mode & 1 else "(s{i} / c1)"), ("u{i}" if mode & 2 else "u{i} / c2")
        lines = [] if mode & 1 else ["c1 = 1 - beta1 ** (k + 1)"]
        lines += [] if mode & 2 else ["c2 = 1 - beta2 ** (k + 1)"]
        for i in range(n):
            lines += [_UPDATES["adam"][0].format(i=i), _UPDATES["adam"][1].format(i=i),
                      f"x{{i}} = x{{i}} + na * {m_hat} / (sqrt({v_hat}) + eps)".format(i=i)]
        return lines

    def fast(mode: int) -> list[str]:
        test = f"lo <= {sq} <= hi"
        if check_f:
            test += " and ninf < fv < inf"
        if mode == _BOXED:
            test += "".join(f" and nb <= {x} <= bound" for x in xs)
        return [
            "for k in range(k, K):",
            *(f"    {ln}" for ln in gbody),
            *((f"    {ln}" for ln in fbody) if check_f else ()),
            f"    if not ({test}):",
            "        break",
            *(f"    {ln}" for ln in update(mode)),
            "else:",
            "    k = K",
            f"    gn2 = {sq}",
            "    continue",
            "break",
        ]

    def free(mode: int) -> list[str]:
        return [
            "for k in range(k, K):",
            *(f"    {ln}" for ln in gbody),
            *(f"    {ln}" for ln in update(mode)),
            "k = K",
            f"gn2 = {sq}",
            "continue",
        ]

    modes = [_FREE, _FREE + 1, _FREE + 2, _FREE + 3, _FOLDED, 1, 2, 3, _BOXED] if adam else [_FREE, _FOLDED, _BOXED]
    dispatch = []
    for i, mode in enumerate(modes):
        dispatch.append(f"{'if' if i == 0 else 'elif'} mode == {mode}:")
        dispatch += [f"    {ln}" for ln in (free(mode) if mode >= _FREE else fast(mode))]
    used = sorted({w for ln in gbody + fbody for w in re.findall(r"\b[A-Za-z_]\w*\b", ln)} & set(namespace))
    src = [
        "def _loop(x, steps, plan, decide, lo, bound, a, beta, beta1, beta2, decay, eps, *, sqrt=sqrt"
        + "".join(f", {u}={u}" for u in used if u != "sqrt") + "):",
        f"    {', '.join(xs)}, = x",
        "    na, nb, inf, ninf = -a, -bound, float('inf'), float('-inf')",
        "    ob1, ob2, odecay = 1 - beta1, 1 - beta2, 1 - decay",
        *(f"    {s} = 0.0" for s in state),
        "    k = 0",
        "    try:",
        "        while True:",
        # the slow step: the exact tests at step k, then the update
        *(f"            {ln}" for ln in gbody),
        *(f"            {ln}" for ln in fbody),
        f"            out = decide(k, {xt}, ({', '.join(gs)},), fv)",
        "            if out is not None:",
        f"                return out[0], k, {xt}, out[1]",
        f"            gn2 = {sq}",
        *(f"            {ln}" for ln in update(_BOXED)),
        "            k += 1",
        "            while True:",
        f"                K, hi, mode = plan(k, {xt}, {st}, gn2)",
        "                if K <= k:",
        "                    break",
        *(f"                {ln}" for ln in dispatch),
        "                break",
        "    except _MATH_ERRORS:",
        "        return None, 0, None, None",
    ]
    ns = dict(namespace)
    ns.setdefault("sqrt", math.sqrt)
    ns["_MATH_ERRORS"] = _MATH_ERRORS
    code = "\n".join(src) + "\n"
    exec(compile(code, f"<gradlab scalar loop {optimizer}>", "exec"), ns)  # noqa: S102
    loop = ns["_loop"]
    loop.source = code  # for whoever debugs it
    return loop


def scalar_loop(objective: Objective, optimizer: str) -> Callable:
    """The generated loop for one run of ``optimizer`` on ``objective`` (made once per
    objective and optimizer); :func:`run_single` calls it."""
    cache = objective.__dict__.setdefault("_loops", {})
    key = ("_scalar", optimizer)
    if key not in cache:
        cache[key] = _generate(objective, optimizer)
    return cache[key]


def handles(objective: Objective, optimizer: str, steps: int) -> bool:
    """Whether :func:`run_single` can make this run (else the array engine does)."""
    return optimizer in SCALAR_OPTIMIZERS and objective.n <= SCALAR_MAX_N and steps >= 0


def lower_bound(tol: float) -> float:
    """The least Σg² a fast step accepts: tol² raised by a relative 1e-13, so that Σg² ≥
    it in any order of summation means ‖g‖ ≥ tol; no lower than 1e-280, where numpy's
    squared norm is still exact enough to be used (0 where nothing converges, a NaN tol
    included; inf where tol² overflows: every step is then decided exactly).

    >>> lower_bound(0.0), lower_bound(1e200)
    (0.0, inf)
    """
    if not tol > 0:
        return 0.0
    return max(tol * tol * (1 + 1e-13), 1e-280) if tol < 1e140 else math.inf


def run_single(objective: Objective, optimizer: str, hyper: dict, start: Sequence[float], lr: float,
               steps: int, tol: float) -> tuple[str, int, tuple[float, ...], float] | None:
    """One run on Python floats: ``(status, steps, x, ‖∇f‖)`` at the step where it stopped
    (for ``diverged`` that step is ``diverged_at``), or None where the array engine must
    make it (math raised where numpy gives inf or nan).

    ``hyper`` is the optimizer's hyper-parameters as ``optimizers.make`` resolved them.
    """
    if not handles(objective, optimizer, steps):
        return None
    h = {"momentum": 0.0, "beta1": 0.0, "beta2": 0.0, "eps": 0.0, **hyper}
    lr, tol, bound = float(lr), float(tol), float(objective.bound)
    lo = lower_bound(tol)
    # The certificate's bounds cost a symbolic Hessian (milliseconds to a few tenths of a
    # second, growing with ∇f): worth it only for runs long enough to repay it.
    bounds = certifier(objective) if steps >= CERTIFY_STEPS_PER_OP * (1 + _gradient_ops(objective)) else None
    plan = _planner(optimizer, steps, bound, lr, h["momentum"], h["beta1"], h["beta2"], h["beta2"], h["eps"],
                    tol, objective.n, bounds, objective.grad.scalar if bounds is not None else None)
    out = scalar_loop(objective, optimizer)(
        tuple(float(v) for v in start), steps, plan, _decider(steps, tol, bound), lo, bound, lr, h["momentum"],
        h["beta1"], h["beta2"], h["beta2"], h["eps"])
    return None if out[0] is None else out
