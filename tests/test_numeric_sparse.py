"""The sparse gradient and Hessian used for compiling equal gradlab's exact ones."""

from __future__ import annotations

import pytest

from gradlab.calculus import derivatives as d
from gradlab.calculus import numeric
from gradlab.calculus.parsing import parse
from gradlab.surfaces import builtin
from tests.conftest import run


@pytest.mark.parametrize("text", ["x**2*y + sin(x*z) - z", "exp(x) + y", "7", "relu(x - y) + abs(y)",
                                  "(1 - x)**2 + 100*(y - x**2)**2"])
def test_sparse_derivatives_equal_the_exact_ones(text):
    p = parse(text, "x,y,z")
    assert numeric.gradient(p.expr, p.variables) == d.gradient(p.expr, p.variables)
    assert numeric.hessian(p.expr, p.variables) == d.hessian(p.expr, p.variables)


def test_rosenbrock_nd_hessian_is_tridiagonal():
    s = builtin()["rosenbrock-nd"].with_dims(12)
    H = numeric.hessian(s.parsed.expr, s.parsed.variables)
    assert H == d.hessian(s.parsed.expr, s.parsed.variables)
    assert all(H[i][j] == 0 for i in range(12) for j in range(12) if abs(i - j) > 1)


def test_variables_named_like_cse_temporaries_or_numpy_functions():
    # CSE temporaries and NumPy names cannot clash with user names
    p = parse("x0*x1 + (x0*x1)**2 + where*select")
    f = numeric.Compiled(p.exprs, p.variables)
    import numpy as np

    vals = {v.name: float(i + 2) for i, v in enumerate(p.variables)}
    expected = vals["x0"] * vals["x1"] + (vals["x0"] * vals["x1"]) ** 2 + vals["where"] * vals["select"]
    assert f(np.array([[vals[v.name]] for v in p.variables]))[0, 0] == expected
    assert numeric.lambdify_scalar(p.variables, p.exprs)(*[vals[v.name] for v in p.variables])[0] == expected


def test_rosenbrock_nd_in_three_dimensions_descends():
    # the cubic's exact eigenvalues come with I: the bound must still be a real number
    r = run("descend", "rosenbrock-nd", "--dims", "3", "--steps", "50", "--format", "json")
    assert r.code == 0, r
    import json

    run0 = json.loads(r.out)["runs"][0]
    assert isinstance(run0["stability_bound"], float) and run0["stability_bound"] > 0
