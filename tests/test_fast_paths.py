"""Speed must not move an iterate: the fast paths against the plain array engine."""

from __future__ import annotations

import pytest

from gradlab.calculus.parsing import parse
from gradlab.descent.runs import SCALAR_OPTIMIZERS, Objective, RunSpec, descend

CASES = [
    # (expression, start, lr, steps, tol): converging, still moving, diverging, undefined f
    ("x**2 + 25*y**2", (-4.0, 2.0), 0.01, 3000, 1e-6),
    ("x**2 + 25*y**2", (-4.0, 2.0), 0.05, 500, 1e-6),
    ("(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0), 0.001, 2000, 1e-6),
    ("(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0), 0.01, 300, 1e-6),
    ("log(1 + exp(x)) + sin(y)**2 + y**2/10", (2.0, -1.5), 0.3, 400, 1e-9),
    ("(x - 1)**2 + log(x) + y**2", (0.5, 0.5), 2.0, 50, 1e-9),
    ("x**2 + y**2", (3.0, 4.0), 0.1, 100, 0.0),
    ("x**4", (1.0,), 0.1, 5000, 1e-200),
]


@pytest.mark.parametrize("optimizer", SCALAR_OPTIMIZERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0][:20]} lr={c[2]}" for c in CASES])
def test_single_run_float_path_equals_the_array_engine(optimizer, case):
    text, start, lr, steps, tol = case
    obj = Objective(parse(text), scale=10.0)
    spec = [RunSpec(optimizer, lr, start)]
    fast = descend(obj, spec, steps, tol)
    plain = descend(obj, spec, steps, tol, fast=False)
    a, b = fast[0], plain[0]
    assert (a.status, a.steps, a.diverged_at) == (b.status, b.steps, b.diverged_at)
    assert a.x == b.x  # the same bits, not just close
    assert a.grad_norm == b.grad_norm or (a.grad_norm != a.grad_norm and b.grad_norm != b.grad_norm)
