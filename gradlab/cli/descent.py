"""The descent commands: surfaces, descend, sweep, plot, taylor."""

from __future__ import annotations

from typing import Optional

import typer

from gradlab.errors import BadInput
from gradlab.cli.app import (
    Beta1Opt,
    Beta2Opt,
    CompactOpt,
    DimsOpt,
    DpiOpt,
    EpsOpt,
    ExitStatusOpt,
    Format,
    format_option,
    HeaderOpt,
    HYPER,
    MomentumOpt,
    OUTPUT,
    Out,
    PLOTS,
    SurfacesOpt,
    VarsOpt,
    _check_dpi,
    _function,
    _hyper,
    _numbers,
    _point,
    _progress,
    _stdin_text,
    _surface,
    _target,
    _window,
    _fail,
    _write_lines,
    app,
    emit,
    note,
)


@app.command("surfaces")
def surfaces_cmd(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help="Show this surface in detail."),
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("surfaces"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> None:
    """List the surface catalogue, or show one surface with its derivatives and minima.

    Example: gradlab surfaces elongated
    """
    out = Out(fmt, header, compact).check("surfaces")
    from gradlab.gallery import surface_detail, surface_list
    from gradlab.surfaces import catalogue, lookup

    cat, notes = catalogue(surfaces)
    for n in notes:
        note(n)
    if name is None:
        if dims is not None:
            raise BadInput("--dims goes with a surface name", "--dims")
        emit(surface_list(cat), out)
        return
    surface = lookup(name, cat)
    emit(surface_detail(surface.with_dims(dims) if dims is not None else surface), out)


@app.command("descend")
def descend_cmd(
    target: str = typer.Argument(..., metavar="TARGET", help="A surface name (see gradlab surfaces) or an expression."),
    lr: Optional[str] = typer.Option(None, "--lr", metavar="LR", help="Learning rates, comma-separated: 0.01,0.03 (default: the surface's; 1 for newton)."),
    optimizer: str = typer.Option("gd", "--optimizer", "-o", metavar="NAMES", help="Optimizers, comma-separated: gd, momentum, nesterov, adagrad, rmsprop, adam, newton, bfgs, lbfgs (default: gd)."),
    start: Optional[list[str]] = typer.Option(None, "--start", metavar="POINT", help="Start point, e.g. -4,2 (repeatable; - reads one a line from stdin; default: the surface's)."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Most steps per run (default: the surface's, else 1000)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", metavar="N", help="Mini-batch SGD: rows per batch on a surface with data (default: all)."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Seed of the mini-batch draws (default: 0)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", metavar="N", help="Passes over the data (instead of --steps)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", metavar="SPEC", help="Learning-rate schedule (optax's names): constant; exponential:decay_rate=R; step:decay_rate=R,transition_steps=K; cosine, or cosine:decay_steps=T,alpha=A; warmup-cosine:warmup_steps=W (default: constant)."),
    line_search: Optional[str] = typer.Option(None, "--line-search", metavar="METHOD", help="armijo (c1 = 1e-4, rho = 0.5) or wolfe (strong Wolfe, as SciPy): the lr is the first trial step."),
    sharpness: bool = typer.Option(False, "--sharpness", help="Record λmax of the Hessian at every iterate, against 2/lr."),
    tol: float = typer.Option(1e-6, "--tol", metavar="TOL", help="Converged when ‖∇f‖ < TOL."),
    momentum: Optional[float] = MomentumOpt,
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    trajectory: Optional[str] = typer.Option(None, "--trajectory", metavar="FILE", rich_help_panel=OUTPUT, help="Write every iterate to FILE.csv or FILE.json; - writes CSV to stdout instead of the summary."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw the landscape with one panel per optimizer × lr, and the loss curves, to FILE.png."),
    loss_plot: Optional[str] = typer.Option(None, "--loss-plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw the loss curves alone to FILE.png."),
    three_d: bool = typer.Option(False, "--3d", rich_help_panel=PLOTS, help="With --plot: a 3-D surface with the trajectories on it."),
    animate: Optional[str] = typer.Option(None, "--animate", metavar="FILE", rich_help_panel=PLOTS, help="Animate the descent to FILE.gif."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("descend"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
    exit_status: bool = ExitStatusOpt,
) -> int:
    """Run optimizers on a surface: every optimizer × learning rate × start in one batch.

    Example: gradlab descend elongated --lr 0.01,0.03,0.06,0.08
    """
    out = Out(fmt, header, compact).check("descend")
    from gradlab.descent.descend import exact_text, plain_numbers, run_descent
    from gradlab.files import atomic_write, check_writable
    from gradlab.calculus.parsing import parse_point

    hyper = _hyper(momentum, beta1, beta2, eps)
    if trajectory and trajectory != "-":
        check_writable(trajectory, (".csv", ".json"), "--trajectory")
    if trajectory == "-" and Format(fmt) is not Format.auto and out.kind not in ("plain", "csv", "json"):
        raise BadInput(f"--trajectory - writes CSV (--format csv or plain) or JSON (--format json), "
                       f"not {out.kind}", "--format")
    lines = _start_lines(start) if start and any(s.strip() == "-" for s in start) else None
    for path, option, ending in ((plot, "--plot", ".png"), (loss_plot, "--loss-plot", ".png"),
                                 (animate, "--animate", ".gif")):
        if path:
            check_writable(path, (ending,), option)
    if three_d and not plot:
        raise BadInput("--3d draws into the --plot file; give --plot FILE.png", "--3d")
    _check_dpi(dpi)
    failed = 0
    if lines is not None:  # many starts: a bad line is reported and the others run (exit 1)
        surface, starts, exact, failed = _read_starts(target, lines, variables, surfaces, dims)
        if not starts:
            return 1
    else:
        surface = _target(target, start[0] if start else None, variables, surfaces, dims)
    n = len(surface.parsed.variables)
    if (three_d or animate) and n < 2:
        raise BadInput("a 3-D view or an animation needs two variables", "--3d" if three_d else "--animate")
    names = [v.name for v in surface.parsed.variables]
    if lines is None:
        read = [plain_numbers(s, n) or parse_point(s, n, names, "--start") for s in start] if start else None
        starts = [[float(v) for v in p] for p in read] if read else None
        exact = [[exact_text(v) for v in p] for p in read] if read else None
    lrs = _numbers(lr, "--lr") if lr else None
    optimizers = [o.strip() for o in optimizer.split(",")]
    from gradlab.descent.training import Settings, check_names, run_training, wanted

    check_names(optimizers)  # before the choice of loop: the list names bfgs and lbfgs too

    settings = Settings(batch_size, seed, epochs, schedule, line_search.strip().lower() if line_search else None,
                        sharpness)
    update, close = _progress()
    try:
        if wanted(optimizers, settings):
            result = run_training(surface, optimizers, lrs, starts, steps, tol, hyper, settings, progress=update)
        else:
            result = run_descent(surface, optimizers, lrs, starts, steps, tol, hyper,
                                 trajectory=bool(trajectory or plot or loss_plot or animate), progress=update,
                                 starts_exact=exact)
    finally:
        close()
    if plot or loss_plot or animate:
        from gradlab.render import plots

        shown, capped = result.for_plot()  # at most 12 panels, 200 runs drawn
        if capped:
            note(capped)
        if plot:
            plots.save(plots.surface3d_figure(shown) if three_d else plots.descent_figure(shown), plot, dpi)
            note(f"wrote {plot}")
        if loss_plot:
            if wanted(optimizers, settings):
                from gradlab.render.training_plots import training_figure

                plots.save(training_figure(result), loss_plot, dpi)
            else:
                plots.save(plots.loss_figure(shown), loss_plot, dpi)
            note(f"wrote {loss_plot}")
        if animate:
            frames = plots.animate(shown, animate, min(dpi, 100))
            note(f"wrote {animate} ({frames} frames)")
    if trajectory == "-":  # the iterates are the data: CSV (or JSON) on stdout, no summary
        from gradlab.render.output import trajectory_json, trajectory_rows

        if out.kind == "json":
            _write_lines([trajectory_json(result.runs, names).decode() + "\n"])
        else:
            _write_lines(trajectory_rows(result.runs, names))
    elif trajectory:
        from gradlab.render.output import trajectory_csv, trajectory_json

        data = (trajectory_json(result.runs, names) if trajectory.lower().endswith(".json")
                else trajectory_csv(result.runs, names))
        atomic_write(trajectory, lambda fh: fh.write(data))
        note(f"wrote {trajectory}")
    if trajectory != "-":
        emit(result, out)
    if failed:
        return 1  # as for --at -: some inputs could not be read
    return _diverged_code(result.runs, exit_status)


EXIT_DIVERGED = 3  # with --exit-status: a descend run diverged; a sweep found no stable lr


def _diverged_code(runs, exit_status: bool) -> int:
    return EXIT_DIVERGED if exit_status and any(r.status == "diverged" for r in runs) else 0


def _start_lines(start: list[str]):
    """The --start values as input lines: ``-`` reads standard input, one start a line
    (``line 3``); the others are ``--start`` (``--start #2`` when repeated)."""
    from gradlab.calculus.inputs import Line, lines_of

    lines = []
    for k, text in enumerate(start, 1):
        if text.strip() == "-":
            lines.extend(lines_of(_stdin_text(), "stdin"))
        else:
            lines.append(Line(f"--start #{k}" if len(start) > 1 else "--start", text))
    if not lines:
        raise BadInput("no start point on standard input", "--start")
    return lines


def _read_starts(target, lines, variables, surfaces, dims):
    """The surface and the starts that can be read; each line that cannot is one stderr
    line naming it (``(line 3)``), as for ``--at -``. Returns (surface, floats, exact
    texts, failures)."""
    from gradlab.calculus.inputs import read_point
    from gradlab.calculus.parsing import parse_point
    from gradlab.descent.descend import inline_surface
    from gradlab.errors import GradlabError

    surface = _surface(target, surfaces, dims)
    parsed = surface.parsed if surface is not None else _function(target, variables)
    names = [v.name for v in parsed.variables]
    starts, exact, failed, first = [], [], 0, None
    for line in lines:
        try:
            p = read_point(line, names)
        except GradlabError as exc:
            failed += 1
            _fail(exc.line(), exc.exit_code)
            continue
        starts.append(list(p.values))
        exact.append(list(p.exact))
        first = first or line
    if surface is None and first is not None:
        surface = inline_surface(parsed, parse_point(first.text, len(names), names, first.where))
    return surface, starts, exact, failed


@app.command("sweep")
def sweep_cmd(
    target: str = typer.Argument(..., metavar="TARGET", help="A surface name or an expression."),
    optimizer: str = typer.Option("gd", "--optimizer", "-o", metavar="NAMES", help="Optimizers, comma-separated, as for descend (default: gd)."),
    lr_min: Optional[float] = typer.Option(None, "--lr-min", metavar="LR", help="Smallest rate (default: the bound/100, or 1e-4)."),
    lr_max: Optional[float] = typer.Option(None, "--lr-max", metavar="LR", help="Largest rate (default: 10 × the bound, or 1)."),
    num: Optional[int] = typer.Option(None, "--num", metavar="N", help="Rates in the grid, at least 2 (default: 50)."),
    linear: bool = typer.Option(False, "--linear", help="Space the grid linearly, not logarithmically."),
    precision: float = typer.Option(1e-3, "--precision", metavar="REL", help="Refine the boundary to this relative width."),
    start: Optional[str] = typer.Option(None, "--start", metavar="POINT", help="Start point (default: the surface's)."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Steps per run (default: the surface's, else 1000)."),
    tol: float = typer.Option(1e-6, "--tol", metavar="TOL", help="Converged when ‖∇f‖ < TOL."),
    lr: Optional[str] = typer.Option(None, "--lr", metavar="A:B[:N]", help="The rates as a range A:B or A:B:N (instead of --lr-min, --lr-max, --num)."),
    momentum: Optional[str] = typer.Option(None, "--momentum", metavar="BETA", rich_help_panel=HYPER, help="β of momentum and nesterov (default: 0.9); a range C:D or C:D:N draws a stability map over (lr, β)."),
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", metavar="N", help="Mini-batch sweep: rows per batch on a surface with data."),
    seeds: Optional[str] = typer.Option(None, "--seeds", metavar="SEEDS", help="Mini-batch sweep: a count N (the seeds 0 to N−1; default: 5) or a list, 1,2,7; the spread over them is shown."),
    epochs: Optional[int] = typer.Option(None, "--epochs", metavar="N", help="Mini-batch sweep: passes over the data (instead of --steps)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", metavar="SPEC", help="Mini-batch sweep: a learning-rate schedule (see descend --help)."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw final loss against lr (or the stability map) to FILE.png."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("sweep"),
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
    exit_status: bool = typer.Option(False, "--exit-status", rich_help_panel=OUTPUT,
                                     help="Exit 3 when an optimizer has no stable rate in the range (a stability map "
                                          "or a seed sweep: when a run diverged); by default exit 0."),
) -> int:
    """Find the largest stable learning rate by experiment, and explain it from the Hessian.

    Example: gradlab sweep elongated --optimizer gd,momentum
    """
    out = Out(fmt, header, compact).check("sweep")
    from gradlab.files import check_writable
    from gradlab.calculus.parsing import parse_point
    from gradlab.descent.stability import parse_range
    from gradlab.descent.sweep import line_range, run_sweep

    beta_range = parse_range(momentum, "--momentum", 0.0, 1.0, strict_hi=True) if momentum and ":" in momentum \
        else None
    hyper = _hyper(None if beta_range or momentum is None else _numbers(momentum, "--momentum")[0], beta1, beta2, eps)
    lr_range = parse_range(lr, "--lr", 0.0) if lr else None
    if lr_range is not None and (lr_min is not None or lr_max is not None):
        raise BadInput("give --lr A:B or --lr-min/--lr-max, not both", "--lr")
    if lr_range is not None and lr_range[2] is not None and num is not None:
        raise BadInput(f"give the number of rates once: --lr A:B:N or --num {num}, not both", "--num")
    num = num if num is not None else 50
    if lr_range is not None and lr_range[0] <= 0:
        raise BadInput(f"the rates in {lr!r} must be positive", "--lr")
    if plot:
        check_writable(plot, (".png",), "--plot")
        _check_dpi(dpi)
    surface = _target(target, start, variables, surfaces, dims)
    names = [v.name for v in surface.parsed.variables]
    x0 = parse_point(start, len(names), names, "--start") if start else None
    optimizers = [o.strip() for o in optimizer.split(",")]
    if beta_range is not None or batch_size is not None or seeds is not None:
        from gradlab.cli.training import special_sweep

        result, figure = special_sweep(surface, optimizers, lr_range, beta_range, lr_min, lr_max, num, linear,
                                       x0, steps, tol, hyper, batch_size, seeds, epochs, schedule, bool(plot),
                                       _progress)
        if plot:
            from gradlab.render.plots import save

            save(figure(result), plot, dpi)
            note(f"wrote {plot}")
        emit(result, out)
        # a stability map's and a seed sweep's status arrays hold one status per run
        return EXIT_DIVERGED if exit_status and bool((result.status == "diverged").any()) else 0
    lo, hi, num = line_range(surface, optimizers, hyper, lr_range, lr_min, lr_max, num, epochs, schedule)
    update, close = _progress()
    try:
        result = run_sweep(surface, optimizers, lo, hi, num, steps, tol, x0, hyper, precision, not linear, update)
    finally:
        close()
    if plot:
        from gradlab.render.plots import save, sweep_figure

        save(sweep_figure(result), plot, dpi)
        note(f"wrote {plot}")
    emit(result, out)
    # --exit-status: 3 when an optimizer has no stable rate in the range (the default grid
    # reaches past the bound on purpose, so a diverged run says nothing)
    return EXIT_DIVERGED if exit_status and any(o.largest_stable_lr is None for o in result.optimizers) else 0


@app.command("plot")
def plot_cmd(
    target: str = typer.Argument(..., metavar="TARGET", help="A surface name or an expression of two (or more) variables."),
    out: Optional[str] = typer.Option(None, "--out", metavar="FILE", help="The PNG file to write: FILE.png (required)."),
    out_short: Optional[str] = typer.Option(None, "-o", hidden=True),  # the old short spelling of --out still works; hidden, as -o is --optimizer on descend and sweep
    window: Optional[str] = typer.Option(None, "--window", metavar="X0,X1,Y0,Y1", help="The window, xmin,xmax,ymin,ymax (default: the surface's)."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
) -> None:
    """Draw a landscape: filled contours, the gradient field, known minima.

    Example: gradlab plot rosenbrock --out rosenbrock.png
    """
    from gradlab.descent.descend import inline_surface
    from gradlab.files import check_writable
    from gradlab.calculus.parsing import parse

    if out is not None and out_short is not None:
        raise BadInput("give the file once, with --out", "--out")
    out = out if out is not None else out_short
    if out is None:
        raise BadInput("plot writes a picture: give --out FILE.png", "--out")
    check_writable(out, (".png",), "--out")
    _check_dpi(dpi)
    surface = _surface(target, surfaces, dims)
    if surface is None:
        parsed = parse(target, variables)
        if not 1 <= len(parsed.variables):
            raise BadInput("the expression has no variables to plot", "expression")
        surface = inline_surface(parsed, [0] * len(parsed.variables))
    if len(surface.parsed.variables) < 2:
        raise BadInput("a landscape needs two variables (try --vars x,y)", "expression")
    win = None
    if window:
        win = _window(window)
    from gradlab.render import plots
    from gradlab.calculus.critical import numeric_critical

    known = [[float(v) for v in m.point] for m in surface.minima]
    critical = [p for p in numeric_critical(surface.parsed, win or surface.window)
                if all(sum((a - b) ** 2 for a, b in zip(p, k)) > 1e-10 for k in known)] \
        if len(surface.parsed.variables) == 2 else []
    plots.save(plots.landscape_figure(surface, win, critical), out, dpi)
    note(f"wrote {out}")


# ------------------------------------------------------------------ for learners


@app.command("taylor")
def taylor_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help="The function (or a surface name)."),
    at: Optional[str] = typer.Option(None, "--at", metavar="POINT", help="The point a: 1,2 or x=1,y=2 (required)."),
    order: int = typer.Option(2, "--order", metavar="N", help="1: the linear model; 2: also the quadratic one."),
    lr: Optional[str] = typer.Option(None, "--lr", metavar="LR", help="Gradient steps to check, comma-separated: predicted against actual decrease."),
    direction: Optional[str] = typer.Option(None, "--dir", metavar="VECTOR", help="Direction of the sample offsets (default: −∇f)."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw the model's contours over f, shading |f − m| < TOL, to FILE.png."),
    tol: float = typer.Option(0.1, "--tol", metavar="TOL", rich_help_panel=PLOTS, help="With --plot: shade where |f − m| < TOL."),
    radius: Optional[float] = typer.Option(None, "--radius", metavar="R", rich_help_panel=PLOTS, help="With --plot: half-width of the window around a."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = format_option("taylor"),
    compact: bool = CompactOpt,
) -> None:
    """Linear and quadratic Taylor models at a point: errors, Newton step, safe step.

    Example: gradlab taylor "exp(x)*cos(y)" --at 0,0 --lr 0.5
    """
    import math

    from gradlab.descent.taylor import taylor

    out = Out(fmt, compact=compact).check("taylor")
    if plot:
        from gradlab.files import check_writable

        check_writable(plot, (".png",), "--plot")
        _check_dpi(dpi)
        if not (math.isfinite(tol) and tol > 0):
            raise BadInput(f"must be a positive number, got {tol}", "--tol")
        if radius is not None and not (math.isfinite(radius) and radius > 0):
            raise BadInput(f"must be a positive number, got {radius}", "--radius")
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    point = _point(at, parsed, required=True)
    dvec = [float(v) for v in _point(direction, parsed, where="--dir")] if direction else None
    result = taylor(parsed, point, order, _numbers(lr, "--lr") if lr else (), dvec)
    if plot:
        from gradlab.render.plots import save
        from gradlab.render.training_plots import taylor_figure

        save(taylor_figure(result, tol, radius), plot, dpi)
        note(f"wrote {plot}")
    emit(result, out)
