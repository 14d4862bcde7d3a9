"""The command line's shared machinery: the Typer app, its options, output and exit codes.

The command families (:mod:`gradlab.cli.calculus`, :mod:`gradlab.cli.descent`,
:mod:`gradlab.cli.backprop`) register on :data:`app`; this is the only module that
touches stdout/stderr, the TTY test and exit codes.
"""

from __future__ import annotations

import enum
import os
import sys
import warnings
from typing import Any, Optional, Sequence

import typer
from typer.core import TyperCommand, TyperGroup

from gradlab import __version__
from gradlab.errors import BadInput, GradlabError
from gradlab.cli.streams import Out as Out_, Terminated, ascii_only, terminal_width, write_out

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


class GradlabCommand(TyperCommand):
    """A command whose ``--help`` is laid out by :mod:`gradlab.cli.helptext` (readable at
    80 columns and less, never cut)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from gradlab.cli.helptext import command_help

        formatter.write(command_help(ctx, self))


class GradlabGroup(TyperGroup):
    """Runs the app with gradlab's error contract: one line on stderr, documented codes."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from gradlab.cli.helptext import group_help

        formatter.write(group_help(ctx, self, self.epilog or ""))

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
        from gradlab.cli.argv import Opt, normalise

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
        global RUNNING
        RUNNING = args[i]
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
        required = sum(1 for p in command.params if p.param_type_name == "argument" and p.required)
        words = normalise(args[i:], spec, aliases, {"-q": "--quiet"}, required)
        lead = words[: words.index(args[i])]  # -q read as --quiet goes to the root
        return lead + args[: i] + words[len(lead):]


_CLICK_WORDS = {"is not a valid int": "is not a whole number", "is not a valid integer": "is not a whole number",
                "is not a valid float": "is not a number"}


def _click_line(exc) -> str:
    """A parser error in gradlab's own form, ``<what> (<where>)``: a bad value of an
    option names the option, as gradlab's own checks do (``'abc' is not a whole number
    (--dims)``)."""
    param = getattr(exc, "param", None)
    message = getattr(exc, "message", None)
    if param is None or not message or type(exc).__name__ != "BadParameter":
        return " ".join(exc.format_message().split())
    name = max(getattr(param, "opts", None) or [param.name or "value"], key=len)
    text = " ".join(str(message).split()).rstrip(".")
    for click_words, ours in _CLICK_WORDS.items():
        text = text.replace(click_words, ours)
    return f"{text} ({name})"


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
        return _fail(_click_line(exc), 2)
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

class _Typer(typer.Typer):
    """Every command's help page is gradlab's own (:class:`GradlabCommand`)."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or GradlabCommand, **kwargs)


app = _Typer(
    cls=GradlabGroup,
    name="gradlab",
    help="gradlab: exact derivatives and optimizers in your terminal.",
    epilog=EXPRESSION_HELP + "\n\nShell completion: gradlab --install-completion. "
           "Each command's options: gradlab COMMAND --help.",
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
    fmt = Format(fmt)  # the option hands over the enum or its text
    if fmt is Format.auto:
        return "table" if stdout_is_terminal() else "plain"
    return fmt.value


RUNNING: Optional[str] = None  # the command this process runs (its messages name it)
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
        """Refuse, before any work, a format this command cannot write (exit 2): the
        formats its ``--format`` help lists (:func:`~gradlab.render.formats.command_formats`)
        are exactly the ones it accepts."""
        from gradlab.render.formats import POINT_SCHEMAS, SYMBOLIC_COMMANDS, command_formats

        kinds = command_formats(command)
        if self.kind not in kinds:
            raise BadInput(f"{command} has no {self.kind} output (the formats of {command}: {', '.join(kinds)})",
                           "--format")
        if self.kind in ("csv", "tsv") and command in POINT_SCHEMAS and not point and command not in SYMBOLIC_COMMANDS:
            raise BadInput(f"{self.kind} rows are values at points: give --at (or use --format json)", "--format")
        return self


def emit(result: Any, out: "Out | Format") -> None:
    """Render one result in the chosen format."""
    if not isinstance(out, Out):
        out = Out(out)
    for w in getattr(result, "warnings", ()):
        note(f"warning: {w}")
    kind = out.kind
    if kind == "json":
        from gradlab.render.formats import stable_keys
        from gradlab.render.output import render_json

        write_out(render_json(stable_keys(result.to_record()), ascii=ascii_only(), compact=out.compact))
    elif kind == "latex":
        # The notebook's equations (gradlab.present), with what its table adds: a
        # Hessian's eigenvalues and classification, each derivation step's rule.
        lines = result.latex_lines()
        if not lines:
            command = result.to_record().get("command", "this command")
            raise BadInput(f"{command} has no latex output here (use --format json)", "--format")
        write_out("".join(line + "\n" for line in lines))
    elif kind == "jsonl":
        from gradlab.render.formats import doc_jsonl_records, jsonl_lines, stable_keys

        _write_lines(jsonl_lines(doc_jsonl_records(stable_keys(result.to_record())), ascii_only()))
    elif kind in ("plain", "csv", "tsv"):
        from gradlab.render.formats import delimited, stable_keys

        record = stable_keys(result.to_record())
        table = _rows_and_columns(result, record)
        if table is not None:  # plain is tsv without its header: the same columns
            _write_lines(delimited(*table, kind, out.header))
        elif kind == "plain":  # a result without fixed columns (taylor, backprop, shaped variables)
            from gradlab.render.output import render_plain

            write_out(render_plain([result.view()]))
        else:
            raise BadInput(f"{record.get('command', 'this command')} has no {kind} output (use --format json)",
                           "--format")
    else:
        from rich.console import Console

        from gradlab.render.tables import render

        render(_for_stream(result.view()), Console(file=Out_(), width=terminal_width(), highlight=False,
                                                   soft_wrap=False))


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


def _rows_and_columns(result: Any, record: dict):
    """The rows and fixed columns of plain, csv and tsv output; None for a result that has
    none (its plain output is its table's cells)."""
    from gradlab.render.formats import DOC_SCHEMAS, POINT_SCHEMAS, SYMBOLIC_COMMANDS, symbolic_rows

    command = record.get("command")
    if "shapes" in record:  # shaped variables
        return None
    if command in DOC_SCHEMAS:
        return DOC_SCHEMAS[command](record)
    if command in POINT_SCHEMAS:
        if "point" in record:  # a calculus result at one point: the row of a batch of one
            from types import SimpleNamespace

            meta = {"outputs": len(result.matrix)} if command == "jacobian" else {}
            if command == "check":
                meta["yours"] = bool(getattr(result, "user", False))
            # the columns read an answer's expression, coords, record and error (numpy stays unloaded)
            row = SimpleNamespace(expression=record.get("expression", ""), coords=tuple(record["point"]),
                                  record=record, error=None)
            return [row], POINT_SCHEMAS[command](tuple(record.get("variables", ())), meta)
        if command in SYMBOLIC_COMMANDS:
            return symbolic_rows(record)
    return None


def emit_batch(batch, out: "Out") -> None:
    """Render a many-input batch: one record or row per input, in input order."""
    from gradlab.render.formats import POINT_SCHEMAS

    columns = POINT_SCHEMAS[batch.command](batch.variables, batch.meta)
    kind = out.kind
    if kind == "json":
        from gradlab.render.output import render_json

        write_out(render_json(batch.to_record(), ascii=ascii_only(), compact=out.compact))
    elif kind == "jsonl":
        from gradlab.render.formats import jsonl_lines

        _write_lines(jsonl_lines((a.to_record() for a in batch.answers), ascii_only()))
    elif kind in ("csv", "tsv", "plain"):
        from gradlab.render.formats import delimited

        _write_lines(delimited(batch.answers, columns, kind, out.header))
    else:
        from rich.console import Console

        from gradlab.render.tables import render

        render(_for_stream(batch.view(columns)), Console(file=Out_(), width=terminal_width(), highlight=False,
                                                         soft_wrap=False))


def _for_stream(view):
    """The view as stdout can show it: on an ASCII-only stream its text is spelled in
    ASCII (``grad f`` for ``∇f``) before the table is laid out, so that the columns,
    sized for what is printed, stay aligned."""
    if not ascii_only():
        return view
    import dataclasses

    def text(c):
        if isinstance(c, str):
            return c.encode("ascii", "gradlab-ascii").decode("ascii")
        return tuple(text(v) for v in c) if isinstance(c, tuple) else c

    return dataclasses.replace(view, title=text(view.title), columns=text(view.columns),
                               rows=tuple(text(r) for r in view.rows), notes=text(view.notes),
                               plain_cells=None if view.plain_cells is None else
                               tuple(text(r) for r in view.plain_cells))


OUTPUT, MANY, PLOTS, HYPER = "Output", "Many inputs", "Plots", "Optimizer settings"  # help sections

_FORMAT_WORDS = {"auto": "auto (a table on a terminal, plain when piped)"}


def format_option(command: str) -> Any:
    """``--format``/``-f`` of ``command``: it takes exactly the formats the command writes
    (:func:`gradlab.render.formats.command_formats`), and its help lists them; any other
    value is a usage error naming them (exit 2)."""
    from gradlab.render.formats import command_formats

    kinds = command_formats(command)

    def parse(text: Any) -> str:
        text = getattr(text, "value", text)  # the default arrives as the enum
        if text not in kinds:
            if text in Format.__members__:
                raise typer.BadParameter(f"{command} has no {text} output (the formats of {command}: "
                                         f"{', '.join(kinds)})")
            raise typer.BadParameter(f"{text!r} is not one of the formats of {command}: {', '.join(kinds)}")
        return text

    words = [_FORMAT_WORDS.get(k, k) for k in kinds]
    return typer.Option(Format.auto.value, "--format", "-f", metavar="FMT", rich_help_panel=OUTPUT, parser=parse,
                        autocompletion=lambda incomplete: [k for k in kinds if k.startswith(incomplete)],
                        help=f"Output format: {', '.join(words[:-1])} or {words[-1]}.")


HeaderOpt = typer.Option(True, "--header/--no-header", rich_help_panel=OUTPUT,
                         help="csv and tsv: write the header row, or not (default: --header).")
CompactOpt = typer.Option(False, "--compact", rich_help_panel=OUTPUT, help="json: the whole document on one line.")
AtOpt = typer.Option(None, "--at", metavar="POINT",
                     help="The point: 2,5 or x=2,y=5. Repeat for many points; - reads them from stdin, one a line.")
PointsOpt = typer.Option(None, "--points", metavar="FILE", rich_help_panel=MANY,
                         help="A CSV file of points whose header names the variables.")
ExactOpt = typer.Option(False, "--exact", rich_help_panel=MANY, help="Exact values at every point (slower).")
FailFastOpt = typer.Option(False, "--fail-fast", rich_help_panel=MANY, help="Stop at the first input that fails.")
ExitStatusOpt = typer.Option(False, "--exit-status", rich_help_panel=OUTPUT,
                             help="Exit 3 when a run diverged (by default divergence is a result: exit 0).")
VarsOpt = typer.Option(None, "--vars", metavar="NAMES", help='Variable order, e.g. "y,x" (also adds variables).')
SurfacesOpt = typer.Option(None, "--surfaces", envvar="GRADLAB_SURFACES", metavar="FILE",
                           help="A YAML catalogue of your own surfaces, over the built-in ones.")
DimsOpt = typer.Option(None, "--dims", metavar="N", help="The dimension n of a surface that declares dims.")
MomentumOpt = typer.Option(None, "--momentum", metavar="BETA", rich_help_panel=HYPER,
                           help="β of momentum and nesterov (default: 0.9).")
Beta1Opt = typer.Option(None, "--beta1", metavar="BETA", rich_help_panel=HYPER, help="Adam's β₁ (default: 0.9).")
Beta2Opt = typer.Option(None, "--beta2", metavar="BETA", rich_help_panel=HYPER,
                        help="Adam's β₂ (default: 0.999); RMSProp's decay (default: 0.9).")
EpsOpt = typer.Option(None, "--eps", metavar="EPS", rich_help_panel=HYPER,
                      help="ε of adagrad, rmsprop and adam (default: 1e-8).")
DpiOpt = typer.Option(100, "--dpi", metavar="DPI", rich_help_panel=PLOTS, help="Resolution of plots, 10 to 600.")
ShapeOpt = typer.Option(None, "--shape", metavar="SHAPES",
                        help="Shapes of vector and matrix variables: W=3x4,x=4,b=3 (see backprop).")
SeedOpt = typer.Option(None, "--seed", metavar="N",
                       help="With --shape: seeded standard-normal values for the variables --at leaves out.")
WrtOpt = typer.Option(None, "--wrt", metavar="NAMES",
                      help="Differentiate with respect to these variables only: W or W,b.")


# ------------------------------------------------------------------ inputs


from gradlab import resolve as _resolve  # noqa: E402  (inputs read the same way by CLI and API)

SURFACE_PREFIX = _resolve.SURFACE_PREFIX


STDIN_COMMANDS = ("grad", "jacobian", "hessian", "directional", "eval", "check")


def _not_stdin(text: str) -> None:
    """``-`` as the expression of a command that does not read expressions from stdin is
    a usage error that says so, not a syntax error about a lone minus sign."""
    if text.strip() != "-":
        return
    command = RUNNING
    if command and command not in STDIN_COMMANDS:
        raise BadInput(f"{command} does not read expressions from stdin (only {', '.join(STDIN_COMMANDS[:-1])} "
                       f"and {STDIN_COMMANDS[-1]} do)", "expression")


def _surface(text: str, surfaces_file: Optional[str], dims: Optional[int] = None):
    _not_stdin(text)
    return _resolve.surface(text, surfaces_file, dims, note)


def _target(text, start, variables, surfaces_file, dims):
    _not_stdin(text)
    return _resolve.target(text, start, variables, surfaces_file, dims, note)


def _function(text, variables, vector=False, surfaces_file=None, dims=None):
    _not_stdin(text)
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

    from gradlab.calculus import batch as b
    from gradlab.calculus import inputs
    from gradlab.calculus.parsing import Parsed, variables_of

    at = list(at or [])
    if out.kind == "latex":  # one display is one result: a table of many would not be maths
        raise BadInput("latex output is for one expression at one point: give one --at "
                       "(many inputs: --format csv, tsv, json or jsonl)", "--format")
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
            from gradlab.calculus.parsing import natural_key

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
                    if isinstance(exc, BadInput) and exc.where.startswith("--") and line.where == "expression":
                        raise  # an option that does not fit the one expression: usage, as for one point
                    where = f"{line.where}, {exc.where}" if exc.where.startswith("--") else line.where
                    answers.append(b.Answer(line, command, parsed.text, tuple(pnames), None, None,
                                            type(exc)(exc.what, where)))
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
    meta["symbolic"] = not (lines or at or points_file)  # no points: the derivatives' own columns
    if command == "jacobian":
        meta["outputs"] = max([len(p.exprs) for p in parsed_all] or [1])
    emit_batch(b.Batch(command, tuple(answers), tuple(names), meta), out)
    if verdict and any(a.ok and not a.record.get("passed", True) for a in answers):
        return 1  # a check that failed: the answer is "no"
    return 1 if failures else 0


# ------------------------------------------------------------------ calculus commands


def _first(at: Optional[list[str]]) -> Optional[str]:
    return at[0] if at else None


def answer_one(command: str, parsed, at_text: Optional[str], point, compute, out: "Out",
               meta: Optional[dict] = None) -> int:
    """Write one point's answer. Where the maths fails at the point, json and jsonl get
    the many-point path's error record and csv and tsv its row (the header, the point,
    NA, the error), one stderr line, exit 1: a script that asked for a format always gets
    what it parses. A table and plain (the default when piped) keep the error contract:
    stdout empty, the error on stderr. ``meta``: what the columns depend on (check's --grad).
    """
    try:
        result = compute()
    except GradlabError as exc:
        if out.kind not in ("json", "jsonl", "csv", "tsv") or exc.exit_code != 1:
            raise
        from gradlab.calculus import batch as b
        from gradlab.calculus.inputs import Line
        from gradlab.calculus.pointwise import point_fields

        fields = point_fields(point) if point else {"point": [], "point_exact": []}
        answer = b.Answer(Line("--at", at_text or ""), command, parsed.text,
                          tuple(v.name for v in parsed.variables), tuple(fields["point"]), None, exc,
                          tuple(fields["point_exact"]))
        _fail(exc.line(), 1)
        from gradlab.render.formats import jsonl_lines
        from gradlab.render.output import render_json

        if out.kind in ("csv", "tsv"):
            from gradlab.render.formats import POINT_SCHEMAS, delimited

            meta = {**(meta or {}), **({"outputs": len(parsed.exprs)} if command == "jacobian" else {})}
            _write_lines(delimited([answer], POINT_SCHEMAS[command](answer.variables, meta), out.kind, out.header))
        elif out.kind == "json":
            write_out(render_json(answer.to_record(), ascii=ascii_only(), compact=out.compact))
        else:
            _write_lines(jsonl_lines([answer.to_record()], ascii_only()))
        return 1
    emit(result, out)
    return 0 if getattr(result, "passed", True) else 1


def _shaped_point(expression: str, at: Optional[list[str]], points: Optional[str]) -> Optional[str]:
    """The one point a shaped (vector and matrix) call takes: many inputs are scalar-only."""
    if _many(expression, at, points):
        raise BadInput("--shape takes one point: give one --at (or --seed)", "--shape")
    return _first(at)


def _require(point):
    if point is None:
        raise BadInput("a point is required", "--at")
    return point


def _numbers(text: str, option: str) -> list[float]:
    """A comma-separated list of real numbers (exact syntax allowed: 1/100, 2e-3)."""
    from gradlab.calculus.parsing import parse_point

    from gradlab.descent.descend import plain_numbers

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


def _window(text: str) -> tuple[float, ...]:
    w = _numbers(text, "--window")
    if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
        raise BadInput("--window must be xmin,xmax,ymin,ymax with min < max", "--window")
    return tuple(w)


def _check_dpi(dpi: int) -> None:
    if not 10 <= dpi <= 600:
        raise BadInput(f"--dpi must be from 10 to 600, got {dpi}", "--dpi")


def main() -> None:
    """Console-script entry point.

    After the command has finished and its output is flushed, the process ends at once
    (``os._exit``): tearing down SymPy's and matplotlib's modules at interpreter exit
    costs a tenth of a second or more and does nothing for the user. Every file gradlab
    writes is complete and closed before this point.
    """
    from gradlab.cli import streams

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
