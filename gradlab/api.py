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

__all__ = ["grad", "jacobian", "hessian", "directional", "evaluate", "check", "explain", "critical", "backprop",
           "taylor", "descend", "sweep", "catalogue", "surface", "plot", "plot_descent", "plot_loss", "plot_3d",
           "plot_sweep", "plot_check", "plot_backprop", "plot_taylor"]

Names = Optional[Union[str, Sequence[str]]]
#: Shapes of vector and matrix variables: ``"W=3x4,x=4"`` or ``{"W": (3, 4), "x": 4}``.
ShapeLike = Optional[Union[str, Mapping[str, Union[int, str, Sequence[int]]]]]


# --------------------------------------------------------------------------- inputs
def _number_text(v: Any) -> str:
    if isinstance(v, bool):
        raise BadInput(f"{v!r} is not a number", "at")
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, int):
        return repr(int(v))
    if isinstance(v, float):  # float(): NumPy 2's float64 is a float whose repr is np.float64(...)
        return repr(float(v))
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
    return _joined(at, _number_text)


def _joined(at: Any, text: Any) -> str:
    """``at`` (text, a mapping, a sequence or one value) as ``--at`` text, each value
    written by ``text``."""
    if isinstance(at, str):
        return at
    if isinstance(at, Mapping):
        return ",".join(f"{k}={text(v)}" for k, v in at.items())
    if isinstance(at, Iterable):
        return ",".join(text(v) for v in at)
    return text(at)


def _point(parsed, at: Optional[PointLike], required: bool = False, where: str = "at"):
    return resolve.point(None if at is None else point_text(at), parsed, where, required)


def _names(names: Names) -> Optional[str]:
    return names if names is None or isinstance(names, str) else ",".join(names)


def _value_text(v: Any) -> str:
    if hasattr(v, "tolist") and not isinstance(v, (int, float)):  # a NumPy array or scalar
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value_text(e) for e in v) + "]"
    return _number_text(v)


def values_text(at: Any) -> Optional[str]:
    """Values of shaped variables as ``--at`` text: ``{"x": [1, 2], "c": 0.5}`` →
    ``"x=[1,2],c=0.5"``; a matrix is a list of rows.

    >>> values_text({"W": [[1, 0], [0, 1]], "b": Fraction(1, 2)}), values_text(([1, 2], 3))
    ('W=[[1,0],[0,1]],b=1/2', '[1,2],3')
    """
    return None if at is None else _joined(at, _value_text)


def shape_text(shape: ShapeLike) -> Optional[str]:
    """Shapes as ``--shape`` text: ``{"W": (3, 4), "x": 4}`` → ``"W=3x4,x=4"``.

    >>> shape_text({"W": (3, 4), "x": 4, "c": ()})
    'W=3x4,x=4,c=scalar'
    """
    if shape is None or isinstance(shape, str):
        return shape

    def dims(d: Any) -> str:
        if isinstance(d, str):
            return d
        if isinstance(d, int):
            return str(d)
        return "x".join(str(k) for k in d) or "scalar"

    return ",".join(f"{k}={dims(v)}" for k, v in shape.items())


def _shaped(expression: str, shape: ShapeLike, at: Any, seed: Optional[int], required: bool, points=None,
            vars: Names = None):
    """The graph and the values of a call on shaped variables (``shape``, ``seed`` or
    ``wrt``), read as the CLI reads ``--shape``, ``--at`` and ``--seed``."""
    from gradlab.calculus.shapes import point_values

    if points is not None:
        raise BadInput("--shape takes one point: give one --at (or --seed)", "--shape")
    if vars is not None:
        raise BadInput("--vars does not go with --shape, --seed or --wrt (the variables are named in order; "
                       "choose with --wrt)", "--vars")
    graph = _graph(expression, shape)
    return graph, point_values(values_text(at), seed, graph.shapes, required=required)


def _graph(expression: str, shape: ShapeLike):
    from gradlab.calculus.graph import build
    from gradlab.calculus.shapes import parse_shapes

    return build(expression, parse_shapes(shape_text(shape)))


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
def grad(expression: str, at: Any = None, *, points: Optional[Iterable[PointLike]] = None,
         vars: Names = None, surfaces: Optional[str] = None, dims: Optional[int] = None, exact: bool = False,
         shape: ShapeLike = None, seed: Optional[int] = None, wrt: Names = None):
    """The gradient: exact partials, and their values at ``at`` (a GradResult), or at
    every one of ``points`` (a Batch, float64 unless ``exact``).

    With ``shape`` (vector and matrix variables), ``seed`` (seeded standard-normal
    values for those ``at`` leaves out) or ``wrt`` (only these variables), the CLI's
    ``--shape``/``--seed``/``--wrt``: a ShapedGradResult, each block in its variable's
    shape; ``at`` is then ``{"W": [[1, 2], [3, 4]], "x": [1, 0]}`` or its text.

    >>> grad("x*y", at=(3, 4)).to_dict()["gradient"]["exact"]
    ['4', '3']
    >>> grad("sum(x**2)", shape={"x": 3}, at={"x": [1, 2, 3]}).to_dict()["gradient"]["value"]  # 2x
    [[2.0, 4.0, 6.0]]
    """
    from gradlab.calculus.pointwise import grad_report

    if shape or seed is not None or wrt:
        from gradlab.calculus.shaped import shaped_grad

        graph, values = _shaped(expression, shape, at, seed, False, points, vars)
        return shaped_grad(graph, values, _names(wrt))
    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import grad_many

        return _many("grad", parsed, points, lambda sp: grad_report(parsed, sp), grad_many, exact)
    return grad_report(parsed, _point(parsed, at))


def jacobian(expressions: str, at: Any = None, *, points: Optional[Iterable[PointLike]] = None,
             vars: Names = None, surfaces: Optional[str] = None, dims: Optional[int] = None, exact: bool = False,
             shape: ShapeLike = None, seed: Optional[int] = None, wrt: Names = None):
    """The Jacobian of ``"f1, f2, ..."`` (rows = outputs), at ``at`` or at every point;
    with ``shape``/``seed``/``wrt`` of a vector-valued map of shaped variables.

    >>> jacobian("x**2*y, x + y**3", at=(2, 3)).to_dict()["jacobian"]["exact"]
    [['12', '4'], ['1', '27']]
    >>> jacobian("W@x", shape="W=2x2,x=2", wrt="x", at={"W": [[1, 2], [3, 4]], "x": [1, 1]}).to_dict()["jacobian"]["value"]
    [[1.0, 2.0], [3.0, 4.0]]
    """
    from gradlab.calculus.pointwise import jacobian_report

    if shape or seed is not None or wrt:
        from gradlab.calculus.shaped import shaped_jacobian

        graph, values = _shaped(expressions, shape, at, seed, False, points, vars)
        return shaped_jacobian(graph, values, _names(wrt))
    parsed = _function(expressions, vars, vector=True, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import jacobian_many

        return _many("jacobian", parsed, points, lambda sp: jacobian_report(parsed, sp), jacobian_many, exact,
                     {"outputs": len(parsed.exprs)})
    return jacobian_report(parsed, _point(parsed, at))


def hessian(expression: str, at: Any = None, *, points: Optional[Iterable[PointLike]] = None,
            vars: Names = None, surfaces: Optional[str] = None, dims: Optional[int] = None, exact: bool = False,
            shape: ShapeLike = None, seed: Optional[int] = None):
    """The Hessian; at a point its eigenvalues and the second-derivative test. With
    ``shape``/``seed``, over every component of the shaped variables.

    >>> h = hessian("x**2 - y**2", at=(0, 0))
    >>> h.eigenvalues, h.classification
    ((-2.0, 2.0), 'saddle')
    >>> hessian("sum(x**2)", shape={"x": 2}, at={"x": [1, 1]}).classification  # H = 2I
    'convex'
    """
    from gradlab.calculus.pointwise import hessian_report

    if shape or seed is not None:
        from gradlab.calculus.shaped import flattened

        graph, values = _shaped(expression, shape, at, seed, False, points, vars)
        return hessian_report(*flattened(graph, values, "hessian"))
    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import hessian_many

        return _many("hessian", parsed, points, lambda sp: hessian_report(parsed, sp), hessian_many, exact)
    return hessian_report(parsed, _point(parsed, at))


def directional(expression: str, at: Optional[PointLike] = None, dir: Optional[PointLike] = None, *,
                points: Optional[Iterable[PointLike]] = None, vars: Optional[Union[str, Sequence[str]]] = None,
                surfaces: Optional[str] = None, dims: Optional[int] = None, exact: bool = False):
    """The derivative of f along ``dir`` (any length) at ``at`` (or at every point).

    >>> directional("x**2 + y**2", at=(3, 4), dir=(1, 1)).to_dict()["directional_derivative"]["exact"]  # (6 + 8)/√2
    '7*sqrt(2)'
    """
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
    """f at a point, exact and as a float (the CLI's ``eval``).

    >>> str(evaluate("sqrt(x) + y", at=(8, 0.5)).result.exact)
    '1/2 + 2*sqrt(2)'
    """
    from gradlab.calculus.pointwise import eval_report

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    if points is not None:
        from gradlab.calculus.batch import eval_many

        return _many("eval", parsed, points, lambda sp: eval_report(parsed, sp), eval_many, exact)
    return eval_report(parsed, _point(parsed, at, bool(parsed.variables)) or ())


def check(expression: str, at: Any = None, *, grad: Optional[str] = None, h: float = 1e-5, tol: float = 1e-6,
          vars: Names = None, surfaces: Optional[str] = None, dims: Optional[int] = None,
          shape: ShapeLike = None, seed: Optional[int] = None):
    """Check a gradient: the exact one against finite differences, or ``grad``
    (``"g1, g2, ..."``) against the exact one. ``result.passed`` is the verdict.
    With ``shape``/``seed``, the exact gradient of shaped variables against differences.

    >>> check("x**2*y", at=(1, 2), grad="2*x*y, x**2").passed, check("x**2", at=1, grad="3*x").passed
    (True, False)
    >>> check("sum(exp(x))", shape={"x": 3}, seed=0).passed
    True
    """
    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.parsing import parse_components

    if shape or seed is not None:
        from gradlab.calculus.shaped import flattened

        if grad is not None:
            raise BadInput("--grad does not go with --shape (check the exact gradient against differences)", "--grad")
        graph, values = _shaped(expression, shape, at, seed, True, None, vars)
        parsed, point = flattened(graph, values, "check")
        return gradient_check(parsed, point, h, tol, None)
    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    user = parse_components(grad, "grad") if grad is not None else None
    if user is not None:
        extra = set().union(*(u.free_symbols for u in user)) - set(parsed.variables)
        if extra:
            raise BadInput(f"grad uses {', '.join(sorted(s.name for s in extra))}, which f does not", "grad")
    return gradient_check(parsed, _point(parsed, at, True), h, tol, user)


def explain(expression: str, wrt: Optional[str] = None, *, vars: Optional[Union[str, Sequence[str]]] = None,
            surfaces: Optional[str] = None, dims: Optional[int] = None):
    """∂f/∂``wrt`` derived step by step, each rule named.

    >>> [s.rule for s in explain("x*exp(x)", wrt="x").steps]
    ['variable rule: dx/dx = 1', 'exp rule', "product rule: (fg)' = f'g + fg'"]
    """
    from gradlab.calculus.explain import explain as derive

    return derive(_function(expression, vars, surfaces=surfaces, dims=dims), wrt)


def critical(target: str, *, window: Optional[Sequence[float]] = None, timeout: float = 5.0,
             vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
             dims: Optional[int] = None):
    """Every critical point, exact where possible, classified by the Hessian.

    >>> [p["classification"] for p in critical("x**2 - y**2").to_dict()["points"]]
    ['saddle']
    """
    from gradlab.calculus.critical import critical_points

    if not (0 < timeout <= 600):
        raise BadInput("timeout must be more than 0 and at most 600 seconds", "timeout")
    found = resolve.surface(target, surfaces, dims)
    parsed = found.parsed if found is not None else _function(target, vars)
    win = _window(window) if window is not None else (tuple(found.window) if found is not None
                                                       else (-5.0, 5.0, -5.0, 5.0))
    return critical_points(parsed, win, timeout)


def backprop(expression: str, at: Any = None, *, seed: Optional[int] = None, shape: ShapeLike = None,
             wrt: Names = None, mode: str = "reverse", dir: Any = None, why: Optional[str] = None):
    """The chain rule on a computational graph (the CLI's ``backprop``): every node's
    value, adjoint ∂L/∂node and local derivatives; ``mode="forward"`` gives tangents
    along ``dir`` instead; ``why`` explains one node's adjoint as a sum over paths.

    ``expression`` is an expression or steps ``"z = w*x + b; a = sigmoid(z); L = (a - y)**2"``;
    ``at`` the leaves' values (``{"w": 0.5, "x": 2}``, or text), ``shape`` makes leaves
    vectors and matrices, ``seed`` draws the values ``at`` leaves out.

    >>> r = backprop("z = w*x + b; L = z**2", at={"w": 3, "x": 2, "b": 1})
    >>> r.to_dict()["gradient"]["exact"]  # ∂L/∂(b, w, x) = 2z·(1, x, w) with z = 7
    ['14', '28', '42']
    """
    from gradlab.calculus.backprop import backprop as run, check_mode
    from gradlab.calculus.shapes import parse_values, point_values

    check_mode(mode, dir is not None)
    graph = _graph(expression, shape)
    point = point_values(values_text(at), seed, graph.shapes, required=True)
    dvec = parse_values(values_text(dir), graph.shapes, "--dir") if dir is not None else None
    return run(graph, point, _names(wrt), dvec, why.strip() if why is not None else None)


def taylor(expression: str, at: PointLike, *, order: int = 2, lr: Union[None, float, str, Sequence[float]] = None,
           dir: Optional[PointLike] = None, vars: Names = None, surfaces: Optional[str] = None,
           dims: Optional[int] = None):
    """Linear and quadratic Taylor models of f at ``at`` (the CLI's ``taylor``): their
    errors at sample offsets along ``dir`` (default −∇f), the Newton step, the safe step;
    ``lr`` lists gradient steps whose predicted decrease is checked against the actual.

    >>> t = taylor("exp(x)", at=0, lr=0.5)
    >>> t.to_dict()["gradient"]["exact"], t.to_dict()["hessian"]["exact"]  # eˣ: f' = f'' = 1 at 0
    (['1'], [['1']])
    """
    from gradlab.descent.taylor import taylor as model

    parsed = _function(expression, vars, surfaces=surfaces, dims=dims)
    point = _point(parsed, at, True)
    dvec = [float(v) for v in _point(parsed, dir, True, "--dir")] if dir is not None else None
    return model(parsed, point, order, _rates(lr) or (), dvec)


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
            batch_size: Optional[int] = None, seed: Optional[int] = None, epochs: Optional[int] = None,
            schedule: Optional[str] = None, line_search: Optional[str] = None, sharpness: bool = False,
            tol: float = 1e-6, momentum: Optional[float] = None, beta1: Optional[float] = None,
            beta2: Optional[float] = None, eps: Optional[float] = None, trajectory: bool = True,
            vars: Names = None, surfaces: Optional[str] = None, dims: Optional[int] = None):
    """Every optimizer × learning rate × start on a surface, in one batch.

    ``optimizer``: gd, momentum, nesterov, adagrad, rmsprop, adam, newton, bfgs, lbfgs
    (a list, or comma-separated). As on the command line, ``batch_size`` (mini-batch SGD
    on a surface with data), ``seed``, ``epochs``, ``schedule`` (optax's:
    ``"cosine"``, ``"exponential:decay_rate=0.99"``, …), ``line_search`` (``"armijo"`` or
    ``"wolfe"``) and ``sharpness`` (λmax of H along each run), as well as bfgs and lbfgs,
    run the step-by-step training loop; the rest run the batch engine.

    ``trajectory`` keeps every iterate (for :func:`plot_descent`); it is on by default
    here, since a notebook usually draws what it ran.

    >>> r = descend("elongated", lr=[0.01, 0.03, 0.06, 0.08])  # stable below 2/λmax = 2/50
    >>> [run.status for run in r.runs]
    ['converged', 'converged', 'diverged', 'diverged']
    >>> [round(v, 6) for v in descend("rosenbrock", optimizer="bfgs").runs[0].x]
    [1.0, 1.0]
    """
    from gradlab.descent.descend import run_descent
    from gradlab.descent.training import Settings, check_names, run_training, wanted

    hyper = resolve.hyper(momentum, beta1, beta2, eps)
    items = _start_list(start)
    found = resolve.target(target, point_text(items[0]) if items else None, _names(vars), surfaces, dims)
    starts = [resolve.point(point_text(s), found.parsed, "--start", True) for s in items] if items else None
    optimizers = _optimizers(optimizer)
    check_names(optimizers)
    settings = Settings(batch_size, seed, epochs, schedule, line_search.strip().lower() if line_search else None,
                        sharpness)
    if wanted(optimizers, settings):
        return run_training(found, optimizers, _rates(lr), starts, steps, tol, hyper, settings, trajectory=trajectory)
    return run_descent(found, optimizers, _rates(lr), starts, steps, tol, hyper, trajectory=trajectory)


def _range_text(r: Union[None, str, Sequence[float]]) -> Optional[str]:
    """A range as the CLI writes it: ``(0.001, 0.1)`` → ``"0.001:0.1"``, ``(a, b, n)`` → ``"a:b:n"``."""
    if r is None or isinstance(r, str):
        return r
    return ":".join(_number_text(v) for v in r)


def sweep(target: str, *, optimizer: Union[str, Sequence[str]] = "gd", lr_min: Optional[float] = None,
          lr_max: Optional[float] = None, num: int = 50, linear: bool = False, precision: float = 1e-3,
          start=None, steps: Optional[int] = None, tol: float = 1e-6,
          lr: Union[None, str, Sequence[float]] = None, momentum: Union[None, float, str, Sequence[float]] = None,
          beta1: Optional[float] = None, beta2: Optional[float] = None, eps: Optional[float] = None,
          batch_size: Optional[int] = None, seeds: Union[None, int, str, Sequence[int]] = None,
          epochs: Optional[int] = None, schedule: Optional[str] = None, vars: Names = None,
          surfaces: Optional[str] = None, dims: Optional[int] = None):
    """The largest stable learning rate by experiment, with the theory's bound.

    As on the command line: ``lr`` is the grid as a range, ``"A:B"``, ``"A:B:N"`` or
    ``(A, B[, N])`` (instead of ``lr_min``, ``lr_max``, ``num``); ``momentum`` a range
    (``"0:0.99"`` or ``(0, 0.99)``) draws a stability map over (lr, β) (a StabilityMap);
    ``batch_size`` or ``seeds`` (a count, or a list of seeds) sweeps mini-batch SGD over
    seeds (a SeedSweep), with ``epochs`` and ``schedule``.

    >>> gd = sweep("elongated", num=20).optimizers[0]  # gd on x² + 25y²: stable below 2/λmax = 2/50
    >>> gd.largest_stable_lr <= 0.04 <= gd.largest_stable_lr + gd.precision
    True
    """
    from gradlab.descent.stability import parse_range
    from gradlab.descent.sweep import line_range, run_sweep

    mom = _range_text(momentum) if not isinstance(momentum, Number) else None
    beta_range = parse_range(mom, "--momentum", 0.0, 1.0, strict_hi=True) if mom and ":" in mom else None
    if mom is not None and beta_range is None:
        momentum = _rates(mom)[0]
    hyper = resolve.hyper(None if beta_range else momentum, beta1, beta2, eps)
    lr_text = _range_text(lr)
    lr_range = parse_range(lr_text, "--lr", 0.0) if lr_text else None
    if lr_range is not None and (lr_min is not None or lr_max is not None):
        raise BadInput("give --lr A:B or --lr-min/--lr-max, not both", "--lr")
    if lr_range is not None and lr_range[0] <= 0:
        raise BadInput(f"the rates in {lr_text!r} must be positive", "--lr")
    found = resolve.target(target, None if start is None else point_text(start), _names(vars), surfaces, dims)
    x0 = None if start is None else resolve.point(point_text(start), found.parsed, "--start", True)
    optimizers = _optimizers(optimizer)
    if beta_range is not None or batch_size is not None or seeds is not None:
        from gradlab.descent.special import special_sweep

        return special_sweep(found, optimizers, lr_range, beta_range, lr_min, lr_max, num, linear, x0, steps, tol,
                             hyper, batch_size, seeds, epochs, schedule)
    lo, hi, num = line_range(found, optimizers, hyper, lr_range, lr_min, lr_max, num, epochs, schedule)
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
    """One surface in detail: its derivatives and known minima.

    >>> surface("rosenbrock-nd", dims=3).to_dict()["variables"]
    ['x1', 'x2', 'x3']
    """
    from gradlab.gallery import surface_detail
    from gradlab.surfaces import catalogue, lookup

    s = lookup(name, catalogue(file)[0])
    return surface_detail(s.with_dims(dims) if dims is not None else s)


# --------------------------------------------------------------------------- plots
def plot(target: str, *, window: Optional[Sequence[float]] = None,
         vars: Optional[Union[str, Sequence[str]]] = None, surfaces: Optional[str] = None,
         dims: Optional[int] = None):
    """The landscape (filled contours, gradient field, minima and critical points) as a
    matplotlib Figure.

    >>> type(plot("himmelblau", window=(-5, 5, -5, 5))).__name__
    'Figure'
    """
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


def _drawable(result, what: str):
    """The runs to draw (at most 12 panels, 200 runs, as the CLI draws them), or a
    ValueError when the result kept no iterates."""
    import warnings

    runs = getattr(result, "runs", None)
    if runs is None or not hasattr(result, "for_plot"):
        raise ValueError(f"{what} draws a descend() result, not {type(result).__name__}")
    if any(r.trajectory is None for r in runs):
        raise ValueError(f"{what} needs the runs' trajectories, and this result kept none: run "
                         "descend(..., trajectory=True) (the default)")
    shown, capped = result.for_plot()
    if capped:
        warnings.warn(capped, stacklevel=3)
    return shown


def plot_descent(result, loss: bool = True):
    """One panel per optimizer × learning rate (with loss curves) for a :func:`descend`
    result that kept its trajectories (the CLI's ``--plot``).

    >>> plot_descent(descend("elongated", lr=0.03, trajectory=False))
    Traceback (most recent call last):
    ...
    ValueError: plot_descent needs the runs' trajectories, and this result kept none: run descend(..., trajectory=True) (the default)
    """
    from gradlab.render import plots

    return plots.descent_figure(_drawable(result, "plot_descent"), with_loss=loss)


def plot_loss(result):
    """The loss curves of a :func:`descend` result (the CLI's ``--loss-plot``; with
    mini-batches, schedules or line searches, also the rate each step used).

    >>> type(plot_loss(descend("elongated", lr=[0.01, 0.03]))).__name__
    'Figure'
    """
    from gradlab.descent.training import TrainingResult
    from gradlab.render import plots

    shown = _drawable(result, "plot_loss")
    if isinstance(result, TrainingResult):
        from gradlab.render.training_plots import training_figure

        return training_figure(result)
    return plots.loss_figure(shown)


def plot_3d(result):
    """The surface in 3-D with the trajectories of a :func:`descend` result on it.

    >>> type(plot_3d(descend("rosenbrock", optimizer="newton"))).__name__
    'Figure'
    """
    from gradlab.render import plots

    shown = _drawable(result, "plot_3d")
    if len(result.surface.parsed.variables) < 2:
        raise BadInput("a 3-D view or an animation needs two variables", "--3d")
    return plots.surface3d_figure(shown)


def plot_backprop(result):
    """The computational graph of a :func:`backprop` result, with values, adjoints and
    local derivatives (the CLI's ``backprop --plot``).

    >>> type(plot_backprop(backprop("L = (w*x - y)**2", at="w=1,x=2,y=3"))).__name__
    'Figure'
    """
    from gradlab.render.graphplot import graph_figure

    return graph_figure(result)


def plot_taylor(result, tol: float = 0.1, radius: Optional[float] = None):
    """The Taylor model's contours over f, shading where |f − m| < ``tol``, for a
    :func:`taylor` result (the CLI's ``taylor --plot``).

    >>> type(plot_taylor(taylor("exp(x)*cos(y)", at=(0, 0)), tol=0.05)).__name__
    'Figure'
    """
    import math

    from gradlab.render.training_plots import taylor_figure

    if not (math.isfinite(tol) and tol > 0):
        raise BadInput(f"must be a positive number, got {tol}", "--tol")
    if radius is not None and not (math.isfinite(radius) and radius > 0):
        raise BadInput(f"must be a positive number, got {radius}", "--radius")
    return taylor_figure(result, tol, radius)


def plot_sweep(result):
    """Final loss against learning rate for a :func:`sweep` result (the CLI's
    ``sweep --plot``): the stability map over (lr, β), or the spread over seeds, for
    those sweeps.

    >>> type(plot_sweep(sweep("elongated", num=5))).__name__
    'Figure'
    """
    from gradlab.descent.stability import StabilityMap
    from gradlab.descent.training import SeedSweep
    from gradlab.render import plots

    if isinstance(result, StabilityMap):
        from gradlab.render.training_plots import stability_map_figure

        return stability_map_figure(result)
    if isinstance(result, SeedSweep):
        from gradlab.render.training_plots import seed_sweep_figure

        return seed_sweep_figure(result)
    return plots.sweep_figure(result)


def plot_check(expression: str, at: PointLike, *, vars: Optional[Union[str, Sequence[str]]] = None):
    """Finite-difference error against the step h, log-log (the CLI's ``check --plot``).

    >>> type(plot_check("sin(x)", at=1)).__name__
    'Figure'
    """
    import numpy as np

    from gradlab.render import plots
    from gradlab.calculus.gradcheck import error_curve

    parsed = _function(expression, vars)
    point = _point(parsed, at, True)
    hs = np.geomspace(1e-1, 1e-14, 40)
    fe, ce = error_curve(parsed, point, hs)
    return plots.check_figure(parsed, point, hs, fe, ce)
