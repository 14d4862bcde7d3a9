"""Taylor models of f at a point: the linear and quadratic models, how wrong they are, and
what they say about a gradient step.

At a point a with g = ∇f(a) and H = ∇²f(a), the models of f(a + h) are

    m₁(h) = f(a) + gᵀh                  (error O(‖h‖²))
    m₂(h) = f(a) + gᵀh + ½hᵀHh          (error O(‖h‖³); exact for a quadratic)

Where H is positive definite, m₂ has one minimiser, h* = −H⁻¹g: the Newton step. For a
gradient step h = −lr·g, m₁ predicts the decrease lr‖g‖² and m₂ predicts
lr‖g‖² − ½lr²·gᵀHg, which stays positive only while lr < 2‖g‖²/gᵀHg (the model's *safe
step*; on a quadratic with g along the top eigenvector it is 2/λ_max, the stability
bound of gd) and is largest at the Cauchy step ‖g‖²/gᵀHg. The ratio of the actual
decrease to m₂'s prediction is a trust-region method's ρ: near 1, the model can be
trusted at that step.

>>> from gradlab.calculus.parsing import parse, parse_point
>>> t = taylor(parse("x**2 + 25*y**2"), parse_point("1,1", 2), lrs=[0.02])
>>> str(t.safe_step.exact), t.safe_step.value
('313/7813', 0.04006143606809164)
>>> [str(v) for v in t.newton_step.exact]
['-1', '-1']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.derivatives import Value
from gradlab.errors import BadInput, LimitExceeded
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.calculus.pointwise import _at, point_fields
from gradlab.views import View, plural
from gradlab.present import Presentable

OFFSETS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
MAX_EXACT_DIMS = 4
MAX_DIMS = 20  # the exact Hessian has n² entries, each evaluated exactly


@dataclass(frozen=True)
class Sample:
    """f and both models at a + t·u: the offset ``t`` along the unit direction u, and
    the absolute errors |f − m₁|, |f − m₂|."""

    t: float
    f: float
    m1: float
    m2: float

    @property
    def err1(self) -> float:
        return abs(self.f - self.m1)

    @property
    def err2(self) -> float:
        return abs(self.f - self.m2)


@dataclass(frozen=True)
class StepCheck:
    """A gradient step of size ``lr`` from a: the decrease m₁ and m₂ predict, the actual
    decrease f(a) − f(a − lr·g), and ``ratio`` = actual / m₂'s prediction (``None`` when
    m₂ predicts no change)."""

    lr: float
    predicted1: float
    predicted2: float
    actual: float
    ratio: float | None


@dataclass(frozen=True)
class TaylorResult(Presentable):
    """The Taylor models of ``parsed`` at ``point`` (exact where SymPy gives it).

    - ``f``, ``gradient``, ``hessian``: f, ∇f and ∇²f at the point (exact and float);
      ``eigenvalues``: H's, ascending; ``order``: the highest model asked for (1 or 2).
    - ``linear``, ``quadratic``: the models as expressions in the variables.
    - ``newton_step``, ``minimiser``, ``model_min``: h* = −H⁻¹g, a + h* and m₂ there, where
      H is positive definite (``None`` otherwise, with ``newton_note`` saying why).
    - ``safe_step``: 2‖g‖²/gᵀHg, ``cauchy_step``: ‖g‖²/gᵀHg (``None`` when gᵀHg ≤ 0).
    - ``direction``: the unit vector u of the samples; ``samples``: f, m₁, m₂ at a + t·u;
      ``slope1``, ``slope2``: least-squares slopes of log error over log t for t ≤ 0.1
      (2 and 3 for a smooth f; ``None`` where the errors are all at rounding level).
    - ``steps``: predicted against actual decrease for gradient steps of the given rates.
    """

    parsed: Parsed
    point: tuple[sympy.Expr, ...]
    order: int
    f: Value
    gradient: tuple[Value, ...]
    hessian: tuple[tuple[Value, ...], ...]
    eigenvalues: tuple[float, ...]
    linear: sympy.Expr
    quadratic: sympy.Expr
    newton_step: Value | None
    minimiser: Value | None
    model_min: float | None
    newton_note: str
    safe_step: Value | None
    cauchy_step: Value | None
    direction: tuple[float, ...]
    samples: tuple[Sample, ...]
    slope1: float | None
    slope2: float | None
    steps: tuple[StepCheck, ...]

    @property
    def g(self) -> np.ndarray:
        return np.array([v.value for v in self.gradient])

    @property
    def H(self) -> np.ndarray:
        return np.array([[v.value for v in row] for row in self.hessian])

    @property
    def a(self) -> np.ndarray:
        return np.array([float(v) for v in self.point])

    def model(self, X: np.ndarray, order: int | None = None) -> np.ndarray:
        """m₁ or m₂ (``order``, default the result's) at points X of shape (n, ...)."""
        order = order or self.order
        h = np.asarray(X, dtype=float) - self.a.reshape(-1, *([1] * (np.ndim(X) - 1)))
        out = self.f.value + np.tensordot(self.g, h, axes=1)
        if order == 2:
            out = out + 0.5 * np.einsum("i...,ij,j...->...", h, self.H, h)
        return out

    def to_record(self) -> dict[str, Any]:
        def val(v: Value | None):
            if v is None:
                return None
            if isinstance(v.exact, tuple):
                return {"exact": [str(e) for e in v.exact] if v.exact[0] is not None else None,
                        "value": list(v.value)}
            return {"exact": str(v.exact) if v.exact is not None else None, "value": v.value}

        return {
            "command": "taylor", "expression": self.parsed.text,
            "variables": [v.name for v in self.parsed.variables], **point_fields(self.point),
            "order": self.order,
            "f": {"exact": str(self.f.exact), "value": self.f.value},
            "gradient": {"exact": [str(v.exact) for v in self.gradient], "value": [v.value for v in self.gradient]},
            "hessian": {"exact": [[str(v.exact) for v in row] for row in self.hessian],
                        "value": [[v.value for v in row] for row in self.hessian]},
            "eigenvalues": list(self.eigenvalues),
            "linear_model": to_text(self.linear),
            "quadratic_model": to_text(self.quadratic) if self.order == 2 else None,
            "newton_step": val(self.newton_step), "minimiser": val(self.minimiser),
            "model_at_minimiser": self.model_min, "newton_note": self.newton_note or None,
            "safe_step": val(self.safe_step), "cauchy_step": val(self.cauchy_step),
            "direction": list(self.direction),
            "samples": [{"t": s.t, "f": s.f, "m1": s.m1, "m2": s.m2, "error1": s.err1, "error2": s.err2}
                        for s in self.samples],
            "error_slope1": self.slope1, "error_slope2": self.slope2 if self.order == 2 else None,
            "gradient_steps": [{"lr": c.lr, "predicted_decrease_linear": c.predicted1,
                                "predicted_decrease_quadratic": c.predicted2, "actual_decrease": c.actual,
                                "ratio": c.ratio} for c in self.steps],
        }

    def view(self) -> View:
        rows: list[tuple] = []
        plain: list[tuple] = []

        def add(name: str, exact: Any, value: Any, plain_exact: Any = None) -> None:
            rows.append((name, exact, value))
            # plain output: a vector one cell per coordinate, exact ones as gradlab reads them
            plain.append((name, exact if plain_exact is None else plain_exact, value))

        def texts(v: Value) -> tuple | None:
            return None if v.exact is None or v.exact[0] is None else tuple(to_text(e) for e in v.exact)

        add("f(a)", str(self.f.exact), self.f.value)
        add("∇f(a)", ", ".join(str(v.exact) for v in self.gradient), tuple(v.value for v in self.gradient),
            tuple(to_text(v.exact) for v in self.gradient))
        if self.order == 2:
            add("eigenvalues of H(a)", "", tuple(self.eigenvalues))
        add("m₁ = f + ∇f·h", to_text(self.linear), None)
        if self.order == 2:
            add("m₂ = m₁ + ½hᵀHh", to_text(self.quadratic), None)
            if self.newton_step is not None:
                add("Newton step h* = −H⁻¹∇f", _exact_vec(self.newton_step), self.newton_step.value,
                    texts(self.newton_step))
                add("minimiser of m₂, a + h*", _exact_vec(self.minimiser), self.minimiser.value, texts(self.minimiser))
                add("m₂ at its minimiser", "", self.model_min)
            else:
                add("minimiser of m₂", self.newton_note, None)
            if self.safe_step is not None:
                add("safe step 2‖g‖²/gᵀHg", str(self.safe_step.exact) if self.safe_step.exact is not None else "",
                    self.safe_step.value)
                add("Cauchy step ‖g‖²/gᵀHg", str(self.cauchy_step.exact) if self.cauchy_step.exact is not None
                    else "", self.cauchy_step.value)
        for s in self.samples:
            errs = f"|f − m₁| = {s.err1:.3g}" + (f", |f − m₂| = {s.err2:.3g}" if self.order == 2 else "")
            rows.append((f"error at t = {s.t:g}", errs, None))
            plain.append((f"error at t = {s.t:g}", s.err1, s.err2 if self.order == 2 else None))
        if self.slope1 is not None:
            add("log-log slope of |f − m₁|", "2 for a smooth f", self.slope1)
        if self.order == 2 and self.slope2 is not None:
            add("log-log slope of |f − m₂|", "3 for a smooth f", self.slope2)
        for c in self.steps:
            ratio = f"{c.ratio:.4g}" if c.ratio is not None else "—"
            rows.append((f"gradient step lr = {c.lr:g}",
                         f"predicted {c.predicted2 if self.order == 2 else c.predicted1:.4g}, actual {c.actual:.4g}, "
                         f"ratio {ratio}", None))
            plain.append((f"gradient step lr = {c.lr:g}", c.predicted1, c.predicted2, c.actual, c.ratio))
        notes = [f"samples at a + t·u, u = ({', '.join(f'{v:.4g}' for v in self.direction)})"]
        if self.steps:
            notes.append("gradient steps: decrease f(a) − f(a − lr·g) predicted by "
                         f"{'m₂' if self.order == 2 else 'm₁'}; ratio = actual / m₂'s prediction")
        at = _at(self.point, self.parsed.variables)[1:-1]
        return View(f"Taylor models of f = {self.parsed.text} at ({at})", ("quantity", "exact", "value"),
                    tuple(rows), notes=tuple(notes), plain_cells=tuple(plain), digits=6)


def _exact_vec(v: Value) -> str:
    return "" if v.exact is None or v.exact[0] is None else "(" + ", ".join(str(e) for e in v.exact) + ")"


def _float(e: sympy.Expr, fallback: float) -> float:
    """The float of an exact value, rounded once (SymPy evaluates with enough digits to
    survive cancellation); ``fallback`` when it has none."""
    try:
        v = float(sympy.N(e, 30)) if not e.is_Rational else float(e)
    except (TypeError, ValueError, OverflowError):
        return fallback
    return v if math.isfinite(v) else fallback


def _eigenvalues(Hv, Hf: np.ndarray) -> tuple[float, ...]:
    """H's eigenvalues, ascending: computed to 120 bits from the exact entries when all are
    rational, so each float is the eigenvalue correctly rounded (x·y·z at (1, 1, 1): −1,
    not −1.0000000000000004); else float64's."""
    if all(v.exact is not None and v.exact.is_Rational for row in Hv for v in row):
        import mpmath

        with mpmath.workprec(120):
            rows = [[mpmath.mpf(int(v.exact.p)) / int(v.exact.q) for v in row] for row in Hv]
            eig = mpmath.eigsy(mpmath.matrix(rows), eigvals_only=True)
            return tuple(sorted(float(v) + 0.0 for v in eig))
    return tuple(float(v) for v in np.linalg.eigvalsh(Hf))


def _rational(v: float) -> sympy.Rational:
    """A float the user typed (0.05) as the decimal it reads as: exactly 1/20."""
    return sympy.Rational(repr(float(v)))


def _exact_samples(expr, linear, quad, variables, point, u, along_gradient: bool, g, ts, fx, m1, m2):
    """f, m₁ and m₂ at a + t·u with t and u exact (u = −g/‖g‖ along the gradient), each
    error exact before it is rounded: a quadratic's |f − m₂| is 0, not rounding noise.
    Returns ``(f, f − err1, f − err2)`` arrays; the floats stand where SymPy fails."""
    from gradlab.errors import GradlabError

    n = len(variables)
    if along_gradient and any(v.exact != 0 for v in g):
        norm = sympy.sqrt(sympy.Add(*[v.exact ** 2 for v in g]))
        ue = [-v.exact / norm for v in g]
    elif along_gradient:
        ue = [1 / sympy.sqrt(n)] * n
    else:
        ue = [_rational(c) for c in u]  # the given direction, scaled exactly below
        norm = sympy.sqrt(sympy.Add(*[c ** 2 for c in ue]))
        ue = [c / norm for c in ue]
    fx, m1, m2 = (np.array(a, dtype=float) for a in (fx, m1, m2))
    for k, t in enumerate(ts):
        te = _rational(t)
        pm = {v: p + te * c for v, p, c in zip(variables, point, ue)}
        try:
            f_k = d.evaluate(expr, pm).value
            e1 = d.evaluate(expr - linear, pm).value
            e2 = d.evaluate(expr - quad, pm).value
        except GradlabError:
            continue
        fx[k], m1[k], m2[k] = f_k, f_k - e1, f_k - e2
    return fx, m1, m2


def _exact_step_check(expr, variables, point, f0, g, Hv, lr: float, floats):
    """(m₁'s and m₂'s predicted decrease, the actual decrease, their ratio) for a gradient
    step of ``lr`` (read as the decimal it was typed as), exact then rounded once;
    ``floats`` where the exact value is not available."""
    from gradlab.errors import GradlabError

    n = len(variables)
    lre = _rational(lr)
    gg = sympy.Add(*[v.exact ** 2 for v in g])
    gHg = sympy.Add(*[g[i].exact * Hv[i][j].exact * g[j].exact for i in range(n) for j in range(n)])
    p1 = lre * gg
    p2 = p1 - lre ** 2 * gHg / 2
    try:
        f1 = d.evaluate(expr, {v: p - lre * gi.exact for v, p, gi in zip(variables, point, g)})
    except GradlabError:
        return floats
    if f1.exact is None:
        return floats
    actual = f0.exact - f1.exact
    ratio = _float(actual / p2, floats[3]) if p2 != 0 and floats[3] is not None else None
    return _float(p1, floats[0]), _float(p2, floats[1]), _float(actual, floats[2]), ratio


def _slope(ts: np.ndarray, errs: np.ndarray, scale: float) -> float | None:
    """Least-squares slope of log err over log t, over the small offsets (t ≤ 0.1, where
    the leading term dominates) whose errors stand well above rounding."""
    keep = (errs > 1e-11 * max(1.0, scale)) & (ts <= 0.1)
    if keep.sum() < 3:
        return None
    return float(np.polyfit(np.log(ts[keep]), np.log(errs[keep]), 1)[0])


def taylor(parsed: Parsed, point: Sequence[sympy.Expr], order: int = 2, lrs: Sequence[float] = (),
           direction: Sequence[float] | None = None, offsets: Sequence[float] = OFFSETS) -> TaylorResult:
    """The models of ``parsed`` at ``point`` (see the module's docstring)."""
    if order not in (1, 2):
        raise BadInput(f"the order must be 1 or 2, got {order}", "--order")
    variables = parsed.variables
    n = len(variables)
    if n == 0:
        raise BadInput("the expression has no variables", "expression")
    if n > MAX_DIMS:
        raise LimitExceeded(f"taylor works with at most {MAX_DIMS} variables, got {n}", "expression")
    for lr in lrs:
        if not (math.isfinite(lr) and lr > 0):
            raise BadInput(f"learning rate {lr!r} must be a positive number", "--lr")
    expr = parsed.expr
    pm = dict(zip(variables, point))
    f0 = d.evaluate(expr, pm)
    grads = d.gradient(expr, variables)
    g = tuple(d.evaluate(e, pm, f"∂f/∂{v.name}") for e, v in zip(grads, variables))
    H_sym = d.hessian(expr, variables)
    Hv = tuple(tuple(d.evaluate(e, pm, "the Hessian") for e in row) for row in H_sym)
    gf = np.array([v.value for v in g])
    Hf = np.array([[v.value for v in row] for row in Hv])
    eig = _eigenvalues(Hv, Hf)

    hs = [v - p for v, p in zip(variables, point)]
    linear = f0.exact + sympy.Add(*[gi.exact * h for gi, h in zip(g, hs)])
    quad = linear + sympy.Rational(1, 2) * sympy.Add(*[Hv[i][j].exact * hs[i] * hs[j]
                                                       for i in range(n) for j in range(n)])

    exact_ok = n <= MAX_EXACT_DIMS and all(v.exact.is_Rational for row in Hv for v in row) and \
        all(v.exact.is_Rational for v in g)
    newton = minimiser = None
    model_min = None
    note = ""
    if eig[0] > 1e-12 * max(1.0, abs(eig[-1])):
        step = -np.linalg.solve(Hf, gf)
        exact_step = (None,) * n
        if exact_ok:
            sol = sympy.Matrix([[v.exact for v in row] for row in Hv]).LUsolve(sympy.Matrix([v.exact for v in g]))
            exact_step = tuple(-e for e in sol)
        if exact_ok:  # the floats of the exact values, rounded once
            step = np.array([float(v) for v in exact_step])
            ex_min = f0.exact + sympy.Add(*[gi.exact * si for gi, si in zip(g, exact_step)]) + sympy.Rational(1, 2) * \
                sympy.Add(*[Hv[i][j].exact * exact_step[i] * exact_step[j] for i in range(n) for j in range(n)])
            model_min = _float(ex_min, float(f0.value + gf @ step + 0.5 * step @ Hf @ step))
        else:
            model_min = float(f0.value + gf @ step + 0.5 * step @ Hf @ step)
        newton = Value(exact_step, tuple(float(v) + 0.0 for v in step))  # + 0.0: no −0.0
        minimiser = Value(tuple(p + s for p, s in zip(point, exact_step)) if exact_ok else (None,) * n,
                          tuple(_float(p + s, float(p) + float(s)) + 0.0 for p, s in zip(point, exact_step))
                          if exact_ok else tuple(float(p) + float(s) + 0.0 for p, s in zip(point, step)))
    else:
        note = ("H is not positive definite (eigenvalues " + ", ".join(f"{v:.4g}" for v in eig) +
                "): m₂ is unbounded below or flat, so it has no unique minimiser and the Newton step is not a descent")

    gg = float(gf @ gf)
    gHg = float(gf @ Hf @ gf)
    safe = cauchy = None
    if gHg > 0 and gg > 0:
        ex_gg = ex_gHg = None
        if exact_ok:
            ex_gg = sympy.Add(*[v.exact ** 2 for v in g])
            ex_gHg = sympy.Add(*[g[i].exact * Hv[i][j].exact * g[j].exact for i in range(n) for j in range(n)])
        safe = Value(2 * ex_gg / ex_gHg if exact_ok else None, 2 * gg / gHg)
        cauchy = Value(ex_gg / ex_gHg if exact_ok else None, gg / gHg)

    if direction is not None:
        u = np.asarray(direction, dtype=float)
        if u.shape != (n,) or not np.all(np.isfinite(u)) or not np.linalg.norm(u) > 0:
            raise BadInput(f"the direction must be {plural(n, 'number')}, not all zero", "--dir")
    else:
        u = -gf if gg > 0 else np.ones(n)
    u = u / np.linalg.norm(u)

    from gradlab.calculus.numeric import Compiled

    fc = Compiled([expr], variables)
    a = np.array([float(p) for p in point])
    ts = np.array(offsets, dtype=float)
    X = a[:, None] + u[:, None] * ts[None, :]
    with np.errstate(all="ignore"):
        fx = np.broadcast_to(fc(X)[0], ts.shape)
    H_ = ts[None, :] * u[:, None]
    m1 = f0.value + gf @ H_
    m2 = m1 + 0.5 * np.einsum("ik,ij,jk->k", H_, Hf, H_)
    if exact_ok:  # at exact sample points, f − m₁ and f − m₂ exactly (0 for a quadratic), then floats
        fx, m1, m2 = _exact_samples(expr, linear, quad, variables, point, u, direction is None, g, ts, fx, m1, m2)
    samples = tuple(Sample(float(t), float(a_), float(b), float(c)) for t, a_, b, c in zip(ts, fx, m1, m2))
    scale = abs(f0.value)
    slope1 = _slope(ts, np.abs(fx - m1), scale)
    slope2 = _slope(ts, np.abs(fx - m2), scale)

    checks = []
    for lr in lrs:
        x1 = a - lr * gf
        with np.errstate(all="ignore"):
            f1 = float(fc(x1)[0])
        p1 = lr * gg
        p2 = lr * gg - 0.5 * lr * lr * gHg
        actual = f0.value - f1
        ratio = actual / p2 if p2 != 0 and math.isfinite(actual) else None
        if exact_ok:
            p1, p2, actual, ratio = _exact_step_check(expr, variables, point, f0, g, Hv, lr, (p1, p2, actual, ratio))
        checks.append(StepCheck(float(lr), p1, p2, actual, ratio))
    if exact_ok:
        # Expanded, the models read as polynomials in the variables (and can be fed back to
        # gradlab); only with rational coefficients, where expanding cannot blow up.
        linear, quad = sympy.expand(linear), sympy.expand(quad)
    return TaylorResult(parsed, tuple(point), order, f0, g, Hv, eig, linear, quad, newton, minimiser, model_min, note,
                        safe, cauchy, tuple(float(v) for v in u), samples, slope1, slope2, tuple(checks))
