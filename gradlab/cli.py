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
from gradlab.streams import Out as Out_, Terminated, ascii_only, terminal_width, write_out

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


GLOBAL_FLAGS = ("--quiet", "--debug")  # not -q: "-q" may be an expression


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

        # --quiet and --debug belong to gradlab, not one command: accept them anywhere
        # before a --, and hand them to the root.
        cut = args.index("--") if "--" in args else len(args)
        hoisted = [a for a in args[:cut] if a in GLOBAL_FLAGS]
        args = hoisted + [a for a in args[:cut] if a not in GLOBAL_FLAGS] + args[cut:]
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
        write_out(f"gradlab {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (or set GRADLAB_DEBUG=1)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notes or warnings on stderr (errors still show); anywhere on the line."),
) -> None:
    """gradlab: exact derivatives and optimizers in your terminal."""
    global QUIET
    QUIET = quiet or os.environ.get("GRADLAB_QUIET", "") not in ("", "0")


# ------------------------------------------------------------------ output


class Format(str, enum.Enum):
    auto = "auto"
    table = "table"
    plain = "plain"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    tsv = "tsv"
    latex = "latex"


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


QUIET = False  # --quiet: notes and warnings off; errors always shown


def note(message: str) -> None:
    """A note or warning for the user: stderr, never mixed with data."""
    if not QUIET:
        sys.stderr.write(f"gradlab: {message}\n")


class Out:
    """How results are written: the format and its switches, chosen once per call."""

    def __init__(self, fmt: Format, header: bool = True, compact: bool = False) -> None:
        self.kind = resolve_format(fmt)
        self.header = header
        self.compact = compact

    def check(self, command: str, point: bool = True) -> "Out":
        """Refuse, before any work, a format this command cannot write (exit 2)."""
        from gradlab.formats import DOC_SCHEMAS, LATEX_COMMANDS, POINT_SCHEMAS

        if self.kind == "latex" and command not in LATEX_COMMANDS:
            raise BadInput(f"latex output is for {', '.join(LATEX_COMMANDS)}", "--format")
        if self.kind in ("csv", "tsv"):
            if command in POINT_SCHEMAS and not point:
                raise BadInput(f"{self.kind} rows are values at points: give --at (or use --format json or latex)",
                               "--format")
            if command not in POINT_SCHEMAS and command not in DOC_SCHEMAS:
                raise BadInput(f"{command} has no {self.kind} output", "--format")
        return self


def emit(result: Any, out: "Out | Format") -> None:
    """Render one result in the chosen format."""
    if not isinstance(out, Out):
        out = Out(out)
    for w in getattr(result, "warnings", ()):
        note(f"warning: {w}")
    kind = out.kind
    if kind == "json":
        from gradlab.formats import stable_keys
        from gradlab.output import render_json

        write_out(render_json(stable_keys(result.to_record()), ascii=ascii_only(), compact=out.compact))
    elif kind == "plain":
        from gradlab.output import render_plain

        write_out(render_plain([result.view()]))
    elif kind == "latex":
        from gradlab.formats import latex

        write_out("".join(line + "\n" for line in latex(result)))
    elif kind in ("jsonl", "csv", "tsv"):
        from gradlab.formats import DOC_SCHEMAS, doc_jsonl_records

        from gradlab.formats import stable_keys

        record = stable_keys(result.to_record())
        if record.get("command") in DOC_SCHEMAS or kind == "jsonl":
            if kind == "jsonl":
                from gradlab.formats import jsonl_lines

                _write_lines(jsonl_lines(doc_jsonl_records(record), ascii_only()))
            else:
                from gradlab.formats import delimited

                rows, columns = DOC_SCHEMAS[record["command"]](record)
                _write_lines(delimited(rows, columns, kind, out.header))
        else:  # a calculus result at one point: a batch of one
            emit_batch(_single_batch(result, record), out)
    else:
        from rich.console import Console

        from gradlab.tables import render

        render(result.view(), Console(file=Out_(), width=terminal_width(), highlight=False, soft_wrap=False))


def _write_lines(lines) -> None:
    # Written in blocks: a closed pipe is noticed early, memory stays flat.
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) >= 512:
            write_out("".join(block))
            block.clear()
    if block:
        write_out("".join(block))


def _single_batch(result: Any, record: dict):
    from gradlab.batch import Answer, Batch
    from gradlab.inputs import Line

    names = tuple(record.get("variables", ()))
    coords = tuple(float(p) for p in result.point) if getattr(result, "point", None) is not None else None
    meta = {"outputs": len(result.matrix)} if record["command"] == "jacobian" else {}
    if record["command"] == "check":
        meta["yours"] = bool(getattr(result, "user", False))
    answer = Answer(Line("--at", ""), record["command"], record.get("expression", ""), names, coords, record)
    return Batch(record["command"], (answer,), names, meta=meta)


def emit_batch(batch, out: "Out") -> None:
    """Render a many-input batch: one record or row per input, in input order."""
    from gradlab.formats import POINT_SCHEMAS

    columns = POINT_SCHEMAS[batch.command](batch.variables, batch.meta)
    kind = out.kind
    if kind == "json":
        from gradlab.output import render_json

        write_out(render_json(batch.to_record(), ascii=ascii_only(), compact=out.compact))
    elif kind == "jsonl":
        from gradlab.formats import jsonl_lines

        _write_lines(jsonl_lines((a.to_record() for a in batch.answers), ascii_only()))
    elif kind in ("csv", "tsv", "plain"):
        from gradlab.formats import delimited

        _write_lines(delimited(batch.answers, columns, kind, out.header))
    else:
        from rich.console import Console

        from gradlab.tables import render

        render(batch.view(columns), Console(file=Out_(), width=terminal_width(), highlight=False, soft_wrap=False))


FormatOpt = typer.Option(Format.auto, "--format", "-f",
                         help="auto (table on a terminal, plain when piped), table, plain, json, jsonl, csv, tsv, latex.")
HeaderOpt = typer.Option(True, "--header/--no-header", help="csv/tsv: write the header row (default) or not.")
CompactOpt = typer.Option(False, "--compact", help="json: the whole document on one line.")
AtOpt = typer.Option(None, "--at", help="Point: 2,5 or x=2,y=5. Repeat for many points; - reads them from stdin, one per line.")
PointsOpt = typer.Option(None, "--points", help="A CSV file of points whose header names the variables.")
ExactOpt = typer.Option(False, "--exact", help="Many points: exact values at every point (slower).")
FailFastOpt = typer.Option(False, "--fail-fast", help="Many inputs: stop at the first one that fails.")
ExitStatusOpt = typer.Option(False, "--exit-status", help="Exit 3 when a run diverged (default: divergence is a result, exit 0).")
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


from gradlab import resolve as _resolve  # noqa: E402  (inputs read the same way by CLI and API)

SURFACE_PREFIX = _resolve.SURFACE_PREFIX


def _surface(text: str, surfaces_file: Optional[str], dims: Optional[int] = None):
    return _resolve.surface(text, surfaces_file, dims, note)


def _target(text, start, variables, surfaces_file, dims):
    return _resolve.target(text, start, variables, surfaces_file, dims, note)


def _function(text, variables, vector=False, surfaces_file=None, dims=None):
    return _resolve.function(text, variables, vector, surfaces_file, dims, note)


_hyper = _resolve.hyper
_point = _resolve.point


# ------------------------------------------------------------------ many inputs


def _many(expression: str, at: Optional[list[str]], points_file: Optional[str]) -> bool:
    """Many-input mode: expressions from stdin, --at repeated or -, or --points."""
    at = at or []
    return expression.strip() == "-" or bool(points_file) or len(at) > 1 or any(a.strip() == "-" for a in at)


def _stdin_text() -> str:
    try:
        return sys.stdin.read()
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read standard input: {exc}", "stdin") from None


def run_many(command: str, expression: str, at: Optional[list[str]], points_file: Optional[str],
             variables: Optional[str], surfaces: Optional[str], dims: Optional[int], exact: bool, fail_fast: bool,
             out: Out, report, vectorised=None, vector: bool = False, meta: Optional[dict] = None,
             verdict: bool = False) -> int:
    """Answer every expression at every point; one record per answer, exit 1 if any failed.

    ``report(parsed, point)`` is the single-point library call; ``vectorised(parsed,
    points)`` its many-point float version (None: ``report`` at each point).
    """
    import io

    from gradlab import batch as b
    from gradlab import inputs
    from gradlab.parsing import Parsed, parse, variables_of

    at = list(at or [])
    if expression.strip() == "-" and any(a.strip() == "-" for a in at):
        raise BadInput("expressions and points cannot both come from stdin: give points with --at or --points",
                       "--at")
    # The expressions: one, or one per stdin line (a bad line is that line's error).
    exprs: list[tuple[inputs.Line, Any]] = []
    if expression.strip() == "-":
        for line in inputs.expression_lines(io.StringIO(_stdin_text())):
            try:
                exprs.append((line, _function(line.text, variables, vector=vector, surfaces_file=surfaces)))
            except BadInput as exc:
                exprs.append((line, inputs.Failed(line, BadInput(exc.what, line.where))))
        good = [p for _, p in exprs if isinstance(p, Parsed)]
        if not variables and good:  # one set of columns for all: the union of the variables
            from gradlab.parsing import natural_key

            union = sorted({v.name for p in good for v in p.variables}, key=natural_key)
            exprs = [(line, Parsed(p.text, p.exprs, variables_of(p.exprs, ",".join(union))) if isinstance(p, Parsed)
                      else p) for line, p in exprs]
    else:
        exprs.append((inputs.Line("expression", expression),
                      _function(expression, variables, vector=vector, surfaces_file=surfaces, dims=dims)))
    parsed_all = [p for _, p in exprs if isinstance(p, Parsed)]
    names = [v.name for v in parsed_all[0].variables] if parsed_all else []
    # The points: --at values (- reads stdin), then the rows of --points.
    lines = inputs.at_lines(at, _stdin_text)
    if points_file:
        lines += inputs.csv_points(points_file, names)
    answers: list = []
    failures = 0
    for line, parsed in exprs:
        if isinstance(parsed, inputs.Failed):
            answers.append(b.failed(command, parsed, line.text))
        else:
            first = len(answers)
            pnames = [v.name for v in parsed.variables]
            if not lines and not (at or points_file):  # no points asked: the symbolic answer
                try:
                    answers.append(b.Answer(line, command, parsed.text, tuple(pnames), None,
                                            report(parsed, None).to_record()))
                except GradlabError as exc:
                    answers.append(b.Answer(line, command, parsed.text, tuple(pnames), None, None,
                                            type(exc)(exc.what, line.where)))
            else:
                points = []
                for pl in lines:
                    try:
                        points.append(inputs.read_point(pl, pnames, need_sympy=exact))
                    except GradlabError as exc:
                        points.append(inputs.Failed(pl, exc))
                try:
                    if exact or vectorised is None:
                        answers += b.exact_many(command, parsed, points, lambda sp: report(parsed, sp))
                    else:
                        answers += vectorised(parsed, points)
                except GradlabError as exc:  # the expression itself cannot be answered
                    answers.append(b.Answer(line, command, parsed.text, tuple(pnames), None, None,
                                            type(exc)(exc.what, line.where)))
            if line.where != "expression":  # name the expression's line too
                answers[first:] = [a if a.ok or a.error.where == line.where else
                                   b.relabel(a, f"{line.where}, {a.error.where}" if len(lines) > 1 else line.where)
                                   for a in answers[first:]]
        if fail_fast and any(not a.ok for a in answers):
            break
    if fail_fast:
        first = next((i for i, a in enumerate(answers) if not a.ok), None)
        if first is not None:
            answers = answers[: first + 1]
    for a in answers:
        if not a.ok:
            failures += 1
            _fail(a.error.line(), 1)
    meta = dict(meta or {})
    if command == "jacobian":
        meta["outputs"] = max([len(p.exprs) for p in parsed_all] or [1])
    emit_batch(b.Batch(command, tuple(answers), tuple(names), meta), out)
    if verdict and any(a.ok and not a.record.get("passed", True) for a in answers):
        return 1  # a check that failed: the answer is "no"
    return 1 if failures else 0


# ------------------------------------------------------------------ calculus commands


def _first(at: Optional[list[str]]) -> Optional[str]:
    return at[0] if at else None


def _shaped_point(expression: str, at: Optional[list[str]], points: Optional[str]) -> Optional[str]:
    """The one point a shaped (vector and matrix) call takes: many inputs are scalar-only."""
    if _many(expression, at, points):
        raise BadInput("--shape takes one point: give one --at (or --seed)", "--shape")
    return _first(at)


@app.command("grad")
def grad_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2*y + 3*y'; - reads one per line from stdin."),
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
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """Partial derivatives and the gradient, exact and at a point.

    Example: gradlab grad "x**2*y + 3*y" --at 2,5
    """
    from gradlab.calculus import grad_report

    out = Out(fmt, header, compact).check("grad", bool(at or points))
    if shape or seed is not None or wrt:
        from gradlab.cli_backprop import shaped

        return shaped("grad", expression, shape, _shaped_point(expression, at, points), seed, wrt, variables, out)

    if _many(expression, at, points):
        from gradlab.batch import grad_many

        return run_many("grad", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        grad_report, grad_many)
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(grad_report(parsed, _point(_first(at), parsed)), out)
    return 0


@app.command("jacobian")
def jacobian_cmd(
    expressions: str = typer.Argument(..., help="The components, 'f1, f2, ...', or softmax(a,b,c); - reads stdin."),
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
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The Jacobian matrix of a map (rows = outputs, columns = variables).

    Example: gradlab jacobian "x**2*y, x + y**3" --at 2,3
    """
    from gradlab.calculus import jacobian_report

    out = Out(fmt, header, compact).check("jacobian", bool(at or points))
    if shape or seed is not None or wrt:
        from gradlab.cli_backprop import shaped

        return shaped("jacobian", expressions, shape, _shaped_point(expressions, at, points), seed, wrt, variables, out)

    if _many(expressions, at, points):
        from gradlab.batch import jacobian_many

        return run_many("jacobian", expressions, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        jacobian_report, jacobian_many, vector=True)
    parsed = _function(expressions, variables, vector=True, surfaces_file=surfaces, dims=dims)
    emit(jacobian_report(parsed, _point(_first(at), parsed)), out)
    return 0


@app.command("hessian")
def hessian_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2 - y**2'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The Hessian; at a point its eigenvalues and the classification.

    Example: gradlab hessian "x**2 - y**2" --at 0,0
    """
    from gradlab.calculus import hessian_report

    out = Out(fmt, header, compact).check("hessian", bool(at or points))
    if shape or seed is not None:
        from gradlab.cli_backprop import flat_function

        point = _shaped_point(expression, at, points)
        emit(hessian_report(*flat_function("hessian", expression, shape, point, seed, variables, False)), out)
        return 0
    if _many(expression, at, points):
        from gradlab.batch import hessian_many

        return run_many("hessian", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        hessian_report, hessian_many)
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(hessian_report(parsed, _point(_first(at), parsed)), out)
    return 0


@app.command("directional")
def directional_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'x**2 + y**2'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    direction: Optional[str] = typer.Option(None, "--dir", help="Direction (any length): 1,1."),
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The derivative along a direction, with the steepest rate ‖∇f‖.

    Example: gradlab directional "x**2 + y**2" --at 3,4 --dir 1,1
    """
    from gradlab.calculus import directional_report

    out = Out(fmt, header, compact).check("directional")
    if _many(expression, at, points):
        from gradlab.batch import directional_many

        if direction is None:
            raise BadInput("a direction is required", "--dir")

        def report(parsed, point):
            return directional_report(parsed, _require(point), _point(direction, parsed, "--dir", True))

        return run_many("directional", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        report, lambda parsed, pts: directional_many(parsed, pts, _point(direction, parsed, "--dir", True)))
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    point = _point(_first(at), parsed, required=True)
    dvec = _point(direction, parsed, where="--dir", required=True)
    emit(directional_report(parsed, point, dvec), out)
    return 0


def _require(point):
    if point is None:
        raise BadInput("a point is required", "--at")
    return point


@app.command("eval")
def eval_cmd(
    expression: str = typer.Argument(..., help="The function, e.g. 'log(x) + y'; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    points: Optional[str] = PointsOpt,
    exact: bool = ExactOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """The value of a function at a point, exact and as a float.

    Example: gradlab eval "sqrt(x) + y" --at 8,1/2
    """
    from gradlab.calculus import eval_report

    out = Out(fmt, header, compact).check("eval")
    if _many(expression, at, points):
        from gradlab.batch import eval_many

        def report(parsed, point):
            if point is None and parsed.variables:
                raise BadInput("a point is required", "--at")
            return eval_report(parsed, point or ())

        return run_many("eval", expression, at, points, variables, surfaces, dims, exact, fail_fast, out,
                        report, eval_many)
    parsed = _function(expression, variables, surfaces_file=surfaces, dims=dims)
    emit(eval_report(parsed, _point(_first(at), parsed, required=bool(parsed.variables)) or ()), out)
    return 0


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
    target: str = typer.Argument(..., help="A surface name (see gradlab surfaces) or an expression."),
    lr: Optional[str] = typer.Option(None, "--lr", help="Learning rates, comma-separated: 0.01,0.03 (default: the surface's; 1 for newton)."),
    optimizer: str = typer.Option("gd", "--optimizer", "-o", help="gd, momentum, nesterov, adagrad, rmsprop, adam, newton, bfgs, lbfgs (comma-separated)."),
    start: Optional[list[str]] = typer.Option(None, "--start", help="Start point, e.g. -4,2 (repeatable; - reads one per line from stdin)."),
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
    trajectory: Optional[str] = typer.Option(None, "--trajectory", help="Write every iterate to FILE.csv or FILE.json (- : CSV on stdout, instead of the summary)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Draw one panel per optimizer × lr, with loss curves, to FILE.png."),
    loss_plot: Optional[str] = typer.Option(None, "--loss-plot", help="Draw the loss curves alone to FILE.png."),
    three_d: bool = typer.Option(False, "--3d", help="With --plot: a 3-D surface with the trajectories on it."),
    animate: Optional[str] = typer.Option(None, "--animate", help="Animate the descent to FILE.gif."),
    dpi: int = DpiOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
    exit_status: bool = ExitStatusOpt,
) -> int:
    """Run optimizers on a surface: every optimizer × learning rate × start in one batch.

    Example: gradlab descend elongated --lr 0.01,0.03,0.06,0.08
    """
    out = Out(fmt, header, compact).check("descend")
    from gradlab.descent import plain_numbers, run_descent
    from gradlab.files import atomic_write, check_writable
    from gradlab.parsing import parse_point

    hyper = _hyper(momentum, beta1, beta2, eps)
    if trajectory and trajectory != "-":
        check_writable(trajectory, (".csv", ".json"), "--trajectory")
    if start and any(s.strip() == "-" for s in start):
        from gradlab.inputs import at_lines

        start = [line.text for line in at_lines(start, _stdin_text)]
        if not start:
            raise BadInput("no start point on standard input", "--start")
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
    if trajectory == "-":  # the iterates are the data: CSV on stdout, no summary
        from gradlab.output import trajectory_rows

        _write_lines(trajectory_rows(result.runs, names))
    elif trajectory:
        from gradlab.output import trajectory_csv, trajectory_json

        data = (trajectory_json(result.runs, names) if trajectory.lower().endswith(".json")
                else trajectory_csv(result.runs, names))
        atomic_write(trajectory, lambda fh: fh.write(data))
        note(f"wrote {trajectory}")
    if trajectory != "-":
        emit(result, out)
    return _diverged_code(result.runs, exit_status)


EXIT_DIVERGED = 3  # with --exit-status: a run diverged


def _diverged_code(runs, exit_status: bool) -> int:
    return EXIT_DIVERGED if exit_status and any(r.status == "diverged" for r in runs) else 0


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
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
    exit_status: bool = ExitStatusOpt,
) -> int:
    """Find the largest stable learning rate by experiment, and explain it from the Hessian.

    Example: gradlab sweep elongated --optimizer gd,momentum
    """
    out = Out(fmt, header, compact).check("sweep")
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
    emit(result, out)
    return _diverged_code(result.runs, exit_status)


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
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> None:
    """Every critical point (∇f = 0), exact where possible, classified by the Hessian.

    Example: gradlab critical "x**3 + y**3 + 3*x**2 - 6*y**2 - 2"
    """
    out = Out(fmt, header, compact).check("critical")
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
    emit(result, out)


def _window(text: str) -> tuple[float, ...]:
    w = _numbers(text, "--window")
    if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
        raise BadInput("--window must be xmin,xmax,ymin,ymax with min < max", "--window")
    return tuple(w)


@app.command("check")
def check_cmd(
    expression: str = typer.Argument(..., help="The function; - reads one per line from stdin."),
    at: Optional[list[str]] = AtOpt,
    grad: Optional[str] = typer.Option(None, "--grad", help='Your gradient to check: "g1, g2, ...".'),
    h: float = typer.Option(1e-5, "--h", help="Finite-difference step."),
    tol: float = typer.Option(1e-6, "--tol", help="Relative tolerance of the verdict."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Error against h, log-log, to FILE.png."),
    dpi: int = DpiOpt,
    points: Optional[str] = PointsOpt,
    fail_fast: bool = FailFastOpt,
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    shape: Optional[str] = ShapeOpt,
    seed: Optional[int] = SeedOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> int:
    """Check a gradient: exact against finite differences, or yours against the exact one.

    Exits 1 when the check fails (your gradient is wrong), so `if gradlab check ...` works.

    Example: gradlab check "x**2*y + y*z**3" --at 1,2,3 --grad "2*x*y, x**2 + z**3, 3*y*z**2"
    """
    from gradlab.gradcheck import gradient_check
    from gradlab.parsing import parse_components

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
        from gradlab.cli_backprop import flat_function

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
        result = checked(parsed, point)
    if plot:
        import numpy as np

        from gradlab import plots
        from gradlab.gradcheck import error_curve

        hs = np.geomspace(1e-1, 1e-14, 40)
        fe, ce = error_curve(parsed, point, hs)
        plots.save(plots.check_figure(parsed, point, hs, fe, ce), plot, dpi)
        note(f"wrote {plot}")
    emit(result, out)
    return 0 if result.passed else 1


@app.command("explain")
def explain_cmd(
    expression: str = typer.Argument(..., help="The function."),
    wrt: Optional[str] = typer.Option(None, "--wrt", help="The variable (default: the first)."),
    variables: Optional[str] = VarsOpt,
    surfaces: Optional[str] = SurfacesOpt,
    dims: Optional[int] = DimsOpt,
    fmt: Format = FormatOpt,
    header: bool = HeaderOpt,
    compact: bool = CompactOpt,
) -> None:
    """Derive ∂f/∂x step by step, naming each rule.

    Example: gradlab explain "x*exp(x)" --wrt x
    """
    out = Out(fmt, header, compact).check("explain")
    from gradlab.explain import explain

    emit(explain(_function(expression, variables, surfaces_file=surfaces, dims=dims), wrt), out)


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
        except (OSError, ValueError, GradlabError):
            pass  # the reader went away or the disk is full: the error line is already out
    os._exit(code)
