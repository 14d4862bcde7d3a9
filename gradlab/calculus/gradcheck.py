"""Gradient checks: the exact gradient against finite differences, or a learner's own
gradient against the exact one.

Forward differences err by O(h), central by O(h²), both until round-off (≈ ε/h) takes
over; the complex step Im f(x + ih)/h has no subtraction and is accurate to about machine
precision.

>>> from gradlab.calculus.parsing import parse, parse_point
>>> r = gradient_check(parse("sin(x)*exp(y)"), parse_point("1,2", 2), h=1e-5)
>>> r.passed, [c.central_rel < 1e-9 < c.forward_rel for c in r.components]
(True, [True, True])

A central difference cannot see below f's own rounding: with f ≈ 10⁸, f(x ± h) are
rounded to about ε·10⁸ ≈ 2·10⁻⁸, so (f(x + h) − f(x − h))/2h is only known to about
ε·|f|/h (2·10⁻³ for h = 10⁻⁵), plus its truncation h²·|∂³f/∂x³|/6. A partial derivative
whose tolerance asks for less than that rounding allows is *below resolution*: judged
against the difference's own error, and said so, rather than passed or failed on noise.

>>> r = gradient_check(parse("1e8*x**2 + 1e-7*z"), parse_point("1,1", 2))
>>> r.passed, [c.verdict for c in r.components]
(True, ['agrees', 'below resolution'])
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import sympy

from gradlab.calculus import derivatives as d
from gradlab.errors import BadInput
from gradlab.calculus.numeric import central_difference, forward_difference, lambdify
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.calculus.pointwise import _at, point_fields
from gradlab.views import View, plural
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

DEFAULT_H = 1e-5
DEFAULT_TOL = 1e-6


@dataclass(frozen=True)
class Component:
    """One partial derivative: exact, its three estimates, their errors, and — when the
    user gave their own — whether theirs is right."""

    variable: str
    exact_expr: sympy.Expr
    exact: float
    forward: float | None
    central: float | None
    complex: float | None
    forward_rel: float | None
    central_rel: float | None
    complex_rel: float | None
    user_expr: sympy.Expr | None = None
    user_value: float | None = None
    user_right: bool | None = None
    step: float | None = None  # the step taken for this coordinate (None: no finite difference)
    note: str | None = None  # why the step differs from h·max(1, |xᵢ|), or why there is none
    # The central difference's error bound from f's rounding: ROUNDINGS·ε·|f|/step, or, where
    # the difference is outside the tolerance, the error of f's floats at x ± step as
    # measured against f's exact values if larger; and from its truncation,
    # step²·|∂³f/∂xᵢ³|/6 with a margin (None: not needed, or no finite value).
    rounding: float | None = None
    truncation: float | None = None
    verdict: str = "agrees"  # agrees | below resolution | differs | no difference (see VERDICTS)

    def to_record(self) -> dict[str, Any]:
        def estimate(value, rel):
            return None if value is None else {"value": value, "abs_error": abs(value - self.exact), "rel_error": rel}

        central = estimate(self.central, self.central_rel)
        if central is not None:
            central.update(rounding_error=self.rounding, truncation_error=self.truncation)
        rec = {"variable": self.variable, "exact": {"symbolic": to_text(self.exact_expr), "value": self.exact},
               "step": self.step, "note": self.note, "verdict": self.verdict,
               "forward": estimate(self.forward, self.forward_rel),
               "central": central,
               "complex_step": estimate(self.complex, self.complex_rel)}
        if self.user_expr is not None:
            rec["yours"] = {"symbolic": to_text(self.user_expr), "value": self.user_value, "right": self.user_right}
        return rec


@dataclass(frozen=True)
class CheckResult(Presentable):
    """A gradient check at one point, with the step ``h`` and relative tolerance used.

    ``passed``: with ``--grad``, every one of the user's components is right; otherwise
    no component's central difference differs from the exact partial derivative: each
    agrees within ``tol``, or is below resolution (f's rounding alone allows more than
    ``tol`` asks, and the difference is within its rounding and truncation error).
    ``below_resolution`` names those components: checked only as far as f's rounding
    lets a central difference see.
    """

    parsed: Parsed
    point: tuple[sympy.Expr, ...]
    h: float
    tol: float
    components: tuple[Component, ...]
    user: bool
    passed: bool
    warnings: tuple[str, ...] = field(default=())

    @property
    def below_resolution(self) -> tuple[str, ...]:
        return tuple(c.variable for c in self.components if c.verdict == BELOW)

    def to_record(self) -> dict[str, Any]:
        return {"command": "check", "expression": self.parsed.text,
                "variables": [v.name for v in self.parsed.variables], **point_fields(self.point),
                "h": self.h, "tol": self.tol, "checking": "your gradient" if self.user else "finite differences",
                "passed": self.passed, "below_resolution": list(self.below_resolution),
                "components": [c.to_record() for c in self.components]}

    def view(self) -> View:
        at = _at(self.point, self.parsed.variables)[1:-1]
        if self.user:
            rows = tuple((c.variable, to_text(c.user_expr), "right" if c.user_right else "WRONG",
                          "" if c.user_right else to_text(c.exact_expr), c.user_value, c.exact)
                         for c in self.components)
            verdict = ("all right: your gradient is the gradient" if self.passed
                       else f"{sum(not c.user_right for c in self.components)} wrong: the correct partial "
                            "derivative is shown beside each wrong one")
            return View(f"your gradient of f = {self.parsed.text}, checked at ({at})",
                        ("variable", "yours", "verdict", "correct", "yours at P", "exact at P"), rows,
                        notes=(verdict,), digits=10)
        rows = tuple((c.variable, c.exact, c.forward_rel, c.central_rel, c.complex_rel) for c in self.components)
        steps = f"h = {self.h:g}, scaled to each coordinate"
        missing = [c.variable for c in self.components if c.central_rel is None]
        worst = max((c for c in self.components if c.verdict == DIFFERS), key=lambda c: c.central_rel,
                    default=None)
        below = self.below_resolution
        agree = [c.variable for c in self.components if c.verdict == AGREES]
        if self.passed and not below:
            verdict = (f"PASS: central differences agree with the exact gradient within relative error "
                       f"{self.tol:g} ({steps})")
        elif self.passed and agree:
            verdict = (f"PASS for {', '.join(agree)}: central differences agree within relative error "
                       f"{self.tol:g} ({steps}); {', '.join(below)} below resolution: f's rounding hides more "
                       "than that tolerance, and the difference is within its own error (see below)")
        elif self.passed:
            verdict = (f"UNRESOLVED: every partial derivative is below what central differences resolve here "
                       f"({steps}): none differs beyond the difference's own error, none is confirmed to "
                       f"relative error {self.tol:g} (see below)")
        elif missing:
            verdict = (f"FAIL: no central difference for {', '.join(missing)} (see below), so the gradient is "
                       f"not confirmed ({steps})")
        else:
            verdict = (f"FAIL: central differences differ from the exact gradient by more than relative error "
                       f"{self.tol:g}: {worst.central_rel:.3g} for {worst.variable} ({steps})")
        notes = (verdict, *(c.note for c in self.components if c.note),
                 *(_below_note(c) for c in self.components if c.verdict == BELOW),
                 "forward error is O(h), central O(h²), complex step ≈ machine precision")
        return View(f"gradient check of f = {self.parsed.text} at ({at})",
                    ("variable", "exact ∂f", "forward rel. err", "central rel. err", "complex-step rel. err"),
                    rows, notes=notes, digits=3)


def _rel(estimate: float, exact: float) -> float:
    estimate, exact = float(estimate), float(exact)
    return abs(estimate - exact) / max(abs(exact), 1e-300) if exact != 0 else abs(estimate)


#: Points at which two gradients are compared numerically: a fixed-seed sample of
#: [-2, 2]ⁿ and of the box of half-width max(1, |p|) around the point checked.
SAMPLES = 12


def _same(a: sympy.Expr, b: sympy.Expr, variables: Sequence[sympy.Symbol], at: Sequence[float]) -> bool:
    """Whether two expressions are the same function (the values at the point itself are
    compared by the caller first): identical once SymPy has put both in canonical form,
    else equal at every sample point (to 1e-9 relative). No ``simplify``: the verdict
    must not depend on how long the machine gives it."""
    if a - b == 0:
        return True
    f = lambdify(variables, [a, b])
    rng = np.random.default_rng(0)
    centre = np.asarray(at, dtype=float)
    radius = np.maximum(1.0, np.abs(centre))
    points = [rng.uniform(-2, 2, len(variables)) for _ in range(SAMPLES)]
    points += [centre + radius * rng.uniform(-1, 1, len(variables)) for _ in range(SAMPLES)]
    agree = 0
    for x in points:
        with np.errstate(all="ignore"):
            va, vb = (complex(v) for v in f(*x))
        if not (np.isfinite(va) and np.isfinite(vb)):
            continue
        if abs(va - vb) > 1e-9 * max(1.0, abs(va), abs(vb)):
            return False
        agree += 1
    return agree > 0


def _same_value(user: float, exact: float) -> bool:
    return abs(user - exact) <= 1e-12 * max(1.0, abs(user), abs(exact))


def gradient_check(parsed: Parsed, point: Sequence[sympy.Expr], h: float = DEFAULT_H, tol: float = DEFAULT_TOL,
                   user: Sequence[sympy.Expr] | None = None) -> CheckResult:
    """Check the exact gradient against finite differences, or ``user``'s gradient
    against the exact one, at ``point``."""
    if not (math.isfinite(h) and 0 < h < 1):
        raise BadInput(f"the step must be between 0 and 1, got {h}", "--h")
    if not (math.isfinite(tol) and tol > 0):
        raise BadInput("the tolerance must be positive", "--tol")
    variables = parsed.variables
    if user is not None and len(user) != len(variables):
        raise BadInput(f"--grad has {plural(len(user), 'component')}; f has {plural(len(variables), 'variable')}",
                       "--grad")
    pm = dict(zip(variables, point))
    d.evaluate(parsed.expr, pm)
    grad = d.gradient(parsed.expr, variables)
    exact = [d.evaluate(g, pm, "a partial derivative").value for g in grad]
    f_real = lambdify(variables, [parsed.expr])
    f_cplx = lambdify(variables, [parsed.expr], complex_safe=True)
    x = np.array([float(v) for v in point])

    def real(v):
        with np.errstate(all="ignore"):
            return float(np.real(f_real(*v)[0]))

    def cplx(v):
        with np.errstate(all="ignore"):
            return complex(f_cplx(*v)[0])

    fx = real(x)
    steps = [_step(real, x, fx, i, h, v.name) for i, v in enumerate(variables)]
    fwd, cen, rounding, sides = [], [], [], []
    for i, (step, _) in enumerate(steps):
        if step is None:
            fwd.append(None)
            cen.append(None)
            rounding.append(None)
            sides.append(None)
            continue
        e = np.zeros(len(x))
        e[i] = step
        up, down = real(x + e), real(x - e)
        fwd.append((up - fx) / step)
        cen.append((up - down) / (2 * step))
        rounding.append(_rounding_error(max(abs(fx), abs(up), abs(down)), step))
        sides.append(((x + e, up), (x - e, down)))
    try:  # Im f(x + i·sᵢeᵢ)/sᵢ, each coordinate with its own step
        cs = []
        for i, xi in enumerate(x):
            z = x.astype(complex)
            si = _complex_step_size(float(xi))
            z[i] += 1j * si
            cs.append(cplx(z).imag / si)
    except (TypeError, ValueError):
        cs = None
    comps = []
    for i, v in enumerate(variables):
        ue, uv, right = None, None, None
        if user is not None:
            ue = user[i]
            uv = d.evaluate(ue, pm, "your partial derivative").value
            # Right at the point first (where the user asked), then everywhere.
            right = _same_value(uv, exact[i]) and _same(ue, grad[i], variables, x)
        c = float(cs[i]) if cs is not None and np.isfinite(cs[i]) else None
        fw, ce = _finite(fwd[i]), _finite(cen[i])
        def more(i=i):  # only where the verdict depends on it: exact evaluations of f
            step = steps[i][0]
            return _measured(parsed.expr, variables, sides[i], step), _truncation(grad[i], variables[i], pm, step)

        verdict, r, t = _judge(ce, exact[i], _finite(rounding[i]) if ce is not None else None, tol, more)
        comps.append(Component(v.name, grad[i], exact[i], fw, ce, c,
                               None if fw is None else _rel(fw, exact[i]), None if ce is None else _rel(ce, exact[i]),
                               None if c is None else _rel(c, exact[i]), ue, uv, right, steps[i][0], steps[i][1],
                               r, t, verdict))
    passed = (all(c.user_right for c in comps) if user is not None
              else all(c.verdict in (AGREES, BELOW) for c in comps))
    return CheckResult(parsed, tuple(point), h, tol, tuple(comps), user is not None, passed,
                       d.kink_warnings([parsed.expr], pm))


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


AGREES, BELOW, DIFFERS, MISSING = "agrees", "below resolution", "differs", "no difference"
#: A component's verdict: its central difference agrees with the exact value within the
#: tolerance; or f's rounding alone allows the difference more error than the tolerance
#: (below resolution) and it is within its rounding and truncation error; or it differs;
#: or there is no central difference (the point is at the edge of f's domain).
VERDICTS = (AGREES, BELOW, DIFFERS, MISSING)

#: Each float of f is within a few roundings of f's value (one per operation, each ≤ ε/2
#: of an intermediate no larger than |f| where nothing cancels); the bound allows 4.
ROUNDINGS = 4
#: ∂³f/∂xᵢ³ is taken at the point; over [x − step, x + step] it may be larger: twice it.
TRUNCATION_MARGIN = 2


def _rounding_error(size: float, step: float) -> float:
    """The error of (f(x + s) − f(x − s))/2s from f's rounding where nothing cancels:
    each side is off by up to ROUNDINGS·ε·|f|, so the difference by that over s.

    >>> _rounding_error(1e8, 1e-5) == 4 * 2.0**-52 * 1e8 / 1e-5
    True
    """
    return ROUNDINGS * sys.float_info.epsilon * size / step


def _measured(expr: sympy.Expr, variables: Sequence[sympy.Symbol], sides, step: float) -> float | None:
    """The rounding error of the central difference as measured: f's floats at x ± s
    against f's exact values at those same (binary) points, the larger error over s.
    Where terms cancel ((10¹²x − 10¹²y)² near x = y) f's floats carry the rounding of the
    terms, far more than ε·|f|. None where an exact value is missing."""
    import mpmath

    from gradlab.calculus import precise

    worst = 0.0
    for at, fl in sides:
        got = precise.value(expr, {v: sympy.Rational(float(c)) for v, c in zip(variables, at)}, bits=80)
        if got.number is None or not math.isfinite(fl):
            return None
        with mpmath.workprec(80):
            worst = max(worst, abs(float(got.number - mpmath.mpf(fl))))
    return worst / step


def _truncation(partial: sympy.Expr, var: sympy.Symbol, pm: dict, step: float) -> float | None:
    """The central difference's truncation error, step²·|∂³f/∂xᵢ³|/6 (Taylor), with
    ∂³f/∂xᵢ³ exact at the point; None where it has no finite value there."""
    from gradlab.calculus import precise

    third = d.derivative(d.derivative(partial, var), var)
    got = precise.value(third, {k: precise.as_number(v) for k, v in pm.items()})
    if got.number is None:
        return None
    value = abs(got.as_float())
    return TRUNCATION_MARGIN * step * step * value / 6 if math.isfinite(value) else None


def _judge(central: float | None, exact: float, rounding: float | None, tol: float,
           more) -> tuple[str, float | None, float | None]:
    """``(verdict, rounding error, truncation error)`` for one component. ``more()``
    gives the measured rounding error and the truncation error (either None when
    unknown); it is called only where the difference is outside the tolerance.

    Within ``tol`` (relative; absolute where the exact value is 0) it agrees. Where f's
    rounding alone (ε·|f|/s, or as measured if larger) allows more error than ``tol``
    asks, the component is below what the difference resolves: it is judged against the
    difference's own error, rounding plus truncation. Otherwise the tolerance decides: a
    step too long for the tolerance still fails (its truncation is the choice of h, not
    a limit of floats).

    >>> _judge(0.0, 1e-7, 8.9e-3, 1e-6, lambda: (0.0, 0.0))
    ('below resolution', 0.0089, 0.0)
    >>> _judge(1.0, 1e-7, 8.9e-3, 1e-6, lambda: (0.0, 0.0))  # off by more than f's rounding allows
    ('differs', 0.0089, 0.0)
    >>> _judge(3.25, 3.0, 3e-15, 1e-6, lambda: (0.0, 0.25))  # x³ at 1 with h = 0.5: a real failure at tol
    ('differs', 3e-15, 0.25)
    """
    if central is None:
        return MISSING, None, None
    scale = abs(exact) if exact != 0 else 1.0
    error = abs(central - exact)
    if error <= tol * scale or rounding is None:
        return (AGREES if error <= tol * scale else DIFFERS), rounding, None
    measured, t = more()
    rounding = max(rounding, measured or 0.0)
    if rounding <= tol * scale:
        return DIFFERS, rounding, t
    return (BELOW if error <= rounding + (t or 0.0) else DIFFERS), rounding, t


def _below_note(c: Component) -> str:
    """Why a component is below resolution, in numbers, and what the complex step says."""
    bound = c.rounding + (c.truncation or 0.0)
    note = (f"{c.variable}: below resolution: ∂f/∂{c.variable} = {c.exact:.3g}, but f's rounding alone lets the "
            f"central difference be off by up to {c.rounding:.2g} (the rounding of f's floats at x ± step, over the step "
            f"{c.step:.3g})")
    if c.truncation:
        note += f", its truncation by {c.truncation:.2g}"
    note += f"; it is off by {abs(c.central - c.exact):.2g}, within that {bound:.2g}"
    if c.complex_rel is not None:
        note += f". The complex step, which subtracts nothing, is off by relative error {c.complex_rel:.2g}"
    return note


SHRINK_TRIES = 40  # a step leaving f's domain is divided by 10 at most this often


def _step(real, x: np.ndarray, fx: float, i: int, h: float, name: str) -> tuple[float | None, str | None]:
    """The step for coordinate ``i`` and, when it had to leave the rule, why.

    The rule is h·max(1, |xᵢ|), the textbook scaling (Nocedal & Wright, §8.1): an
    absolute step is lost in a large coordinate's rounding (x² at x = 10⁶: f's rounding
    error over h = 1e-5 swamps the difference). Where f varies on a unit scale however
    large xᵢ is (sin(x) at 10⁶) the scaled step is far too long, so for |xᵢ| > 1 the
    absolute step h is tried too, and the one whose central difference changes least
    when the step is halved wins (the Richardson estimate of its error; the exact
    gradient plays no part in the choice), its rounding error ε·|f|/step added.

    Where f is undefined or infinite at xᵢ ± step (log(x) at 1e-300, where 1e-5 crosses
    0) the step shrinks (to h·|xᵢ|, then by tens) until both sides are finite; if none
    does, there is no finite difference (None) and the note says why.
    """
    e = np.zeros(len(x))
    xi = float(x[i])

    def exact_step(step):  # the step as the float coordinate takes it: (x + s) − x
        return (xi + step) - xi

    def sides(step):
        e[i] = exact_step(step)
        return real(x + e), real(x - e)

    def central(step):
        up, down = sides(step)
        return (up - down) / (2 * exact_step(step))

    def estimate(step):
        # truncation (the change on halving the step) plus rounding (ε·|f| over the step)
        up, down = sides(step / 2)
        rounding = sys.float_info.epsilon * max(abs(up), abs(down), abs(fx)) / abs(exact_step(step / 2) or step)
        error = abs(central(step) - central(step / 2)) + rounding
        return error if math.isfinite(error) else math.inf

    rule = h * max(1.0, abs(xi))
    firsts = list(dict.fromkeys([rule, h, h * abs(xi)] if xi else [rule]))
    found = [_inside(sides, xi, first, h) for first in firsts]
    usable = [f for f in found if f[0] is not None]
    if not usable:
        step, side, bad_up = found[0][1], found[0][2], found[0][3]
        return None, (f"{name}: f is {side} at {name} {'+' if bad_up else '−'} h for every step from {rule:g} "
                      f"down to {step:g}: no finite difference (the point is at the edge of f's domain)")
    candidates = []
    for step, _, side, bad_up in usable:
        # near the edge of f's domain, steps a little shorter still may do better
        ladder = [step / 10 ** k for k in range(4 if side else 1) if xi + step / 10 ** k != xi]
        candidates += [(s_, side, bad_up) for s_ in ladder]
    step, side, bad_up = min(candidates, key=lambda c: estimate(c[0]))
    step = exact_step(step)
    if side and step < rule:
        return step, (f"{name}: the step {rule:g} leaves f's domain (f is {side} at {name} "
                      f"{'+' if bad_up else '−'} {rule:g}); the step {step:.3g} stays inside")
    return step, None


def _inside(sides, xi: float, first: float, h: float):
    """``(step, last step tried, why the first failed, whether x + step failed)``: the
    first step from ``first`` down at which f is finite on both sides (step None: none)."""
    step, side, bad_up = first, "", False
    for _ in range(SHRINK_TRIES):
        up, down = sides(step)
        if math.isfinite(up) and math.isfinite(down):
            return step, step, side, bad_up
        if not side:
            bad_up = not math.isfinite(up)
            side = "infinite" if math.isinf(up if bad_up else down) else "undefined"
        smaller = min(step / 10, h * abs(xi)) if xi and step > h * abs(xi) else step / 10
        if xi + smaller == xi:
            break  # a smaller step no longer moves the coordinate
        step = smaller
    return None, step, side or "not finite", bad_up


def _complex_step_size(x: float) -> float:
    """The complex step for a coordinate: 1e-20·max(1, |x|), but at most |x|·1e-8 (a step
    comparable to a tiny coordinate is no longer small: log(x) at 1e-300), and never below
    the smallest normal float (a subnormal step loses digits)."""
    step = 1e-20 * max(1.0, abs(x))
    if x != 0 and step > abs(x) * 1e-8:
        step = max(abs(x) * 1e-8, sys.float_info.min)
    return step


def error_curve(parsed: Parsed, point: Sequence[sympy.Expr], hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """‖forward − exact‖ and ‖central − exact‖ (relative) for each step in ``hs``."""
    variables = parsed.variables
    pm = dict(zip(variables, point))
    exact = np.array([d.evaluate(g, pm).value for g in d.gradient(parsed.expr, variables)])
    f = lambdify(variables, [parsed.expr])
    x = np.array([float(v) for v in point])

    def real(v):
        with np.errstate(all="ignore"):
            return float(np.real(f(*v)[0]))

    scale = max(np.linalg.norm(exact), 1e-300)
    fe = np.array([np.linalg.norm(forward_difference(real, x, h) - exact) / scale for h in hs])
    ce = np.array([np.linalg.norm(central_difference(real, x, h) - exact) / scale for h in hs])
    return fe, ce
