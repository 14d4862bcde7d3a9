"""Step-by-step derivations: ∂f/∂x built by the rules a calculus course names.

Each step records the rule applied, the expression it was applied to and the
derivative it gives; inner derivatives (of a chain, a product, a sum) come first, so the
steps read bottom-up like a worked solution.

>>> from gradlab.calculus.parsing import parse
>>> r = explain(parse("sin(x**2)"), "x")
>>> [s.rule for s in r.steps]
['power rule', 'chain rule with sin']
>>> r.result
2*x*cos(x**2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from gradlab.calculus import budget
from gradlab.errors import BadInput
from gradlab.calculus.functions import Abs, logsumexp, relu, sigmoid, sign, softplus, step
from gradlab.calculus.parsing import Parsed, symbol, to_text
from gradlab.calculus.rows import RowMean, row_mean
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

MAX_STEPS = 500

# f → (name, f'(u) as a function of u)
_OUTER = {
    sympy.sin: ("sin", lambda u: sympy.cos(u)),
    sympy.cos: ("cos", lambda u: -sympy.sin(u)),
    sympy.tan: ("tan", lambda u: 1 + sympy.tan(u) ** 2),
    sympy.asin: ("asin", lambda u: 1 / sympy.sqrt(1 - u**2)),
    sympy.acos: ("acos", lambda u: -1 / sympy.sqrt(1 - u**2)),
    sympy.atan: ("atan", lambda u: 1 / (1 + u**2)),
    sympy.sinh: ("sinh", lambda u: sympy.cosh(u)),
    sympy.cosh: ("cosh", lambda u: sympy.sinh(u)),
    sympy.tanh: ("tanh", lambda u: 1 - sympy.tanh(u) ** 2),
    sympy.asinh: ("asinh", lambda u: 1 / sympy.sqrt(u**2 + 1)),
    sympy.acosh: ("acosh", lambda u: 1 / sympy.sqrt(u**2 - 1)),
    sympy.atanh: ("atanh", lambda u: 1 / (1 - u**2)),
    sympy.exp: ("exp", lambda u: sympy.exp(u)),
    sympy.log: ("log", lambda u: 1 / u),
    sigmoid: ("sigmoid", lambda u: sigmoid(u) * (1 - sigmoid(u))),
    softplus: ("softplus", lambda u: sigmoid(u)),
    relu: ("relu (relu'(0) taken as 0)", lambda u: step(u)),
    Abs: ("abs (abs'(0) taken as 0)", lambda u: sign(u)),
    sign: ("sign (0 away from 0)", lambda u: sympy.S.Zero),
    sympy.Abs: ("abs (abs'(0) taken as 0)", lambda u: sign(u)),
    sympy.sign: ("sign (0 away from 0)", lambda u: sympy.S.Zero),
    step: ("step (0 away from 0)", lambda u: sympy.S.Zero),
}


# f(a₁, …, aₙ) → (name, its partial derivatives ∂f/∂aᵢ as a function of the arguments)
_MULTI = {
    logsumexp: ("logsumexp (∂/∂aᵢ = softmaxᵢ)",
                lambda *a: [sympy.exp(ai - logsumexp(*a)) for ai in a]),
    sympy.atan2: ("atan2 (∂/∂y = x/(x²+y²), ∂/∂x = −y/(x²+y²))",
                  lambda y, x: [x / (x**2 + y**2), -y / (x**2 + y**2)]),
}


@dataclass(frozen=True)
class Step:
    """One rule applied: ``rule``, the expression it applied to, and its derivative."""

    rule: str
    expression: sympy.Expr
    result: sympy.Expr

    def to_record(self) -> dict[str, Any]:
        return {"rule": self.rule, "expression": to_text(self.expression), "result": to_text(self.result)}


@dataclass(frozen=True)
class Explanation(Presentable):
    """The derivation of ∂f/∂``wrt``: its ``steps``, the derivative as the rules give it
    (``raw``) and tidied (``result``, see :func:`tidy`)."""

    parsed: Parsed
    wrt: str
    steps: tuple[Step, ...]
    raw: sympy.Expr
    result: sympy.Expr

    def to_record(self) -> dict[str, Any]:
        return {"command": "explain", "expression": self.parsed.text, "wrt": self.wrt,
                "variables": [v.name for v in self.parsed.variables],
                "steps": [s.to_record() for s in self.steps], "unsimplified": to_text(self.raw),
                "result": to_text(self.result)}

    def view(self) -> View:
        rows = tuple((i + 1, s.rule, f"d/d{self.wrt} [{to_text(s.expression)}]", to_text(s.result))
                     for i, s in enumerate(self.steps))
        if self.result != self.raw:  # a step that changes nothing is not a step
            rows += ((len(rows) + 1, "simplify", to_text(self.raw), to_text(self.result)),)
        return View(f"∂/∂{self.wrt} of f = {self.parsed.text}", ("#", "rule", "derivative of", "gives"), rows,
                    notes=(f"∂f/∂{self.wrt} = {to_text(self.result)}",))


class _Deriver:
    def __init__(self, x: sympy.Symbol):
        self.x = x
        self.steps: list[Step] = []

    def note(self, rule: str, e: sympy.Expr, result: sympy.Expr) -> sympy.Expr:
        if len(self.steps) >= MAX_STEPS:
            raise BadInput(f"the derivation takes more than {MAX_STEPS} steps", "expression")
        self.steps.append(Step(rule, e, result))
        return result

    def d(self, e: sympy.Expr) -> sympy.Expr:
        x = self.x
        if not e.has(x):  # reached only for a constant f: sums and products skip constants
            return self.note("constant rule", e, sympy.S.Zero)
        if e == x:
            return self.note(f"variable rule: d{x.name}/d{x.name} = 1", e, sympy.S.One)
        if e.is_Add:
            parts = [self.d(a) for a in e.args if a.has(x)]
            rule = "sum rule" if all(a.has(x) for a in e.args) else "sum rule (constant terms give 0)"
            return self.note(rule, e, sympy.Add(*parts))
        if e.is_Mul:
            return self.mul(e)
        if e.is_Pow:
            return self.pow(e)
        if e.func in _OUTER and len(e.args) == 1:
            name, outer = _OUTER[e.func]
            u = e.args[0]
            if u == x:
                return self.note(f"{name} rule", e, outer(u))
            du = self.d(u)
            return self.note(f"chain rule with {name}", e, outer(u) * du)
        if e.func in _MULTI:
            name, partials = _MULTI[e.func]
            inner = [sympy.S.Zero if not a.has(x) else sympy.S.One if a == x else self.d(a) for a in e.args]
            total = sympy.Add(*[p * d for p, d in zip(partials(*e.args), inner) if d != 0])
            return self.note(f"chain rule with {name}", e, total)
        if isinstance(e, RowMean):
            # the body is one data row's expression: derive it once, with its own steps
            body = self.d(e.body_at())
            return self.note("mean rule: d/dθ mean(ℓ) = mean(dℓ/dθ), over the data rows", e,
                             row_mean(body, e.table))
        # Anything else (re, im, lambertw: read back, rarely typed): SymPy's answer, named so.
        return self.note("SymPy's derivative", e, sympy.diff(e, x))

    def mul(self, e: sympy.Expr) -> sympy.Expr:
        x = self.x
        const = [a for a in e.args if not a.has(x)]
        var = [a for a in e.args if a.has(x)]
        c = sympy.Mul(*const)
        if const and len(var) == 1:
            inner = self.d(var[0])
            return self.note("constant multiple rule", e, c * inner)
        num = [a for a in var if not (a.is_Pow and a.exp.is_negative)]
        den = [a.base ** -a.exp for a in var if a.is_Pow and a.exp.is_negative]
        if num and den:
            f, g = sympy.Mul(*num), sympy.Mul(*den)
            df, dg = self.d(f), self.d(g)
            return self.note("quotient rule: (f/g)' = (f'g − fg')/g²", e, c * (df * g - f * dg) / g**2)
        # product rule over the factors that depend on x
        derivs = [self.d(a) for a in var]
        terms = [sympy.Mul(*[derivs[i] if j == i else var[j] for j in range(len(var))]) for i in range(len(var))]
        return self.note("product rule: (fg)' = f'g + fg'", e, c * sympy.Add(*terms))

    def pow(self, e: sympy.Expr) -> sympy.Expr:
        x = self.x
        base, exp = e.args
        if not exp.has(x):
            if exp == sympy.Rational(1, 2):
                name, outer = "square root rule: (√u)' = 1/(2√u)", 1 / (2 * sympy.sqrt(base))
            else:
                name, outer = "power rule", exp * base ** (exp - 1)
            if base == x:
                return self.note(name, e, outer)
            db = self.d(base)
            return self.note(f"chain rule with the {name.split(':')[0]}", e, outer * db)
        if not base.has(x):
            du = self.d(exp) if exp != x else sympy.S.One
            rule = "exponential rule: (aᵘ)' = aᵘ·ln(a)·u'" if base != sympy.E else "chain rule with exp"
            return self.note(rule, e, e * sympy.log(base) * du)
        df, dg = self.d(base), self.d(exp)
        return self.note("general power rule: (f^g)' = f^g·(g'·ln f + g·f'/f)", e,
                         e * (dg * sympy.log(base) + exp * df / base))


#: Size limits (SymPy operation counts) of the final tidying: they bound its work by the
#: size of the derivative, so every machine gives the same answer (no clock decides).
MAX_TIDY_OPS = 400
MAX_CANCEL_OPS = 40


def tidy(raw: sympy.Expr) -> sympy.Expr:
    """The derivative tidied with bounded work: common factors pulled out
    (``factor_terms``) and, for small expressions, a rational function cancelled; the
    shortest of these wins, ``raw`` itself on a tie. (``sympy.simplify`` is not used: it
    takes seconds on small inputs and its time is not bounded by their size.)

    >>> x = symbol("x")
    >>> tidy(2*x*sympy.exp(x) + 2*x**2*sympy.exp(x))
    2*x*(x + 1)*exp(x)
    """
    ops = sympy.count_ops(raw)
    if ops > MAX_TIDY_OPS:
        return raw
    # bounded by size above; the budget's deadline also guards SymPy's own slow paths
    return budget.attempt("tidying the derivative", _tidy, raw, ops, size=budget.size_of(raw),
                          fallback=lambda: raw).value


def _tidy(raw: sympy.Expr, ops: int) -> sympy.Expr:
    candidates = [sympy.factor_terms(raw)]
    if ops <= MAX_CANCEL_OPS:
        candidates.append(sympy.cancel(raw))
    best = raw
    for c in candidates:
        if sympy.count_ops(c) < sympy.count_ops(best):
            best = c
    return best


def explain(parsed: Parsed, wrt: str | None = None) -> Explanation:
    """Derive ∂f/∂``wrt`` rule by rule (``wrt`` defaults to the first variable)."""
    names = [v.name for v in parsed.variables]
    if wrt is None:
        if not names:
            raise BadInput("f has no variables; name one with --wrt", "--wrt")
        wrt = names[0]
    if wrt not in names:
        raise BadInput(f"{wrt!r} is not a variable of f ({', '.join(names) or 'none'})", "--wrt")
    x = symbol(wrt)
    deriver = _Deriver(x)
    raw = deriver.d(parsed.expr)
    return Explanation(parsed, wrt, tuple(deriver.steps), raw, tidy(raw))
