"""The ``backprop`` command, and the shaped forms (``--shape``, ``--seed``, ``--wrt``) of
``grad``, ``jacobian``, ``hessian`` and ``check``.

Registered on gradlab's Typer app when ``gradlab.cli`` loads; like the other families it only checks
options, calls the library (:mod:`gradlab.calculus.backprop`, :mod:`gradlab.calculus.shaped`) and hands the result to a renderer.
"""

from __future__ import annotations

from typing import Optional

import typer

from gradlab.cli.app import (PLOTS, CompactOpt, DpiOpt, Format, Out, SeedOpt, _check_dpi, _not_stdin, app, emit,
                             format_option, note)
from gradlab.errors import BadInput

AtOpt = typer.Option(None, "--at", metavar="VALUES", help='Values: 2,5 or w=0.5,x=2 or "W=[[1,2],[3,4]],x=[1,0]" or FILE.json.')


def _graph(expression: str, shape: Optional[str]):
    from gradlab.calculus.graph import build
    from gradlab.calculus.shapes import parse_shapes

    return build(expression, parse_shapes(shape))


def _values(graph, at: Optional[str], seed: Optional[int], required: bool):
    from gradlab.calculus.shapes import point_values

    return point_values(at, seed, graph.shapes, required=required)


@app.command("backprop")
def backprop_cmd(
    expression: str = typer.Argument(..., metavar="EXPRESSION", help='An expression, or steps: "z = w*x + b; a = sigmoid(z); L = (a - y)**2".'),
    at: Optional[str] = AtOpt,
    seed: Optional[int] = SeedOpt,
    shape: Optional[str] = typer.Option(None, "--shape", metavar="SHAPES",
                                        help="Shapes of the vector and matrix leaves: W=3x4,x=4,b=3."),
    wrt: Optional[str] = typer.Option(None, "--wrt", metavar="NAMES", help="The leaves whose gradient is reported (default: all)."),
    mode: str = typer.Option("reverse", "--mode", metavar="MODE", help="reverse (adjoints) or forward (tangents along --dir)."),
    direction: Optional[str] = typer.Option(None, "--dir", metavar="VECTOR", help="Forward mode's direction v over the leaves: 1,0 or x=1."),
    why: Optional[str] = typer.Option(None, "--why", metavar="NODE", help="Explain one node's adjoint as a sum over paths."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="FILE", rich_help_panel=PLOTS, help="Draw the graph (values, adjoints, local derivatives) to FILE.png."),
    dpi: int = DpiOpt,
    fmt: Format = format_option("backprop"),
    compact: bool = CompactOpt,
) -> None:
    """The chain rule on a computational graph: forward values, backward adjoints.

    Example: gradlab backprop "z = w*x + b; a = sigmoid(z); L = (a - y)**2" --at w=0.5,x=2,b=0.1,y=1
    """
    from gradlab.calculus.backprop import backprop, check_mode
    from gradlab.calculus.shapes import parse_values

    out = Out(fmt, compact=compact).check("backprop")
    _not_stdin(expression)
    check_mode(mode, direction is not None)
    if plot:
        from gradlab.files import check_writable

        check_writable(plot, (".png",), "--plot")
        _check_dpi(dpi)
    graph = _graph(expression, shape)
    point = _values(graph, at, seed, required=True)
    dvec = parse_values(direction, graph.shapes, "--dir") if direction is not None else None
    if why is not None:
        why = why.strip()
    result = backprop(graph, point, wrt, dvec, why)
    if result.self_check.passed is False:
        note(f"warning: {result.self_check.note()}")
    if plot:
        from gradlab.render.graphplot import graph_figure
        from gradlab.render.plots import save

        save(graph_figure(result), plot, dpi)
        note(f"wrote {plot}")
    emit(result, out)


def shaped(command: str, expression: str, shape: Optional[str], at: Optional[str], seed: Optional[int],
           wrt: Optional[str], variables: Optional[str], out: Out) -> None:
    """``grad``/``jacobian`` on shaped variables (or with ``--wrt``)."""
    from gradlab.calculus.shaped import shaped_grad, shaped_jacobian

    if out.kind in ("csv", "tsv", "latex"):  # a shaped answer is blocks of matrices: no fixed columns, no display
        raise BadInput(f"{out.kind} output is for scalar variables: with --shape, --seed or --wrt use "
                       "--format json, jsonl, table or plain", "--format")
    if variables:
        raise BadInput("--vars does not go with --shape, --seed or --wrt (the variables are named in order; "
                       "choose with --wrt)", "--vars")
    graph = _graph(expression, shape)
    point = _values(graph, at, seed, required=False)
    report = shaped_grad if command == "grad" else shaped_jacobian
    emit(report(graph, point, wrt), out)


def flat_function(command: str, expression: str, shape: Optional[str], at: Optional[str], seed: Optional[int],
                  variables: Optional[str], required: bool):
    """``hessian``/``check`` on shaped variables: the function over every component and
    the point flattened likewise, for the ordinary reports."""
    from gradlab.calculus.shaped import flattened

    if variables:
        raise BadInput("--vars does not go with --shape or --seed", "--vars")
    graph = _graph(expression, shape)
    point = _values(graph, at, seed, required=required)
    return flattened(graph, point, command)
