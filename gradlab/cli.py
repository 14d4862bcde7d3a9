"""The gradlab command line: options in, one library call, one renderer out.

This is the only module that touches stdout/stderr, the TTY test and exit codes.
"""

from __future__ import annotations

import enum
import os
import sys
import warnings
from typing import Any, Optional, Sequence

import typer
from typer.core import TyperGroup

from gradlab import __version__
from gradlab.errors import BadInput, GradlabError
from gradlab.streams import Out, Terminated, ascii_only, terminal_width, write_out

# ------------------------------------------------------------------ process behaviour


def _click_exception_class() -> type:
    # typer ≥ 0.29 vendors click; older ones use click itself. Either way
    # BadParameter derives from ClickException, so find it there.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _debug(args: Sequence[str]) -> bool:
    return "--debug" in args or os.environ.get("GRADLAB_DEBUG", "") not in ("", "0")


MAX_ERROR = 400  # characters: an error quoting 5,000 characters of input helps nobody


def _fail(line: str, code: int) -> int:
    line = " ".join(line.split())
    if len(line) > MAX_ERROR:
        line = line[: MAX_ERROR - 41] + " … " + line[-38:]
    sys.stderr.write(f"gradlab: error: {line}\n")
    sys.stderr.flush()
    return code


class GradlabGroup(TyperGroup):
    """Runs the app with gradlab's error contract: one line on stderr, documented codes."""

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,
             complete_var: Optional[str] = None, standalone_mode: bool = True, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        if not args:  # bare `gradlab`: the help, not an empty error line
            args = ["--help"]
        code = _run(lambda args, **kw: super(GradlabGroup, self).main(args=self._normalise(args), **kw),
                    args, prog_name or "gradlab", extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _normalise(self, args: list[str]) -> list[str]:
        """Leading-minus expressions made positional; repeated or empty options refused."""
        from gradlab.argv import Opt, normalise

        i = 0
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 1  # root options: --debug, --version, --help
        command = self.commands.get(args[i]) if i < len(args) else None
        if command is None:
            return args
        spec: dict[str, Opt] = {}
        aliases: dict[str, str] = {}
        for param in command.params:
            names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
            if not names or param.param_type_name != "option":
                continue
            opt = Opt(takes_value=not (param.is_flag or param.count), repeatable=param.multiple or param.count)
            longest = max(names, key=len)
            for n in names:
                spec[n] = opt
                aliases[n] = longest
        for n in ("-h", "--help"):
            spec[n] = Opt(False)
        return args[: i] + normalise(args[i:], spec, aliases)


def _run(main, args: list[str], prog_name: str, extra: dict) -> int:
    click_exception = _click_exception_class()
    if not _debug(args):
        # Library warnings (NumPy, SymPy, matplotlib) are not gradlab's lines: stderr
        # carries only gradlab's own notes, warnings and errors.
        warnings.simplefilter("ignore")
    try:
        rv = main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        if rv == 130:  # typer turns Ctrl-C into Exit(130)
            return _fail("interrupted", 130)
        return rv if isinstance(rv, int) else 0
    except GradlabError as exc:
        if _debug(args):
            raise
        return _fail(exc.line(), exc.exit_code)
    except click_exception as exc:
        if _debug(args):
            raise
        return _fail(" ".join(exc.format_message().split()), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Terminated:  # SIGTERM: the finally blocks on the way out removed temp files
        return _fail("terminated", 143)
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except SystemExit as exc:
        if exc.code == 1 and isinstance(exc.__context__, BrokenPipeError):
            return 0  # rich's answer to a closed pipe (| head) while it printed: still quiet
        raise
    except typer.Abort:
        return _fail("aborted", 1)
    except Exception as exc:  # a bug: still one line, the traceback behind --debug
        if _debug(args):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)


# The names the parser treats specially (tests check this against gradlab.parsing).
EXPRESSION_HELP = (
    "Expressions: + - * / ** (or ^), numbers (0.1 is exactly 1/10), variables. "
    "Constants: pi, e (Euler's number; E also reads). "
    "Functions: abs acos acosh asin asinh atan atan2 atanh cos cosh exp im lambertw log logsumexp "
    "max min re relu sigmoid sign sin sinh softmax softplus sqrt step tan tanh. "
    "Everything gradlab prints reads back in."
)

app = typer.Typer(
    cls=GradlabGroup,
    name="gradlab",
    help="gradlab: exact derivatives and optimizers in your terminal. "
         "Shell completion: gradlab --install-completion.\n\n" + EXPRESSION_HELP,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gradlab {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (or set GRADLAB_DEBUG=1)."),
) -> None:
    """gradlab: exact derivatives and optimizers in your terminal."""


# ------------------------------------------------------------------ output


class Format(str, enum.Enum):
    auto = "auto"
    table = "table"
    plain = "plain"
    json = "json"


def stdout_is_terminal() -> bool:
    """The one TTY test: ``auto`` output is a table on a terminal, plain otherwise."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def resolve_format(fmt: Format) -> str:
    if fmt is Format.auto:
        return "table" if stdout_is_terminal() else "plain"
    return fmt.value


def note(message: str) -> None:
    """A note or warning for the user: stderr, never mixed with data."""
    sys.stderr.write(f"gradlab: {message}\n")


def emit(result: Any, fmt: Format) -> None:
    """Render one result in the chosen format."""
    for w in getattr(result, "warnings", ()):
        note(f"warning: {w}")
    kind = resolve_format(fmt)
    if kind == "json":
        from gradlab.output import render_json

        write_out(render_json(result.to_record(), ascii=ascii_only()))
    elif kind == "plain":
        from gradlab.output import render_plain

        write_out(render_plain([result.view()]))
    else:
        from rich.console import Console

        from gradlab.tables import render

        render(result.view(), Console(file=Out(), width=terminal_width(), highlight=False, soft_wrap=False))


FormatOpt = typer.Option(Format.auto, "--format", "-f", help="auto (table on a terminal, plain when piped), table, plain or json.")
VarsOpt = typer.Option(None, "--vars", help='Variable order, e.g. "y,x" (also adds variables).')
SurfacesOpt = typer.Option(None, "--surfaces", envvar="GRADLAB_SURFACES",
                           help="A YAML catalogue of your own surfaces, over the built-in ones.")
DimsOpt = typer.Option(None, "--dims", help="Dimension n for a surface that declares dims.")
MomentumOpt = typer.Option(None, "--momentum", help="β for momentum and nesterov (0.9).")
Beta1Opt = typer.Option(None, "--beta1", help="Adam's β₁ (0.9).")
Beta2Opt = typer.Option(None, "--beta2", help="Adam's β₂ (0.999); RMSProp's decay (0.9).")
EpsOpt = typer.Option(None, "--eps", help="ε for adagrad, rmsprop, adam (1e-8).")
DpiOpt = typer.Option(100, "--dpi", help="Resolution of plots.")
ShapeOpt = typer.Option(None, "--shape", help="Shapes of vector and matrix variables: W=3x4,x=4,b=3 (see backprop).")
SeedOpt = typer.Option(None, "--seed", help="With --shape: seeded standard-normal values for variables --at leaves out.")
WrtOpt = typer.Option(None, "--wrt", help="Differentiate with respect to these variables only: W or W,b.")


# ------------------------------------------------------------------ inputs


SURFACE_PREFIX = "surface:"


def _surface(text: str, surfaces_file: Optional[str], dims: Optional[int] = None):
    """The surface ``text`` names, or None when it is an expression.

    A text is a surface only when the catalogue has that name (``x-y`` is an
    expression). ``surface:NAME`` forces the catalogue; parentheses, ``(rosenbrock)``,
    force an expression.
    """
    from gradlab.parsing import looks_like_name

    t = text.strip()
    forced = t.startswith(SURFACE_PREFIX)
    if not forced and not looks_like_name(t):
        if dims is not None:
            raise BadInput("--dims needs a surface that declares dims", "--dims")
        return None  # an expression: no need to read the catalogue (nor import PyYAML)
    from gradlab.surfaces import resolve

    surface, notes = resolve(t[len(SURFACE_PREFIX):] if forced else t, surfaces_file, dims, forced)
    for n in notes:
        note(n)
    return surface


def _target(text: str, start: Optional[str], variables: Optional[str], surfaces_file: Optional[str],
            dims: Optional[int]):
    """A surface by name, or an expression made a surface around ``start`` (required)."""
    from gradlab.descent import inline_surface
    from gradlab.parsing import parse, parse_point

    surface = _surface(text, surfaces_file, dims)
    if surface is not None:
        return surface
    parsed = parse(text, variables)
    if not start:
        raise BadInput("an expression needs a start point: --start 1,2", "--start")
    return inline_surface(parsed, parse_point(start, len(parsed.variables),
                                              [v.name for v in parsed.variables], "--start"))


def _hyper(momentum, beta1, beta2, eps) -> dict:
    """The optimizers' hyper-parameters, checked (None: each optimizer's default)."""
    import math

    for name, v in (("--momentum", momentum), ("--beta1", beta1), ("--beta2", beta2)):
        if v is not None and not (0 <= v < 1):
            raise BadInput(f"must be in [0, 1), got {v}", name)
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise BadInput(f"must be a positive number, got {eps}", "--eps")
    return {"momentum": momentum, "beta1": beta1, "beta2": beta2, "eps": eps}


def _function(text: str, variables: Optional[str], vector: bool = False, surfaces_file: Optional[str] = None,
              dims: Optional[int] = None):
    """A surface name or an expression, parsed."""
    from gradlab.parsing import Parsed, parse, variables_of

    surface = _surface(text, surfaces_file, dims)
    if surface is not None:
        p = surface.parsed
        if variables:
            return Parsed(p.text, p.exprs, variables_of(p.exprs, variables))
        return p
    return parse(text, variables, vector=vector)


def _point(text: Optional[str], parsed, where: str = "--at", required: bool = False):
    from gradlab.parsing import parse_point

    if text is None:
        if required:
            raise BadInput("a point is required", where)
        return None
    return parse_point(text, len(parsed.variables), [v.name for v in parsed.variables], where)


# ------------------------------------------------------------------ calculus commands


@app.command("grad")
def grad_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2*y + 3*y'."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 2,5 or x=2,y=5."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    wrt: Optional[str] = WrtOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Partial derivatives and the gradient, exact and at a point.

    Example: gradlab grad "x**2*y + 3*y" --at 2,5
    """
    from gradlab.calculus import grad_report

    if shape or seed is not None or wrt:
        from gradlab.cli_backprop import shaped

        return shaped("grad", expression, shape, at, seed, wrt, variables, fmt)

    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(grad_report(parsed, _point(at, parsed)), fmt)


@app.command("jacobian")
def jacobian_cmd(
    expressions: str = typer.Argument(..., help="The components, 'f1, f2, ...', or softmax(a,b,c)."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 2,3 or x=2,y=3."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    wrt: Optional[str] = WrtOpt,
    fmt: Format = FormatOpt,
) -> None:
    """The Jacobian matrix of a map (rows = outputs, columns = variables).

    Example: gradlab jacobian "x**2*y, x + y**3" --at 2,3
    """
    from gradlab.calculus import jacobian_report

    if shape or seed is not None or wrt:
        from gradlab.cli_backprop import shaped

        return shaped("jacobian", expressions, shape, at, seed, wrt, variables, fmt)

    parsed = _function(expressions, variables, vector=True, surfaces_file=surfaces, dims=dims)
    emit(jacobian_report(parsed, _point(at, parsed)), fmt)


@app.command("hessian")
def hessian_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2 - y**2'."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 0,0 or x=0,y=0."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = FormatOpt,
) -> None:
    """The Hessian; at a point its eigenvalues and the classification.

    Example: gradlab hessian "x**2 - y**2" --at 0,0
    """
    from gradlab.calculus import hessian_report

    if shape or seed is not None:
        from gradlab.cli_backprop import flat_function

        emit(hessian_report(*flat_function("hessian", expression, shape, at, seed, variables, False)), fmt)
        return
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(hessian_report(parsed, _point(at, parsed)), fmt)


@app.command("directional")
def directional_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2 + y**2'."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 3,4."),
    direction: Optional[str] = typer.Option(None, "--dir", help="Direction (any length): 1,1."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """The derivative along a direction, with the steepest rate ‖∇f‖.

    Example: gradlab directional "x**2 + y**2" --at 3,4 --dir 1,1
    """
    from gradlab.calculus import directional_report

    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    point = _point(at, parsed, required=True)
    dvec = _point(direction, parsed, where="--dir", required=True)
    emit(directional_report(parsed, point, dvec), fmt)


@app.command("eval")
def eval_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'log(x) + y'."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 1,2."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """The value of a function at a point, exact and as a float.

    Example: gradlab eval "sqrt(x) + y" --at 8,1/2
    """
    from gradlab.calculus import eval_report

    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(eval_report(parsed, _point(at, parsed, required=bool(parsed.variables)) or ()), fmt)


# ------------------------------------------------------------------ surfaces and descent


def _numbers(text: str, option: str) -> list[float]:
    """A comma-separated list of real numbers (exact syntax allowed: 1/100, 2e-3)."""
    from gradlab.parsing import parse_point

    from gradlab.descent import plain_numbers

    return plain_numbers(text) or [float(v) for v in parse_point(text, None, None, option)]


def _progress(label: str = "descending"):
    """A progress callback that shows a bar on a terminal once a run has taken a second."""
    import time

    if not sys.stderr.isatty():
        return None, lambda: None
    t0 = time.perf_counter()
    state: dict[str, Any] = {}

    def update(k: int, total: int) -> None:
        if "bar" not in state and time.perf_counter() - t0 > 1.0:
            from rich.progress import Progress

            from rich.console import Console

            state["bar"] = Progress(console=Console(stderr=True), transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task(label, total=total)
        if "bar" in state:
            state["bar"].update(state["task"], completed=k)

    def close() -> None:
        if "bar" in state:
            state["bar"].stop()

    return update, close


@app.command("surfaces")
def surfaces_cmd(
    name: Optional[str] = typer.Argument(None, help="Show this surface in detail."),
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """List the surface catalogue, or show one surface with its derivatives and minima.

    Example: gradlab surfaces elongated
    """
    from gradlab.gallery import surface_detail, surface_list
    from gradlab.surfaces import catalogue, lookup

    cat, notes = catalogue(surfaces)
    for n in notes:
        note(n)
    if name is None:
        if dims is not None:
            raise BadInput("--dims goes with a surface name", "--dims")
        emit(surface_list(cat), fmt)
        return
    surface = lookup(name, cat)
    emit(surface_detail(surface.with_dims(dims) if dims is not None else surface), fmt)


@app.command("descend")
def descend_cmd(
    target: str = typer.Argument(..., help="A surface name (see gradlab surfaces) or an expression."),
    lr: Optional[str] = typer.Option(None, "--lr", help="Learning rates, comma-separated: 0.01,0.03 (default: the surface's; 1 for newton)."),
    optimizer: str = typer.Option("gd", "--optimizer", "-o", help="gd, momentum, nesterov, adagrad, rmsprop, adam, newton, bfgs, lbfgs (comma-separated)."),
    start: Optional[list[str]] = typer.Option(None, "--start", help="Start point, e.g. -4,2 (repeatable)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Most steps per run (default: the surface's, else 1000)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch SGD: rows per batch on a surface with data (default: all)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the mini-batch draws (0)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the data (instead of --steps)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="Learning-rate schedule, optax's: constant, exponential:decay_rate=R, step:decay_rate=R,transition_steps=K, cosine[:decay_steps=T,alpha=A], warmup-cosine:warmup_steps=W."),
    line_search: Optional[str] = typer.Option(None, "--line-search", help="armijo (c1=1e-4, rho=0.5) or wolfe (strong Wolfe, SciPy): lr is the first trial step."),
    sharpness: bool = typer.Option(False, "--sharpness", help="Record λmax of the Hessian at every iterate, against 2/lr."),
    tol: float = typer.Option(1e-6, "--tol", help="Converged when ‖∇f‖ < tol."),
    momentum: Optional[float] = MomentumOpt,
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    trajectory: Optional[str] = typer.Option(None, "--trajectory", help="Write every iterate to FILE.csv or FILE.json."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Draw one panel per optimizer × lr, with loss curves, to FILE.png."),
    loss_plot: Optional[str] = typer.Option(None, "--loss-plot", help="Draw the loss curves alone to FILE.png."),
    three_d: bool = typer.Option(False, "--3d", help="With --plot: a 3-D surface with the trajectories on it."),
    animate: Optional[str] = typer.Option(None, "--animate", help="Animate the descent to FILE.gif."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Run optimizers on a surface: every optimizer × learning rate × start in one batch.

    Example: gradlab descend elongated --lr 0.01,0.03,0.06,0.08
    """
    from gradlab.descent import plain_numbers, run_descent
    from gradlab.files import atomic_write, check_writable
    from gradlab.parsing import parse_point

    hyper = _hyper(momentum, beta1, beta2, eps)
    if trajectory:
        check_writable(trajectory, (".csv", ".json"), "--trajectory")
    for path, option, ending in ((plot, "--plot", ".png"), (loss_plot, "--loss-plot", ".png"),
                                 (animate, "--animate", ".gif")):
        if path:
            check_writable(path, (ending,), option)
    if three_d and not plot:
        raise BadInput("--3d draws into the --plot file; give --plot FILE.png", "--3d")
    _check_dpi(dpi)
    surface = _target(target, start[0] if start else None, variables, surfaces, dims)
    n = len(surface.parsed.variables)
    if (three_d or animate) and n < 2:
        raise BadInput("a 3-D view or an animation needs two variables", "--3d" if three_d else "--animate")
    names = [v.name for v in surface.parsed.variables]
    starts = [plain_numbers(s, n) or parse_point(s, n, names, "--start") for s in start] if start else None
    lrs = _numbers(lr, "--lr") if lr else None
    optimizers = [o.strip() for o in optimizer.split(",")]
    from gradlab.training import Settings, run_training, wanted

    settings = Settings(batch_size, seed, epochs, schedule, line_search.strip().lower() if line_search else None,
                        sharpness)
    update, close = _progress()
    try:
        if wanted(optimizers, settings):
            result = run_training(surface, optimizers, lrs, starts, steps, tol, hyper, settings, progress=update)
        else:
            result = run_descent(surface, optimizers, lrs, starts, steps, tol, hyper,
                                 trajectory=bool(trajectory or plot or loss_plot or animate), progress=update)
    finally:
        close()
    if plot or loss_plot or animate:
        from gradlab import plots

        shown, capped = result.for_plot()  # at most 12 panels, 200 runs drawn
        if capped:
            note(capped)
        if plot:
            plots.save(plots.surface3d_figure(shown) if three_d else plots.descent_figure(shown), plot, dpi)
            note(f"wrote {plot}")
        if loss_plot:
            if wanted(optimizers, settings):
                from gradlab.training_plots import training_figure

                plots.save(training_figure(result), loss_plot, dpi)
            else:
                plots.save(plots.loss_figure(shown), loss_plot, dpi)
            note(f"wrote {loss_plot}")
        if animate:
            frames = plots.animate(shown, animate, min(dpi, 100))
            note(f"wrote {animate} ({frames} frames)")
    if trajectory:
        from gradlab.output import trajectory_csv, trajectory_json

        data = (trajectory_json(result.runs, names) if trajectory.lower().endswith(".json")
                else trajectory_csv(result.runs, names))
        atomic_write(trajectory, lambda fh: fh.write(data))
        note(f"wrote {trajectory}")
    emit(result, fmt)


@app.command("sweep")
def sweep_cmd(
    target: str = typer.Argument(..., help="A surface name or an expression."),
    optimizer: str = typer.Option("gd", "--optimizer", "-o", help="Optimizers, comma-separated."),
    lr_min: Optional[float] = typer.Option(None, "--lr-min", help="Smallest rate (default: the bound/100, or 1e-4)."),
    lr_max: Optional[float] = typer.Option(None, "--lr-max", help="Largest rate (default: 10 × the bound, or 1)."),
    num: int = typer.Option(50, "--num", help="Rates in the grid (at least 2)."),
    linear: bool = typer.Option(False, "--linear", help="Space the grid linearly, not logarithmically."),
    precision: float = typer.Option(1e-3, "--precision", help="Refine the boundary to this relative width."),
    start: Optional[str] = typer.Option(None, "--start", help="Start point (default: the surface's)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Steps per run (default: the surface's, else 1000)."),
    tol: float = typer.Option(1e-6, "--tol", help="Converged when ‖∇f‖ < tol."),
    lr: Optional[str] = typer.Option(None, "--lr", help="The rates as a range A:B or A:B:N (instead of --lr-min, --lr-max, --num)."),
    momentum: Optional[str] = typer.Option(None, "--momentum", help="β for momentum and nesterov (0.9); a range C:D or C:D:N draws a stability map over (lr, β)."),
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch sweep: rows per batch on a surface with data."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Mini-batch sweep: a count of seeds (5) or a list (1,2,7); the spread is shown."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Mini-batch sweep: passes over the data (instead of --steps)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="Mini-batch sweep: a learning-rate schedule (see descend)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Draw final loss against lr (or the stability map) to FILE.png."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Find the largest stable learning rate by experiment, and explain it from the Hessian.

    Example: gradlab sweep elongated --optimizer gd,momentum
    """
    from gradlab.files import check_writable
    from gradlab.parsing import parse_point
    from gradlab.stability import parse_range
    from gradlab.sweep import default_range, run_sweep

    beta_range = parse_range(momentum, "--momentum", 0.0, 1.0, strict_hi=True) if momentum and ":" in momentum \
        else None
    hyper = _hyper(None if beta_range or momentum is None else _numbers(momentum, "--momentum")[0], beta1, beta2, eps)
    lr_range = parse_range(lr, "--lr", 0.0) if lr else None
    if lr_range is not None and (lr_min is not None or lr_max is not None):
        raise BadInput("give --lr A:B or --lr-min/--lr-max, not both", "--lr")
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
        from gradlab.training_cli import special_sweep

        result, figure = special_sweep(surface, optimizers, lr_range, beta_range, lr_min, lr_max, num, linear,
                                       x0, steps, tol, hyper, batch_size, seeds, epochs, schedule, bool(plot),
                                       _progress)
        if plot:
            from gradlab.plots import save

            save(figure(result), plot, dpi)
            note(f"wrote {plot}")
        emit(result, fmt)
        return
    if epochs is not None or schedule is not None:
        raise BadInput("--epochs and --schedule in a sweep go with --batch-size or --seeds", "--epochs"
                       if epochs is not None else "--schedule")
    if lr_range is not None:
        lr_min, lr_max = lr_range[0], lr_range[1]
        num = lr_range[2] or num
    lo, hi = default_range(surface, optimizers, hyper) if lr_min is None or lr_max is None else (lr_min, lr_max)
    lo, hi = lr_min if lr_min is not None else lo, lr_max if lr_max is not None else hi
    update, close = _progress()
    try:
        result = run_sweep(surface, optimizers, lo, hi, num, steps, tol, x0, hyper, precision, not linear, update)
    finally:
        close()
    if plot:
        from gradlab.plots import save, sweep_figure

        save(sweep_figure(result), plot, dpi)
        note(f"wrote {plot}")
    emit(result, fmt)


@app.command("plot")
def plot_cmd(
    target: str = typer.Argument(..., help="A surface name or an expression of two (or more) variables."),
    out: str = typer.Option(..., "--out", "-o", help="The PNG file to write."),
    window: Optional[str] = typer.Option(None, "--window", help="xmin,xmax,ymin,ymax (default: the surface's)."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
) -> None:
    """Draw a landscape: filled contours, the gradient field, known minima.

    Example: gradlab plot rosenbrock --out rosenbrock.png
    """
    from gradlab.descent import inline_surface
    from gradlab.files import check_writable
    from gradlab.parsing import parse

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
    from gradlab import plots
    from gradlab.analysis import numeric_critical

    known = [[float(v) for v in m.point] for m in surface.minima]
    critical = [p for p in numeric_critical(surface.parsed, win or surface.window)
                if all(sum((a - b) ** 2 for a, b in zip(p, k)) > 1e-10 for k in known)] \
        if len(surface.parsed.variables) == 2 else []
    plots.save(plots.landscape_figure(surface, win, critical), out, dpi)
    note(f"wrote {out}")


# ------------------------------------------------------------------ for learners


@app.command("critical")
def critical_cmd(
    target: str = typer.Argument(..., help="A surface name or an expression."),
    window: Optional[str] = typer.Option(None, "--window", help="xmin,xmax,ymin,ymax to search (default: the surface's, else -5,5,-5,5)."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds allowed for the exact solve."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Every critical point (∇f = 0), exact where possible, classified by the Hessian.

    Example: gradlab critical "x**3 + y**3 + 3*x**2 - 6*y**2 - 2"
    """
    from gradlab.analysis import critical_points

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
    emit(result, fmt)


def _window(text: str) -> tuple[float, ...]:
    w = _numbers(text, "--window")
    if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
        raise BadInput("--window must be xmin,xmax,ymin,ymax with min < max", "--window")
    return tuple(w)


@app.command("check")
def check_cmd(
    expression: str = typer.Argument(..., help="The function."),
    at: Optional[str] = typer.Option(None, "--at", help="Point: 1,2."),
    grad: Optional[str] = typer.Option(None, "--grad", help='Your gradient to check: "g1, g2, ...".'),
    h: float = typer.Option(1e-5, "--h", help="Finite-difference step."),
    tol: float = typer.Option(1e-6, "--tol", help="Relative tolerance of the verdict."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Error against h, log-log, to FILE.png."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Check a gradient: exact against finite differences, or yours against the exact one.

    Example: gradlab check "x**2*y + y*z**3" --at 1,2,3 --grad "2*x*y, x**2 + z**3, 3*y*z**2"
    """
    from gradlab.gradcheck import gradient_check
    from gradlab.parsing import parse_components

    if plot:
        from gradlab.files import check_writable

        check_writable(plot, (".png",), "--plot")
        _check_dpi(dpi)
    if shape or seed is not None:
        from gradlab.cli_backprop import flat_function

        if grad is not None:
            raise BadInput("--grad does not go with --shape (check the exact gradient against differences)", "--grad")
        parsed, point = flat_function("check", expression, shape, at, seed, variables, True)
    else:
        parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
        point = _point(at, parsed, required=True)
    user = parse_components(grad, "--grad") if grad is not None else None
    if user is not None:
        extra = set().union(*(u.free_symbols for u in user)) - set(parsed.variables)
        if extra:
            raise BadInput(f"--grad uses {', '.join(sorted(s.name for s in extra))}, which f does not", "--grad")
    result = gradient_check(parsed, point, h, tol, user)
    if plot:
        import numpy as np

        from gradlab import plots
        from gradlab.gradcheck import error_curve

        hs = np.geomspace(1e-1, 1e-14, 40)
        fe, ce = error_curve(parsed, point, hs)
        plots.save(plots.check_figure(parsed, point, hs, fe, ce), plot, dpi)
        note(f"wrote {plot}")
    emit(result, fmt)


@app.command("explain")
def explain_cmd(
    expression: str = typer.Argument(..., help="The function."),
    wrt: Optional[str] = typer.Option(None, "--wrt", help="The variable (default: the first)."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Derive ∂f/∂x step by step, naming each rule.

    Example: gradlab explain "x*exp(x)" --wrt x
    """
    from gradlab.explain import explain

    emit(explain(_function(expression, variables, surfaces_file=surfaces, dims=dims), wrt), fmt)


@app.command("taylor")
def taylor_cmd(
    expression: str = typer.Argument(..., help="The function (or a surface name)."),
    at: Optional[str] = typer.Option(None, "--at", help="The point a: 1,2."),
    order: int = typer.Option(2, "--order", help="1: the linear model; 2: also the quadratic one."),
    lr: Optional[str] = typer.Option(None, "--lr", help="Gradient steps to check, comma-separated: predicted against actual decrease."),
    direction: Optional[str] = typer.Option(None, "--dir", help="Direction of the sample offsets (default: −∇f)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Draw the model's contours over f, shading |f − m| < tol, to FILE.png."),
    tol: float = typer.Option(0.1, "--tol", help="With --plot: shade where |f − m| < tol."),
    radius: Optional[float] = typer.Option(None, "--radius", help="With --plot: half-width of the window around a."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Linear and quadratic Taylor models at a point: errors, Newton step, safe step.

    Example: gradlab taylor "exp(x)*cos(y)" --at 0,0 --lr 0.5
    """
    import math

    from gradlab.taylor import taylor

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
        from gradlab.plots import save
        from gradlab.training_plots import taylor_figure

        save(taylor_figure(result, tol, radius), plot, dpi)
        note(f"wrote {plot}")
    emit(result, fmt)


def _check_dpi(dpi: int) -> None:
    if not 10 <= dpi <= 600:
        raise BadInput(f"--dpi must be from 10 to 600, got {dpi}", "--dpi")


from gradlab import cli_backprop  # noqa: E402,F401  registers `backprop` (computational graphs)


def main() -> None:
    """Console-script entry point.

    After the command has finished and its output is flushed, the process ends at once
    (``os._exit``): tearing down SymPy's and matplotlib's modules at interpreter exit
    costs a tenth of a second or more and does nothing for the user. Every file gradlab
    writes is complete and closed before this point.
    """
    from gradlab import streams

    streams.prepare()
    if {"--install-completion", "--show-completion"} & set(sys.argv[1:]) or "_GRADLAB_COMPLETE" in os.environ:
        app._add_completion = True  # typer builds the completion options only when asked: start-up stays fast
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    finally:
        streams.cleanup()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # the reader went away or the disk is full: the error line is already out
    os._exit(code)
