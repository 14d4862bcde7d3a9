"""gradlab from Python: the library calls the CLI makes, with its options as keywords.

Every call returns the CLI's own result object: ``to_dict()`` is exactly the CLI's
``--format json`` document, a notebook shows a symbolic result as LaTeX and any other
result as a table, and ``rich.print(result)`` draws the terminal table. Plots return
matplotlib ``Figure`` objects (nothing is drawn on screen or written to disk).

Points may be given as numbers (``at=(2, 5)``), as text (``at="2, 1/2"``), or by name
(``at={"x": 2, "y": 5}``); a float means the decimal it prints as (``0.1`` is exactly
1/10, as on the command line). Many points (``points=[...]``) give a
:class:`~gradlab.batch.Batch` with one answer per point.

>>> import gradlab
>>> r = gradlab.grad("x**2*y + 3*y", at=(2, 5))
>>> [v.value for v in r.values], str(r.norm.exact)
([20.0, 7.0], 'sqrt(449)')
>>> gradlab.evaluate("x**2", points=[1, 2, 3]).to_dict()["count"]
3
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Number
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from gradlab import resolve
from gradlab.errors import BadInput

PointLike = Union[str, Number, Sequence[Any], Mapping[str, Any]]

__all__ = ["grad", "jacobian", "hessian", "directional", "evaluate", "check", "explain", "critical", "descend",
           "sweep", "catalogue", "surface", "plot", "plot_descent", "plot_loss", "plot_3d", "plot_sweep", "plot_check"]


# --------------------------------------------------------------------------- inputs
def _number_text(v: Any) -> str:
    if isinstance(v, bool):
        raise BadInput(f"{v!r} is not a number", "at")
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, (int, float)):
        return repr(v)
    if hasattr(v, "item"):  # a NumPy scalar
        return _number_text(v.item())
    if isinstance(v, str):
        return v
    text = str(v)  # a SymPy number prints in gradlab's syntax (sqrt(2), pi, 1/2)
    return text.replace("E", "e") if text == "E" else text


def point_text(at: PointLike) -> str:
    """A point as ``--at`` text: ``(2, 0.5)`` → ``"2,0.5"``; ``{"y": 1}`` → ``"y=1"``.

    >>> point_text((2, 0.5)), point_text({"x": 1, "y": Fraction(1, 3)}), point_text(7)
    ('2,0.5', 'x=1,y=1/3', '7')
    """
    if isinstance(at, str):
        return at
    if isinstance(at, Mapping):
        return ",".join(f"{k}={_number_text(v)}" for k, v in at.items())
    if isinstance(at, Iterable):
        return ",".join(_number_text(v) for v in at)
    return _number_text(at)


def _point(parsed, at: Optional[PointLike], required: bool = False, where: str = "at"):
    return resolve.point(None if at is None else point_text(at), parsed, where, required)


def _function(expression: str, vars: Optional[Union[str, Sequence[str]]], vector: bool = False,
              surfaces: Optional[str] = None, dims: Optional[int] = None):
    if vars is not None and not isinstance(vars, str):
        vars = ",".join(vars)
    return resolve.function(expression, vars, vector, surfaces, dims)


def _many(command: str, parsed, points: Iterable[PointLike], report, vectorised=None, exact: bool = False,
          meta: Optional[dict] = None):
    from gradlab.calculus import batch
    from gradlab.errors import GradlabError
    from gradlab.calculus.inputs import Failed, Line, read_point

    names = [v.name for v in parsed.variables]
    pts = []
    texts = [point_text(p) for p in points]
    for k, text in enumerate(texts, 1):
        # labelled as the CLI labels repeated --at, so to_dict() is the CLI's JSON
        line = Line(f"--at #{k}" if len(texts) > 1 else "--at", text)
        try:
            pts.append(read_point(line, names, need_sympy=exact))
        except GradlabError as exc:
            pts.append(Failed(line, exc))
    if exact or vectorised is None:
        answers = batch.exact_many(command, parsed, pts, lambda sp: report(sp))
    else:
        answers = vectorised(parsed, pts)
    return batch.Batch(command, tuple(answers), tuple(names), meta or {})


# --------------------------------------------------------------------------- calculus
def grad(expression: str, at: Optional[PointLike] = None, *, points: Optional[Iterable[PointLike]] = None,
         vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
         dims: Optional[int] = None, exact: bool = False):
    """The gradient: exact partials, and their values at ``at`` (a GradResult), or at
    every one of ``points`` (a Batch, float64 unless ``exact``).

    >>> grad("x*y", at=(3, 4)).to_dict()["gradient"]["exact"]
    ['4', '3']
    """
    from gradlab.calculus.pointwise import grad_report

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import grad_many

        return _many("grad", parsed, points, lambda sp: grad_report(parsed, sp), grad_many, exact)
    return grad_report(parsed, _point(parsed, at))


def jacobian(expressions: str, at: Optional[PointLike] = None, *, points: Optional[Iterable[PointLike]] = None,
             vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
             dims: Optional[int] = None, exact: bool = False):
    """The Jacobian of ``"f1, f2, ..."`` (rows = outputs), at ``at`` or at every point."""
    from gradlab.calculus.pointwise import jacobian_report

    parsed = _function(expressions, vars, vector=True, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import jacobian_many

        return _many("jacobian", parsed, points, lambda sp: jacobian_report(parsed, sp), jacobian_many, exact,
                     {"outputs": len(parsed.exprs)})
    return jacobian_report(parsed, _point(parsed, at))


def hessian(expression: str, at: Optional[PointLike] = None, *, points: Optional[Iterable[PointLike]] = None,
            vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
            dims: Optional[int] = None, exact: bool = False):
    """The Hessian; at a point its eigenvalues and the second-derivative test."""
    from gradlab.calculus.pointwise import hessian_report

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import hessian_many

        return _many("hessian", parsed, points, lambda sp: hessian_report(parsed, sp), hessian_many, exact)
    return hessian_report(parsed, _point(parsed, at))


def directional(expression: str, at: Optional[PointLike] = None, dir: Optional[PointLike] = None, *,
                points: Optional[Iterable[PointLike]] = None, vars: Optional[Union[str, Sequence[str]]] = None,
                surfaces: Optional[str] = None, dims: Optional[int] = None, exact: bool = False):
    """The derivative of f along ``dir`` (any length) at ``at`` (or at every point)."""
    from gradlab.calculus.pointwise import directional_report

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    direction = _point(parsed, dir, True, "dir")
    if points is not None:
        from gradlab.calculus.batch import directional_many

        return _many("directional", parsed, points, lambda sp: directional_report(parsed, sp, direction),
                     lambda p, pts: directional_many(p, pts, direction), exact)
    return directional_report(parsed, _point(parsed, at, True), direction)


def evaluate(expression: str, at: Optional[PointLike] = None, *, points: Optional[Iterable[PointLike]] = None,
             vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
             dims: Optional[int] = None, exact: bool = False):
    """f at a point, exact and as a float (the CLI's ``eval``)."""
    from gradlab.calculus.pointwise import eval_report

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import eval_many

        return _many("eval", parsed, points, lambda sp: eval_report(parsed, sp), eval_many, exact)
    return eval_report(parsed, _point(parsed, at, bool(parsed.variables)) or ())


def check(expression: str, at: PointLike, *, grad: Optional[str] = None, h: float = 1e-5, tol: float = 1e-6,
          vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
          dims: Optional[int] = None):
    """Check a gradient: the exact one against finite differences, or ``grad``
    (``"g1, g2, ..."``) against the exact one. ``result.passed`` is the verdict."""
    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.parsing import parse_components

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    user = parse_components(grad, "grad") if grad is not None else None
    if user is not None:
        extra = set().union(*(u.free_symbols for u in user)) - set(parsed.variables)
        if extra:
            raise BadInput(f"grad uses {', '.join(sorted(s.name for s in extra))}, which f does not", "grad")
    return gradient_check(parsed, _point(parsed, at, True), h, tol, user)


def explain(expression: str, wrt: Optional[str] = None, *, vars: Optional[Union[str, Sequence[str]]] = None,
            surfaces: Optional[str] = None, dims: Optional[int] = None):
    """∂f/∂``wrt`` derived step by step, each rule named."""
    from gradlab.calculus.explain import explain as derive

    return derive(_function(expression, vars, surfaces=surfaces, dims=dims), wrt)


def critical(target: str, *, window: Optional[Sequence[float]] = None, timeout: float = 5.0,
             vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
             dims: Optional[int] = None):
    """Every critical point, exact where possible, classified by the Hessian."""
    from gradlab.calculus.critical import critical_points

    if not (0 < timeout <= 600):
        raise BadInput("timeout must be more than 0 and at most 600 seconds", "timeout")
    found = resolve.surface(target, surfaces, dims)
    parsed = found.parsed if found is not None else _function(target, vars)
    win = _window(window) if window is not None else (tuple(found.window) if found is not None
                                                       else (-5.0, 5.0, -5.0, 5.0))
    return critical_points(parsed, win, timeout)


def _window(window: Union[str, Sequence[float]]) -> tuple[float, ...]:
    from gradlab.calculus.parsing import parse_point

    w = [float(v) for v in (parse_point(window, None, None, "window") if isinstance(window, str) else window)]
    if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
        raise BadInput("window must be xmin,xmax,ymin,ymax with min < max", "window")
    return tuple(w)


# --------------------------------------------------------------------------- descent
def _rates(lr: Union[None, float, str, Sequence[float]]) -> Optional[list[float]]:
    from gradlab.calculus.parsing import parse_point

    if lr is None:
        return None
    if isinstance(lr, str):
        return [float(v) for v in parse_point(lr, None, None, "lr")]
    if isinstance(lr, Number):
        return [float(lr)]
    return [float(v) for v in lr]


def _start_list(start) -> Optional[list]:
    """``start`` as a list of points: one point, or a list of them."""
    if start is None:
        return None
    many = (not isinstance(start, (str, Mapping)) and isinstance(start, Sequence) and len(start) > 0
            and not isinstance(start[0], (Number, str)))
    return list(start) if many else [start]


def _optimizers(optimizer: Union[str, Sequence[str]]) -> list[str]:
    return [o.strip() for o in optimizer.split(",")] if isinstance(optimizer, str) else list(optimizer)


def descend(target: str, *, lr: Union[None, float, str, Sequence[float]] = None,
            optimizer: Union[str, Sequence[str]] = "gd", start=None, steps: Optional[int] = None,
            tol: float = 1e-6, momentum: Optional[float] = None, beta1: Optional[float] = None,
            beta2: Optional[float] = None, eps: Optional[float] = None, trajectory: bool = True,
            vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
            dims: Optional[int] = None):
    """Every optimizer × learning rate × start on a surface, in one batch.

    ``trajectory`` keeps every iterate (for :func:`plot_descent`); it is on by default
    here, since a notebook usually draws what it ran.

    >>> r = descend("elongated", lr=[0.01, 0.03, 0.06, 0.08])  # stable below 2/λmax = 2/50
    >>> [run.status for run in r.runs]
    ['converged', 'converged', 'diverged', 'diverged']
    """
    from gradlab.descent.descend import run_descent

    hyper = resolve.hyper(momentum, beta1, beta2, eps)
    items = _start_list(start)
    if isinstance(vars, (list, tuple)):
        vars = ",".join(vars)
    found = resolve.target(target, point_text(items[0]) if items else None, vars, surfaces, dims)
    starts = [resolve.point(point_text(s), found.parsed, "start", True) for s in items] if items else None
    return run_descent(found, _optimizers(optimizer), _rates(lr), starts, steps, tol, hyper, trajectory=trajectory)


def sweep(target: str, *, optimizer: Union[str, Sequence[str]] = "gd", lr_min: Optional[float] = None,
          lr_max: Optional[float] = None, num: int = 50, linear: bool = False, precision: float = 1e-3,
          start=None, steps: Optional[int] = None, tol: float = 1e-6, momentum: Optional[float] = None,
          beta1: Optional[float] = None, beta2: Optional[float] = None, eps: Optional[float] = None,
          vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
          dims: Optional[int] = None):
    """The largest stable learning rate by experiment, with the theory's bound."""
    from gradlab.descent.sweep import default_range, run_sweep

    hyper = resolve.hyper(momentum, beta1, beta2, eps)
    if isinstance(vars, (list, tuple)):
        vars = ",".join(vars)
    found = resolve.target(target, None if start is None else point_text(start), vars, surfaces, dims)
    x0 = None if start is None else resolve.point(point_text(start), found.parsed, "start", True)
    optimizers = _optimizers(optimizer)
    lo, hi = default_range(found, optimizers, hyper) if lr_min is None or lr_max is None else (lr_min, lr_max)
    lo, hi = lr_min if lr_min is not None else lo, lr_max if lr_max is not None else hi
    return run_sweep(found, optimizers, lo, hi, num, steps, tol, x0, hyper, precision, not linear)


# --------------------------------------------------------------------------- catalogue
def catalogue(file: Optional[str] = None):
    """The surface catalogue (built in, and ``file`` over it): ``gradlab surfaces``.

    Its ``surfaces`` are ``Surface`` values, which every call taking a surface name also
    takes.

    >>> cat = catalogue()
    >>> cat.surfaces[1].name, descend(cat.surfaces[1], lr=0.03).runs[0].status
    ('elongated', 'converged')
    """
    from gradlab.gallery import surface_list
    from gradlab.surfaces import catalogue

    return surface_list(catalogue(file)[0])


def surface(name: str, *, file: Optional[str] = None, dims: Optional[int] = None):
    """One surface in detail: its derivatives and known minima."""
    from gradlab.gallery import surface_detail
    from gradlab.surfaces import catalogue, lookup

    s = lookup(name, catalogue(file)[0])
    return surface_detail(s.with_dims(dims) if dims is not None else s)


# --------------------------------------------------------------------------- plots
def plot(target: str, *, window: Optional[Sequence[float]] = None,
         vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
         dims: Optional[int] = None):
    """The landscape (filled contours, gradient field, minima and critical points) as a
    matplotlib Figure."""
    from gradlab.render import plots
    from gradlab.calculus.critical import numeric_critical
    from gradlab.descent.descend import inline_surface
    from gradlab.calculus.parsing import parse

    if isinstance(vars, (list, tuple)):
        vars = ",".join(vars)
    found = resolve.surface(target, surfaces, dims)
    if found is None:
        parsed = parse(target, vars)
        if not parsed.variables:
            raise BadInput("the expression has no variables to plot", "expression")
        found = inline_surface(parsed, [0] * len(parsed.variables))
    if len(found.parsed.variables) < 2:
        raise BadInput("a landscape needs two variables (try --vars x,y)", "expression")
    win = _window(window) if window is not None else None
    known = [[float(v) for v in m.point] for m in found.minima]
    crit = [p for p in numeric_critical(found.parsed, win or found.window)
            if all(sum((a - b) ** 2 for a, b in zip(p, k)) > 1e-10 for k in known)] \
        if len(found.parsed.variables) == 2 else []
    return plots.landscape_figure(found, win, crit)


def plot_descent(result, loss: bool = True):
    """One panel per optimizer × learning rate (with loss curves) for a :func:`descend` result."""
    from gradlab.render import plots

    return plots.descent_figure(result, with_loss=loss)


def plot_loss(result):
    """The loss curves of a :func:`descend` result."""
    from gradlab.render import plots

    return plots.loss_figure(result)


def plot_3d(result):
    """The surface in 3-D with the trajectories of a :func:`descend` result on it."""
    from gradlab.render import plots

    return plots.surface3d_figure(result)


def plot_sweep(result):
    """Final loss against learning rate for a :func:`sweep` result."""
    from gradlab.render import plots

    return plots.sweep_figure(result)


def plot_check(expression: str, at: PointLike, *, vars: Optional[Union[str, Sequence[str]]] = None):
    """Finite-difference error against the step h, log-log (the CLI's ``check --plot``)."""
    import numpy as np

    from gradlab.render import plots
    from gradlab.calculus.gradcheck import error_curve

    parsed = _function(expression, vars)
    point = _point(parsed, at, True)
    hs = np.geomspace(1e-1, 1e-14, 40)
    fe, ce = error_curve(parsed, point, hs)
    return plots.check_figure(parsed, point, hs, fe, ce)
