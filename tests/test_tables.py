"""Tables fit the terminal: every command's table at 60, 80 and 120 columns, no line too
wide, no number or word broken across lines, floats rounded honestly."""

from __future__ import annotations

import io
import math
import re
from functools import lru_cache

import pytest
from rich.cells import cell_len
from rich.console import Console

from gradlab.views import View

WIDTHS = (60, 80, 120)


def _p(text, vars=None, vector=False):
    from gradlab.calculus.parsing import parse

    return parse(text, vars, vector=vector)


def _pt(text, parsed):
    from gradlab.calculus.parsing import parse_point

    return parse_point(text, len(parsed.variables), [v.name for v in parsed.variables], "--at")


def _surface(name, dims=None):
    from gradlab.surfaces import builtin

    s = builtin()[name]
    return s.with_dims(dims) if dims else s


def _calculus(kind, text, at=None, direction=None, vector=False):
    from gradlab.calculus import pointwise as c

    p = _p(text, vector=vector)
    point = _pt(at, p) if at else None
    if kind == "directional":
        return c.directional_report(p, point, _pt(direction, p))
    if kind == "eval":
        return c.eval_report(p, point)
    return getattr(c, f"{kind}_report")(p, point)


def _descend(name, optimizers, lrs=None, starts=None, dims=None, steps=None):
    from gradlab.descent.descend import run_descent

    return run_descent(_surface(name, dims), optimizers, lrs, starts, steps)


def _sweep(name, optimizers):
    from gradlab.descent.sweep import default_range, run_sweep

    s = _surface(name)
    lo, hi = default_range(s, optimizers, {})
    return run_sweep(s, optimizers, lo, hi, 20, None, 1e-6, None, {}, 1e-3, True, None)


def _critical(text, window=(-5.0, 5.0, -5.0, 5.0)):
    from gradlab.calculus.critical import critical_points

    return critical_points(_p(text), window, 5.0)


def _check(text, at, grad=None):
    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.parsing import parse_components

    p = _p(text)
    return gradient_check(p, _pt(at, p), 1e-5, 1e-6, parse_components(grad, "--grad") if grad else None)


def _surfaces(name=None, dims=None):
    from gradlab.gallery import surface_detail, surface_list
    from gradlab.surfaces import builtin

    return surface_list(builtin()) if name is None else surface_detail(_surface(name, dims))


def _many(kind, text, points, exact=False, **kw):
    """A many-point call, as ``--at -`` makes it (float mode, or every point exact)."""
    from gradlab.calculus import batch, pointwise
    from gradlab.calculus.inputs import Line, read_point

    p = _p(text, vector=kind == "jacobian")
    names = [v.name for v in p.variables]
    pts = [read_point(Line(f"line {k + 1}", t), names, need_sympy=exact) for k, t in enumerate(points)]
    if exact:
        report = getattr(pointwise, f"{kind}_report")
        answers = batch.exact_many(kind, p, pts, lambda sp: report(p, sp))
    else:
        answers = getattr(batch, f"{kind}_many")(p, pts, **kw)
    meta = {"outputs": len(p.exprs)} if kind == "jacobian" else {}
    return batch.Batch(kind, tuple(answers), tuple(names), meta)


def _many_check(text, points):
    from gradlab.calculus import batch
    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.inputs import Line, read_point

    p = _p(text)
    names = [v.name for v in p.variables]
    pts = [read_point(Line(f"line {k + 1}", t), names, need_sympy=True) for k, t in enumerate(points)]
    answers = batch.exact_many("check", p, pts, lambda sp: gradient_check(p, sp, 1e-5, 1e-6, None))
    return batch.Batch("check", tuple(answers), tuple(names), {"yours": False})


def _explain(text):
    from gradlab.calculus.explain import explain

    return explain(_p(text))


CASES = {
    "grad": lambda: _calculus("grad", "x**2*y+3*y", "2,5"),
    "grad symbolic": lambda: _calculus("grad", "x**2*y+3*y"),
    "grad 4-D": lambda: _calculus("grad", "x*y*z*w + sin(x)*exp(w)", "1/3,2,-7/11,pi"),
    "jacobian": lambda: _calculus("jacobian", "x**2*y, x + y**3", "2,3", vector=True),
    "jacobian softmax": lambda: _calculus("jacobian", "softmax(a, b, c)", "1,2,3", vector=True),
    "hessian": lambda: _calculus("hessian", "x**2 - y**2", "0,0"),
    "hessian 4-D": lambda: _calculus("hessian", "x**2*y + y*z**3 + exp(w*x)", "1,2,3,1/2"),
    "directional": lambda: _calculus("directional", "x**2 + y**2", "3,4", "1,1"),
    "eval": lambda: _calculus("eval", "sqrt(x) + log(y)", "8,e"),
    "surfaces": lambda: _surfaces(),
    "surfaces elongated": lambda: _surfaces("elongated"),
    "surfaces himmelblau": lambda: _surfaces("himmelblau"),
    "surfaces rosenbrock-nd": lambda: _surfaces("rosenbrock-nd", 4),
    "descend README": lambda: _descend("elongated", ["gd"], [0.01, 0.03, 0.06, 0.08]),
    "descend 5 optimizers": lambda: _descend("rosenbrock", ["gd", "momentum", "nesterov", "adam", "newton"]),
    "descend 5 rates": lambda: _descend("elongated", ["momentum"], [0.001, 0.003, 0.01, 0.03, 0.3]),
    "descend 4-D starts": lambda: _descend("rosenbrock-nd", ["gd", "adam"], [0.001],
                                           [(-1.2, 1.0, 1.0, 1.0), (0.5, -0.25, 1.75, 2.0)], 4, 2000),
    "descend himmelblau": lambda: _descend("himmelblau", ["gd", "momentum"], [0.01, 0.02],
                                           [(0.0, 0.0), (-1.0, -1.0), (-4.0, 4.0)]),
    "sweep": lambda: _sweep("elongated", ["gd", "momentum"]),
    "critical": lambda: _critical("x**3 + y**3 + 3*x**2 - 6*y**2 - 2"),
    "critical 4-D": lambda: _critical("x**2 + y**2 - z**2 + w**4 - 2*w**2"),
    "check": lambda: _check("sin(x)*exp(y)", "1,1"),
    "check yours": lambda: _check("x**2*y + y*z**3", "1,2,3", "2*x*y, x**2, 3*y*z**2"),
    "explain": lambda: _explain("x*exp(x)"),
    # many points (--at -): one row per point, or one block per point headed by it
    "many grad": lambda: _many("grad", "x**2*y + 3*y - x*z", ["1,2,3", "-0.5,4,1e-3", "250,-7,3"]),
    "many grad exact": lambda: _many("grad", "x**2*y*z + 3*y - x*z", ["1,2,3", "3,4,5"], exact=True),
    "many grad with a failure": lambda: _many("grad", "x*y + log(x)", ["1,2", "0,1", "3,4"]),
    "many jacobian": lambda: _many("jacobian", "x*y, x + y, x**2*y", ["1,2", "3,4"]),
    "many hessian": lambda: _many("hessian", "x**2*y + y**2", ["1,2", "3,4", "0,0"]),
    "many hessian 3-D": lambda: _many("hessian", "x**2*y*z + 3*y - x*z", ["1,2,3", "3,4,5"]),
    "many eval": lambda: _many("eval", "sqrt(x) + log(y)", ["8,1", "1,e", "0.25,100"]),
    "many directional": lambda: _many("directional", "x**2*y", ["1,2", "3,4"], direction=[1, 1]),
    "many check": lambda: _many_check("x**2*y", ["1,2", "3,4"]),
}
# Too many numbers per point for one 80-column row: one block per point instead.
VERTICAL_AT_80 = {"jacobian softmax", "many hessian 3-D", "many check"}


@lru_cache(maxsize=None)
def view_of(name: str) -> View:
    return CASES[name]().view()


def draw(view: View, width: int) -> list[str]:
    from gradlab.render.tables import render

    out = io.StringIO()
    render(view, Console(file=out, width=width, color_system=None, highlight=False))
    return out.getvalue().split("\n")


def _tokens(lines: list[str]) -> set[str]:
    return {t for line in lines for t in line.split()}


def _float_of(token: str) -> float | None:
    try:
        return float(token.strip("(),;:"))
    except ValueError:
        return None


def _floats(cell):
    if isinstance(cell, float):
        yield cell
    elif isinstance(cell, tuple):
        yield from (v for v in cell if isinstance(v, float))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_table_fits_and_breaks_nothing(name, width):
    view = view_of(name)
    lines = draw(view, width)
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, "\n".join(lines)
    shown = _tokens(lines)
    bare = {t.rstrip(":") for t in shown}
    # Every word of every text cell, header, title and note appears whole on one line.
    words = [w for row in view.rows for c in row if isinstance(c, str) for w in c.split()]
    words += [str(c) for row in view.rows for c in row if isinstance(c, int) and not isinstance(c, bool)]
    words += [w for text in (*view.columns, view.title, *view.notes) for w in text.split()]
    missing = [w for w in words if w not in shown and w not in bare]
    assert not missing, (missing[:5], "\n".join(lines))
    # Every float appears whole, rounded to no fewer than 3 significant digits.
    numbers = [v for t in shown if (v := _float_of(t)) is not None]
    for row in view.rows:
        for value in (v for c in row for v in _floats(c)):
            if math.isfinite(value):
                assert any(abs(v - value) <= 5e-3 * abs(value) for v in numbers), (value, "\n".join(lines))


def test_readme_example_is_a_table_at_80_columns():
    """The project's own example reads as one table on an 80-column terminal, with the
    one optimizer in the title and the bound explained below."""
    lines = draw(view_of("descend README"), 80)
    header = next(line for line in lines if "status" in line)
    assert header.split()[:2] == ["lr", "status"]  # a table, not the vertical layout
    assert "optimizer gd" in lines[0]
    assert any("2/λmax = 0.04" in line for line in lines)
    rows = [line.split() for line in lines if line.split()[:1] in (["0.01"], ["0.03"], ["0.06"], ["0.08"])]
    assert [r[1] for r in rows] == ["converged", "converged", "diverged", "diverged"]
    assert [r[-1] for r in rows] == ["yes", "yes", "no", "no"]  # 2/50 = 0.04 is the bound


def test_too_narrow_switches_to_one_block_per_record():
    view = View("t", ("name", "expression", "value"),
                (("a", "alpha*beta*gamma*delta*epsilon + zeta*eta*theta", 1.0 / 3), ("b", "x", 2.0)))
    lines = draw(view, 30)
    assert "name: a" in [line.strip() for line in lines]
    assert any(line.strip().startswith("value: 0.333") for line in lines)
    assert all(cell_len(line) <= 30 for line in lines)


def test_digits_shrink_with_the_width_and_plain_keeps_them():
    from gradlab.render.output import render_plain
    from gradlab.render.tables import layout

    third = 1.0 / 3
    view = View("t", ("a", "b", "c", "d"), ((third, 2 * third, 4 * third, 5 * third),), digits=10)
    wide, narrow = layout(view, 120), layout(view, 40)
    assert wide.cells[0][0] == "0.3333333333"
    assert not narrow.vertical and len(narrow.cells[0][0]) < len(wide.cells[0][0])
    assert min(narrow.digits) >= 3
    assert repr(third) in render_plain([view])


def test_a_constant_column_moves_to_the_title_only_when_foldable_and_constant():
    from gradlab.render.tables import layout

    rows = (("gd", 0.1), ("gd", 0.2))
    assert layout(View("t", ("optimizer", "lr"), rows, fold=(0,)), 80).title == "t · optimizer gd"
    assert layout(View("t", ("optimizer", "lr"), rows), 80).columns == ["optimizer", "lr"]
    mixed = (("gd", 0.1), ("adam", 0.2))
    assert layout(View("t", ("optimizer", "lr"), mixed, fold=(0,)), 80).columns == ["optimizer", "lr"]


@pytest.mark.parametrize("text,width", [("a bb ccc dddd", 6), ("one two three four five six", 9),
                                        ("x**2 + 25*y**2 - 3*x*y", 9)])
def test_wrap_breaks_only_at_spaces(text, width):
    from gradlab.render.tables import wrap

    lines = wrap(text, width, "", "  ")
    assert all(cell_len(line) <= width for line in lines)
    assert " ".join(" ".join(lines).split()) == text


@pytest.mark.parametrize("value,digits", [(2.4772117005987604e-13, 3), (1677721600.74, 4), (-0.1, 3),
                                          (123456.0, 3), (1e300, 5), (5e-324, 3)])
def test_numbers_round_to_their_digits(value, digits):
    from gradlab.render.tables import number

    text = number(value, digits)
    assert re.fullmatch(r"-?\d(\.\d+)?(e-?\d+)?|-?\d+(\.\d+)?", text), text
    assert len(re.sub(r"e.*|[-.]", "", text).lstrip("0")) <= digits
    assert abs(float(text) - value) <= 0.5 * 10 ** (1 - digits) * abs(value) * 1.000001


@pytest.mark.parametrize("name", sorted(set(CASES) - VERTICAL_AT_80))
def test_at_80_columns_every_default_table_is_a_table(name):
    """4-D points, five runs, the catalogue: all fit an 80-column terminal as a table
    (the softmax Jacobian's entries are paragraphs: one block per row suits them)."""
    from gradlab.render.tables import layout

    assert not layout(view_of(name), 80).vertical


def test_readme_shows_the_example_table_at_80_columns():
    """The README's first example is the 80-column table, checked at that width by
    docs/check_readme.py (which runs every console block of README.md and docs/*.md)."""
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("check_readme", os.path.join(root, "docs", "check_readme.py"))
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    cmd, expected, columns = next(check.examples(text))
    assert cmd == "gradlab descend elongated --lr 0.01,0.03,0.06,0.08" and columns == 80
    assert expected == [line.rstrip() for line in draw(view_of("descend README"), 80)][: len(expected)]


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.startswith("many")))
def test_many_point_tables_head_each_row_with_its_point_in_the_maths_notation(name):
    """The point is one cell (``(1, 2, 3)``), the first; a block layout is headed by it,
    and no header is a stream name with underscores but the Hessian's H_xy."""
    view = view_of(name)
    assert view.columns[0] == "at"
    assert not [c for c in view.columns if "_" in c and not re.fullmatch(r"H_\w\w", c)], view.columns
    lines = draw(view, 80)
    if name in VERTICAL_AT_80:
        heads = [line.strip() for line in lines if line.startswith(" at: ")]
        assert len(heads) == len(view.rows) and heads[0].startswith("at: (1, 2")


def test_many_point_hessian_table_shows_the_upper_triangle_and_eigenvalues_in_one_cell():
    # f = x²y + y²: H = [[2y, 2x], [2x, 2]]; at (1, 2): [[4, 2], [2, 2]], eigenvalues 3 ∓ √5
    view = view_of("many hessian")
    row = dict(zip(view.columns, view.rows[0]))
    assert (row["H_xx"], row["H_xy"], row["H_yy"]) == (4.0, 2.0, 2.0) and "H_yx" not in row
    assert row["eigenvalues"] == pytest.approx((3 - 5 ** 0.5, 3 + 5 ** 0.5))
    # not a critical point (∇f = (2xy, x² + 2y) ≠ 0): the curvature, as a single call says
    assert row["classification"] == "convex" and view_of("many hessian").rows[2][-1] == "inconclusive"
