"""The calculus commands: grad, jacobian, hessian, directional, eval, critical, check, explain."""

from __future__ import annotations

from typing import Optional

import typer

from gradlab.errors import BadInput
from gradlab.cli.app import (
    AtOpt,
    CompactOpt,
    DimsOpt,
    DpiOpt,
    ExactOpt,
    FailFastOpt,
    Format,
    format_option,
    HeaderOpt,
    Out,
    PLOTS,
    PointsOpt,
    SeedOpt,
    ShapeOpt,
    SurfacesOpt,
    VarsOpt,
    WrtOpt,
    _check_dpi,
    _first,
    _function,
    _many,
    _point,
    _progress,
    _require,
    _shaped_point,
    _surface,
    _window,
    answer_one,
    app,
    emit,
    note,
    run_many,
)


def _at_points(command: str, text: str, at, points, variables, surfaces, dims, exact: bool, fail_fast: bool,
               out: Out, report, vector: bool = False) -> int:
    """grad, jacobian and hessian alike: many points together (``batch.<command>_many``),
    or one answer, symbolic without ``--at``."""
    if _many(text, at, points):
        from gradlab.calculus import batch

        return run_many(command, text, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        report, getattr(batch, f"{command}_many"), vector=vector)
    parsed = _function(text, variables, vector=vector, surfaces_file=surfaces, dims=dims)
    point = _point(_first(at), parsed)
    return answer_one(command, parsed, _first(at), point, lambda: report(parsed, point), out)


@app.command("grad")
def grad_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function, e.g. 'x**2*y + 3*y'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    wrt: Optional[str] = WrtOpt,
    fmt: Format = format_option("grad"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """Partial derivatives and the gradient, exact and at a point.

    Example: gradlab grad "x**2*y + 3*y" --at 2,5
    """
    from gradlab.calculus.pointwise import grad_report

    out = Out(fmt, header, compact).check("grad", bool(at or points))
    if shape or seed is not None or wrt:
        from gradlab.cli.backprop import shaped

        return shaped("grad", expression, shape, _shaped_point(expression, at, points), seed, wrt, variables, out)

    return _at_points("grad", expression, at, points, variables, surfaces, dims, exact, fail_fast, out, grad_report)


@app.command("jacobian")
def jacobian_cmd(
    expressions: str = typer.Argument(..., metavar="EXPRESSIONS", help="The components, comma-separated: 'x**2*y, x + y**3', or softmax(a,b,c); - reads one map a line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    wrt: Optional[str] = WrtOpt,
    fmt: Format = format_option("jacobian"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The Jacobian matrix of a map (rows = outputs, columns = variables).

    Example: gradlab jacobian "x**2*y, x + y**3" --at 2,3
    """
    from gradlab.calculus.pointwise import jacobian_report

    out = Out(fmt, header, compact).check("jacobian", bool(at or points))
    if shape or seed is not None or wrt:
        from gradlab.cli.backprop import shaped

        return shaped("jacobian", expressions, shape, _shaped_point(expressions, at, points), seed, wrt, variables, out)

    return _at_points("jacobian", expressions, at, points, variables, surfaces, dims, exact, fail_fast, out, jacobian_report, vector=True)


@app.command("hessian")
def hessian_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function, e.g. 'x**2 - y**2'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = format_option("hessian"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The Hessian; at a point its eigenvalues and the classification.

    Example: gradlab hessian "x**2 - y**2" --at 0,0
    """
    from gradlab.calculus.pointwise import hessian_report

    out = Out(fmt, header, compact).check("hessian", bool(at or points))
    if shape or seed is not None:
        from gradlab.cli.backprop import flat_function

        point = _shaped_point(expression, at, points)
        emit(hessian_report(*flat_function("hessian", expression, shape, point, seed, variables, False)), out)
        return 0
    return _at_points("hessian", expression, at, points, variables, surfaces, dims, exact, fail_fast, out, hessian_report)


@app.command("directional")
def directional_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function, e.g. 'x**2 + y**2'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    direction: Optional[str] = typer.Option(None, "--dir", metavar="VECTOR", help="The direction, of any length: 1,1 (required)."),
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("directional"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The derivative along a direction, with the steepest rate ‖∇f‖.

    Example: gradlab directional "x**2 + y**2" --at 3,4 --dir 1,1
    """
    from gradlab.calculus.pointwise import directional_report

    out = Out(fmt, header, compact).check("directional")
    if _many(expression, at, points):
        from gradlab.calculus.batch import directional_many

        if direction is None:
            raise BadInput("a direction is required", "--dir")

        def report(parsed, point):
            return directional_report(parsed, _require(point), _point(direction, parsed, "--dir", True))

        return run_many("directional", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        report, lambda parsed, pts: directional_many(parsed, pts, _point(direction, parsed, "--dir", True)))
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    point = _point(_first(at), parsed, required=True)
    dvec = _point(direction, parsed, where="--dir", required=True)
    return answer_one("directional", parsed, _first(at), point, lambda: directional_report(parsed, point, dvec), out)


@app.command("eval")
def eval_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function, e.g. 'log(x) + y'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("eval"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The value of a function at a point, exact and as a float.

    Example: gradlab eval "sqrt(x) + y" --at 8,1/2
    """
    from gradlab.calculus.pointwise import eval_report

    out = Out(fmt, header, compact).check("eval")
    if _many(expression, at, points):
        from gradlab.calculus.batch import eval_many

        def report(parsed, point):
            if point is None and parsed.variables:
                raise BadInput("a point is required", "--at")
            return eval_report(parsed, point or ())

        return run_many("eval", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        report, eval_many)
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    point = _point(_first(at), parsed, required=bool(parsed.variables)) or ()
    return answer_one("eval", parsed, _first(at), point, lambda: eval_report(parsed, point), out)


# ------------------------------------------------------------------ surfaces and descent


@app.command("critical")
def critical_cmd(
    target: str = typer.Argument(..., metavar="TARGET", help="A surface name or an expression."),
    window: Optional[str] = typer.Option(None, "--window", metavar="X0,X1,Y0,Y1", help="The window to search, xmin,xmax,ymin,ymax (default: the surface's, else -5,5,-5,5)."),
    timeout: float = typer.Option(5.0, "--timeout", metavar="SECONDS", help="Time allowed for the exact solve, at most 600."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("critical"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> None:
    """Every critical point (∇f = 0), exact where possible, classified by the Hessian.

    Example: gradlab critical "x**3 + y**3 + 3*x**2 - 6*y**2 - 2"
    """
    out = Out(fmt, header, compact).check("critical")
    from gradlab.calculus.critical import critical_points

    if not (0 < timeout <= 600):
        raise BadInput("--timeout must be more than 0 and at most 600 seconds", "--timeout")
    surface = _surface(target, surfaces, dims)
    parsed = surface.parsed if surface is not None else _function(target, variables)
    win = _window(window) if window else (tuple(surface.window) if surface is not None else (-5.0, 5.0, -5.0, 5.0))
    update, close = _progress("searching")
    try:
        result = critical_points(parsed, win, timeout, progress=update)
    finally:
        close()
    emit(result, out)


@app.command("check")
def check_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    grad: Optional[str] = typer.Option(None, "--grad", metavar="GRADIENT", help='Your gradient to check, one component per variable: "2*x*y, x**2".'),
    h: float = typer.Option(1e-5, "--h", metavar="H", help="Finite-difference step, scaled to each coordinate: H·max(1, |x|)."),
    tol: float = typer.Option(1e-6, "--tol", metavar="TOL", help="Relative tolerance of the verdict."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw the error against h, log-log, to FILE.png."),
    dpi: int = DpiOpt,
    points: Optional[str] = PointsOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = format_option("check"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """Check a gradient: exact against finite differences, or yours against the exact one.

    Exits 1 when the check fails (your gradient is wrong), so that a script can test it
    with `if gradlab check EXPRESSION --at POINT; then`.

    Example: gradlab check "x**2*y + y*z**3" --at 1,2,3 --grad "2*x*y, x**2 + z**3, 3*y*z**2"
    """
    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.parsing import parse_components

    out = Out(fmt, header, compact).check("check")
    if plot:
        from gradlab.files import check_writable

        check_writable(plot, (".png",), "--plot")
        _check_dpi(dpi)
    user_all = parse_components(grad, "--grad") if grad is not None else None

    def checked(parsed, point):
        user = user_all
        if user is not None:
            extra = set().union(*(u.free_symbols for u in user)) - set(parsed.variables)
            if extra:
                raise BadInput(f"--grad uses {', '.join(sorted(s.name for s in extra))}, which f does not", "--grad")
        return gradient_check(parsed, _require(point), h, tol, user)

    if shape or seed is not None:
        from gradlab.cli.backprop import flat_function

        if grad is not None:
            raise BadInput("--grad does not go with --shape (check the exact gradient against differences)", "--grad")
        parsed, point = flat_function("check", expression, shape, _shaped_point(expression, at, points), seed,
                                      variables, True)
        result = checked(parsed, point)
    elif _many(expression, at, points):
        if plot:
            raise BadInput("--plot draws one point: give one --at", "--plot")
        code = run_many("check", expression, at, points, variables, surfaces, dims, True, fail_fast, out,
                        checked, None, meta={"yours": grad is not None}, verdict=True)
        return code
    else:
        parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
        point = _point(_first(at), parsed, required=True)
        if not plot:
            return answer_one("check", parsed, _first(at), point, lambda: checked(parsed, point), out,
                              {"yours": grad is not None})
        result = checked(parsed, point)
    if plot:
        import numpy as np

        from gradlab.render import plots
        from gradlab.calculus.gradcheck import error_curve

        hs = np.geomspace(1e-1, 1e-14, 40)
        fe, ce = error_curve(parsed, point, hs)
        plots.save(plots.check_figure(parsed, point, hs, fe, ce), plot, dpi)
        note(f"wrote {plot}")
    emit(result, out)
    return 0 if result.passed else 1


@app.command("explain")
def explain_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function."),
    wrt: Optional[str] = typer.Option(None, "--wrt", metavar="VAR", help="The variable (default: the first)."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("explain"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> None:
    """Derive ∂f/∂x step by step, naming each rule.

    Example: gradlab explain "x*exp(x)" --wrt x
    """
    out = Out(fmt, header, compact).check("explain")
    from gradlab.calculus.explain import explain

    emit(explain(_function(expression, variables, surfaces_file=surfaces, dims=dims), wrt), out)
