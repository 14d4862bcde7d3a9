"""Gradient checks: the exact gradient against finite differences, or a learner's own
gradient against the exact one.

Forward differences err by O(h), central by O(h²), both until round-off (≈ ε/h) takes
over; the complex step Im f(x + ih)/h has no subtraction and is accurate to about machine
precision.

>>> from gradlab.calculus.parsing import parse, parse_point
>>> r = gradient_check(parse("sin(x)*exp(y)"), parse_point("1,2", 2), h=1e-5)
>>> r.passed, [c.central_rel < 1e-9 < c.forward_rel for c in r.components]
(True, [True, True])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import sympy

from gradlab.calculus import derivatives as d
from gradlab.errors import BadInput
from gradlab.calculus.numeric import complex_step, central_difference, forward_difference, lambdify
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.calculus.pointwise import point_fields
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
    forward: float
    central: float
    complex: float | None
    forward_rel: float
    central_rel: float
    complex_rel: float | None
    user_expr: sympy.Expr | None = None
    user_value: float | None = None
    user_right: bool | None = None

    def to_record(self) -> dict[str, Any]:
        rec = {"variable": self.variable, "exact": {"symbolic": to_text(self.exact_expr), "value": self.exact},
               "forward": {"value": self.forward, "abs_error": abs(self.forward - self.exact),
                           "rel_error": self.forward_rel},
               "central": {"value": self.central, "abs_error": abs(self.central - self.exact),
                           "rel_error": self.central_rel},
               "complex_step": None if self.complex is None else {
                   "value": self.complex, "abs_error": abs(self.complex - self.exact), "rel_error": self.complex_rel}}
        if self.user_expr is not None:
            rec["yours"] = {"symbolic": to_text(self.user_expr), "value": self.user_value, "right": self.user_right}
        return rec


@dataclass(frozen=True)
class CheckResult(Presentable):
    """A gradient check at one point, with the step ``h`` and relative tolerance used.

    ``passed``: with ``--grad``, every one of the user's components is right; otherwise
    the central difference agrees with the exact gradient within ``tol``.
    """

    parsed: Parsed
    point: tuple[sympy.Expr, ...]
    h: float
    tol: float
    components: tuple[Component, ...]
    user: bool
    passed: bool
    warnings: tuple[str, ...] = field(default=())

    def to_record(self) -> dict[str, Any]:
        return {"command": "check", "expression": self.parsed.text,
                "variables": [v.name for v in self.parsed.variables], **point_fields(self.point),
                "h": self.h, "tol": self.tol, "checking": "your gradient" if self.user else "finite differences",
                "passed": self.passed, "components": [c.to_record() for c in self.components]}

    def view(self) -> View:
        at = ", ".join(to_text(p) for p in self.point)
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
        verdict = (f"{'PASS' if self.passed else 'FAIL'}: central differences agree with the exact gradient "
                   f"within relative error {self.tol:g} (h = {self.h:g})")
        notes = (verdict, "forward error is O(h), central O(h²), complex step ≈ machine precision")
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

    fwd = forward_difference(real, x, h)
    cen = central_difference(real, x, h)
    try:
        cs = complex_step(cplx, x)
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
        comps.append(Component(v.name, grad[i], exact[i], float(fwd[i]), float(cen[i]), c,
                               _rel(fwd[i], exact[i]), _rel(cen[i], exact[i]),
                               None if c is None else _rel(c, exact[i]), ue, uv, right))
    passed = all(c.user_right for c in comps) if user is not None else all(c.central_rel <= tol for c in comps)
    return CheckResult(parsed, tuple(point), h, tol, tuple(comps), user is not None, passed,
                       d.kink_warnings([parsed.expr], pm))


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
