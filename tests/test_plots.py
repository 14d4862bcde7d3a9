"""Plots: valid images of the right size, panels, arrow directions, annotations, bad paths."""

from __future__ import annotations

import functools
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from gradlab.calculus import derivatives as d
from gradlab.descent.descend import run_descent
from gradlab.calculus.numeric import Compiled
from gradlab.surfaces import builtin
from tests.conftest import assert_error, run

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read(32)
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _not_blank(path) -> bool:
    from matplotlib.image import imread

    img = imread(path)
    return float(img[..., :3].std()) > 0.05


def test_landscape_png(tmp_path):
    out = tmp_path / "ros.png"
    r = run("plot", "rosenbrock", "--out", str(out), "--dpi", "50")
    assert r.code == 0 and f"wrote {out}" in r.err and r.out == ""
    width, height = _png_size(out)
    assert width == 420  # 8.4 inches at 50 dpi; the height follows the window's shape
    assert _not_blank(out)


def test_arrows_point_along_minus_gradient():
    from gradlab.render.plots import landscape_figure

    s = builtin()["himmelblau"]
    fig = landscape_figure(s)
    q = fig._gradlab_quiver
    XY = q.get_offsets()
    U, V = np.asarray(q.U).ravel(), np.asarray(q.V).ravel()
    G = Compiled(d.gradient(s.parsed.expr, s.parsed.variables), s.parsed.variables)(XY.T)
    ok = np.hypot(G[0], G[1]) > 1e-9
    unit = -G[:, ok] / np.hypot(G[0], G[1])[ok]
    assert np.allclose(U[ok], unit[0]) and np.allclose(V[ok], unit[1])


def test_learning_rate_plot_has_four_panels_and_names_the_divergence_step(tmp_path):
    from gradlab.render.plots import descent_figure, save

    res = run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03, 0.06, 0.08], trajectory=True)
    fig = descent_figure(res)
    assert len(fig._gradlab_panels) == 4
    texts = [t.get_text() for ax in fig._gradlab_panels for t in ax.texts]
    for r in res.runs:
        if r.status == "diverged":
            assert f"diverged at step {r.diverged_at}" in texts
    save(fig, str(tmp_path / "lr.png"), dpi=40)
    assert _not_blank(tmp_path / "lr.png")


def test_seed_example_through_the_cli(tmp_path):
    out = tmp_path / "lr.png"
    r = run("descend", "elongated", "--lr", "0.01,0.03,0.06,0.08", "--plot", str(out), "--dpi", "40")
    assert r.code == 0 and out.exists() and _png_size(out)[0] > 4 * 100


@pytest.mark.parametrize("extra", [("--loss-plot",), ("--3d", "--plot")])
def test_loss_and_3d_plots(tmp_path, extra):
    out = tmp_path / "p.png"
    r = run("descend", "rosenbrock", "-o", "gd,adam", "--steps", "300", *extra, str(out), "--dpi", "40")
    assert r.code == 0 and _not_blank(out)


def test_animation_gif(tmp_path):
    out = tmp_path / "a.gif"
    r = run("descend", "bowl", "--lr", "0.1", "--steps", "30", "--animate", str(out), "--dpi", "30")
    assert r.code == 0 and open(out, "rb").read(6) in (b"GIF89a", b"GIF87a")
    assert "frames" in r.err


def test_n_dimensional_surface_slice(tmp_path):
    out = tmp_path / "nd.png"
    assert run("plot", "rosenbrock-nd", "--dims", "5", "--out", str(out), "--dpi", "30").code == 0
    assert _not_blank(out)


def test_sweep_plot(tmp_path):
    out = tmp_path / "s.png"
    assert run("sweep", "elongated", "--num", "10", "--plot", str(out), "--dpi", "40").code == 0
    assert _not_blank(out)


def test_undefined_regions_are_masked(tmp_path):
    out = tmp_path / "log.png"
    assert run("plot", "log(x) + y**2", "--window", "-1,2,-1,1", "--out", str(out), "--dpi", "30").code == 0


def test_bad_paths_are_exit_1_and_leave_nothing(tmp_path):
    missing = tmp_path / "no" / "x.png"
    assert_error(run("plot", "bowl", "--out", str(missing)), 1, "does not exist")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if not os.access(ro, os.W_OK):  # root can write anywhere
            assert_error(run("plot", "bowl", "--out", str(ro / "x.png")), 1, "not writable")
            assert list(ro.iterdir()) == []
    finally:
        ro.chmod(stat.S_IRWXU)
    assert_error(run("plot", "bowl", "--out", str(tmp_path / "x.jpg")), 2, ".png")


def test_existing_file_is_replaced_only_when_complete(tmp_path, monkeypatch):
    from gradlab.render import plots
    from gradlab.errors import WriteFailed

    out = tmp_path / "keep.png"
    out.write_bytes(b"old")

    def broken(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteFailed):
        plots.atomic_write(str(out), broken)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_commands_that_draw_nothing_do_not_import_matplotlib():
    code = ("import sys; from gradlab.cli import app\n"
            "try: app(['descend', 'elongated', '--lr', '0.01', '-f', 'json'])\n"
            "except SystemExit: pass\n"
            "print('mpl' if 'matplotlib' in sys.modules else 'none')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip().splitlines()[-1] == "none"


def test_one_variable_descent_is_drawn_on_the_graph_of_f(tmp_path):
    out = tmp_path / "one.png"
    r = run("descend", "x**2", "--start", "3", "--lr", "0.1,0.9,1.1", "--plot", str(out), "--dpi", "40")
    assert r.code == 0 and _not_blank(out)
    assert_error(run("descend", "x**2", "--start", "3", "--3d", "--plot", str(tmp_path / "t.png")), 2, "two variables")
    assert_error(run("plot", "x**2", "--out", str(tmp_path / "p.png")), 2, "two variables")


@pytest.mark.parametrize("name", list(builtin()))
def test_every_built_in_surface_plots(name, tmp_path):
    out = tmp_path / f"{name}.png"
    r = run("plot", name, "--out", str(out), "--dpi", "25")
    assert r.code == 0, r
    assert _not_blank(out)


# ----------------------------------------------------------------- pictures that teach
def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig


@functools.lru_cache(maxsize=None)
def _elongated_panels():
    from gradlab.render.plots import descent_figure

    res = run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03, 0.06, 0.08], trajectory=True)
    return res, _drawn(descent_figure(res))


def test_four_rates_are_a_2x2_grid_of_big_panels_titled_with_their_outcome():
    res, fig = _elongated_panels()
    axes = fig._gradlab_panels
    boxes = [ax.get_position() for ax in axes]
    assert len({round(b.x0, 3) for b in boxes}) == 2 and len({round(b.y0, 3) for b in boxes}) == 2
    w, h = fig.get_size_inches()
    assert all(b.width * w >= 3.9 and b.height * h >= 3.9 for b in boxes)  # about 4 inches each
    titles = [ax.get_title() for ax in axes]
    for r, title in zip(res.runs, titles):
        assert title.startswith(f"lr = {r.lr:g}: ")
        assert title.endswith(f"converged in {r.steps} steps" if r.status == "converged"
                              else f"diverged at step {r.diverged_at}")
    # gd on x² + 25y² is stable for lr < 2/λ_max = 2/50
    assert any("2/λ_max = 0.04" in t.get_text() for t in fig.texts)
    # the loss curves fill no empty cell: 2×2 panels, curves beside them
    others = [ax for ax in fig.axes if ax not in axes]
    assert any(ax.get_title().startswith("loss curves") for ax in others)


@pytest.mark.parametrize("n,shape", [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (5, (2, 3)),
                                     (6, (2, 3)), (7, (3, 3)), (9, (3, 3))])
def test_panel_grid_has_at_most_three_columns(n, shape):
    from gradlab.render.plots import _grid_shape

    assert _grid_shape(n) == shape


def test_five_rates_leave_no_empty_cell():
    from gradlab.render.plots import descent_figure

    res = run_descent(builtin()["bowl"], ["gd"], [0.1, 0.3, 0.5, 0.9, 1.1], steps=50, trajectory=True)
    fig = _drawn(descent_figure(res))
    panels = fig._gradlab_panels
    loss = next(ax for ax in fig.axes if ax.get_title().startswith("loss"))
    # 2×3 grid: the loss curves take the sixth cell, in the panels' last row
    assert abs(loss.get_position().y0 - panels[-1].get_position().y0) < 0.05


def test_loss_range_is_set_by_the_finite_runs_and_diverging_runs_leave_the_frame():
    res, fig = _elongated_panels()
    loss = next(ax for ax in fig.axes if ax.get_title().startswith("loss"))
    assert loss.get_yscale() == "log"
    settled = [r for r in res.runs if r.status != "diverged"]
    top = max(float(np.max(r.trajectory_f)) for r in settled)  # f* = 0 here
    lo, hi = loss.get_ylim()
    assert top < hi <= 100 * top
    # each diverged run is marked where it leaves the frame
    marks = [t.get_text() for t in loss.texts]
    for r in res.runs:
        if r.status == "diverged":
            assert any(f"diverged at step {r.diverged_at}" in m for m in marks)


def test_gradient_field_is_drawn_to_scale_or_says_it_is_not():
    from gradlab.descent.descend import inline_surface
    from gradlab.calculus.parsing import parse
    from gradlab.render.plots import landscape_figure

    fig = landscape_figure(builtin()["elongated"])
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0 and "right angles" in ax.get_title()
    flat = landscape_figure(inline_surface(parse("x*y"), [0, 0]), window=(0, 100, 0, 1))
    assert flat.axes[0].get_aspect() != 1.0 and "NOT to scale" in flat.axes[0].get_title()


def test_landscape_levels_are_log_spaced_with_colour_bars():
    from gradlab.render.plots import Landscape, landscape_figure

    s = builtin()["rosenbrock"]
    land = Landscape(s.parsed, s.window)
    steps = np.diff(land.levels)
    assert np.allclose(steps, steps[0])  # equal steps of log₁₀(f − f_min)
    # Rosenbrock's walls reach ~10³ above its valley: several decades of levels
    assert land.levels[-1] - land.levels[0] > 3
    fig = landscape_figure(s)
    labels = [a.get_ylabel() for a in fig.axes]
    assert "f − f* (log scale), f* = 0 (known minimum)" in labels
    assert any("‖∇f‖" in lab for lab in labels)


def test_critical_points_one_marker_per_kind_with_a_legend():
    from gradlab.calculus.critical import numeric_critical
    from gradlab.render.plots import landscape_figure

    s = builtin()["himmelblau"]
    fig = _drawn(landscape_figure(s, critical=numeric_critical(s.parsed, s.window)))
    labels = sorted(t.get_text() for leg in fig.legends for t in leg.get_texts())
    # Himmelblau's function: four minima, one maximum, four saddle points
    assert labels == ["maximum (1)", "minimum (4)", "saddle (4)"]


def test_titles_name_the_function_once_as_mathematics():
    from gradlab.descent.descend import inline_surface
    from gradlab.calculus.parsing import parse
    from gradlab.render.plots import landscape_figure

    named = landscape_figure(builtin()["elongated"])._suptitle.get_text()
    assert named.startswith("elongated:") and "$f(x, y) = x^{2} + 25 y^{2}$" in named
    anon = landscape_figure(inline_surface(parse("x**2 + y**2"), [1, 1]))._suptitle.get_text()
    assert anon.startswith("$f(x, y) =") and "f: f" not in anon


def test_sweep_bound_is_a_vertical_line_and_the_legend_is_outside(tmp_path):
    from gradlab.render.plots import sweep_figure
    from gradlab.descent.sweep import run_sweep

    res = run_sweep(builtin()["elongated"], ["gd"], 1e-3, 0.5, 12, None, 1e-6, None, {}, 1e-2, True, None)
    fig = _drawn(sweep_figure(res))
    ax = fig.axes[0]
    vertical = [line.get_xdata()[0] for line in ax.lines if len(set(line.get_xdata())) == 1]
    assert any(abs(x - 2 / 50) < 1e-12 for x in vertical)  # 2/λ_max of x² + 25y²
    legend = fig.legends[0].get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1 - 1


def test_3d_marks_start_and_end_of_each_run():
    from gradlab.render.plots import surface3d_figure

    res = run_descent(builtin()["rosenbrock"], ["gd", "adam"], [0.001], steps=200, trajectory=True)
    ax = surface3d_figure(res).axes[0]
    markers = [line.get_marker() for line in ax.lines]
    assert markers.count("s") == 2 and markers.count("o") >= 2


@pytest.mark.parametrize("args", [
    ("plot", "exp(x**2*y**2)", "--out", "{d}/p.png"),  # was: contour levels out of order
    ("plot", "1e300*x*y", "--out", "{d}/p.png"),
    ("descend", "exp(x)", "--start", "500", "--plot", "{d}/p.png"),  # was: infinite axis limits
    ("descend", "exp(x)", "--start", "500", "--loss-plot", "{d}/p.png"),
    ("descend", "exp(x**2 + y**2)", "--start", "10,10", "--plot", "{d}/p.png"),  # was: tick overflow
    ("descend", "exp(x**2 + y**2)", "--start", "10,10", "--animate", "{d}/p.gif"),
    ("sweep", "exp(x**2 + y**2)", "--start", "3,3", "--num", "5", "--plot", "{d}/p.png"),
])
def test_huge_values_still_draw(args, tmp_path):
    r = run(*(a.format(d=tmp_path) for a in args), "--dpi", "20")
    assert r.code == 0, r
    assert "wrote" in r.err


# --------------------------------------------------------------------------- slices of n > 2 variables
def _landscape_of(text: str, **kw):
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface
    from gradlab.render.plots import landscape_figure

    p = parse(text)
    return landscape_figure(inline_surface(p, [0] * len(p.variables)), **kw)


def test_a_slice_without_a_minimum_is_drawn_where_f_varies_and_titled_truthfully():
    # x·y·z has no minimum (it is unbounded below) and is ≡ 0 on the default slice z = 0:
    # the slice z = 1 shows x·y instead
    fig = _landscape_of("x*y*z")
    land = fig._gradlab_land
    assert land.fixed == (1.0,)
    assert np.allclose(np.ma.filled(land.Z, np.nan), land.X * land.Y)
    title = fig.axes[0].get_title()
    assert "slice z = 1" in title and "through" not in title.replace("no minimum known to slice through", "")
    assert fig._gradlab_marks == []
    four = _landscape_of("x*y*z*w")  # variables w, x, y, z: the slice fixes y and z
    assert four._gradlab_land.fixed == (1.0, 1.0) and "slice y = 1, z = 1" in four.axes[0].get_title()


def test_a_slice_through_a_minimum_proved_exactly_says_so_and_marks_it():
    fig = _landscape_of("x**2 + y**2 + (z - 3)**2")  # the one minimum: (0, 0, 3)
    land = fig._gradlab_land
    assert land.fixed == (3.0,)
    assert np.allclose(np.ma.filled(land.Z, np.nan), land.X ** 2 + land.Y ** 2)
    assert "slice z = 3, through a minimum found exactly at (0, 0, 3)" in fig.axes[0].get_title()
    assert fig._gradlab_marks == [([0.0, 0.0, 3.0], "minimum")]


def test_a_slice_where_f_is_constant_says_so():
    # x·y·z·(z − 1) vanishes on both z = 0 (the start) and z = 1; its minima are not isolated
    # points found exactly, so nothing better is known
    fig = _landscape_of("x*y*z*(z - 1)")
    assert fig._gradlab_land.fixed == (0.0,) and "slice z = 0 (f is constant on it)" in fig.axes[0].get_title()


def test_a_catalogue_slice_goes_through_the_known_minimum():
    from gradlab.render.plots import landscape_figure

    s = builtin()["rosenbrock-nd"].with_dims(4)
    fig = landscape_figure(s)
    land = fig._gradlab_land
    assert land.fixed == (1.0, 1.0)  # Rosenbrock's minimum is (1, 1, 1, 1)
    # on that slice f = 100(x2 − x1²)² + (1 − x1)² + 100(1 − x2²)² + (1 − x2)², zero at (1, 1)
    X, Y = land.X, land.Y
    expected = 100 * (Y - X ** 2) ** 2 + (1 - X) ** 2 + 100 * (1 - Y ** 2) ** 2 + (1 - Y) ** 2
    assert np.allclose(np.ma.filled(land.Z, np.nan), expected)
    assert "slice x3 = 1, x4 = 1, through the known minimum" in fig.axes[0].get_title()
    assert [k for _, k in fig._gradlab_marks] == ["minimum"]


def test_long_titles_fit_the_figure():
    from gradlab.render.plots import landscape_figure

    fig = _drawn(landscape_figure(builtin()["quadratic-nd"]))
    r = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(r)
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and "x1, …, x10" in fig._suptitle.get_text()


def test_a_descent_over_n_variables_says_its_landscape_is_a_slice():
    from gradlab.render.plots import descent_figure

    s = builtin()["rosenbrock-nd"].with_dims(3)
    fig = _drawn(descent_figure(run_descent(s, ["gd"], [0.001], None, 50, 1e-6, {}, trajectory=True)))
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "slice x3 = 1 through the known minimum" in texts and "paths: their (x1, x2) coordinates" in texts
    r = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(r)
    assert "\n" not in fig._suptitle.get_text() and 0 <= box.x0 and box.x1 <= fig.bbox.width


# ------------------------------------------------------------------ the colour bar's minimum
def _bar_labels(fig) -> list[str]:
    return [a.get_ylabel() for a in fig.axes]


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "elongated"])
def test_colour_bar_subtracts_the_known_minimum_not_the_grid_minimum(name):
    # each is a sum of squares that vanishes at its minima: f* = 0 exactly, while no grid
    # point hits a minimum (Himmelblau's are irrational), so the grid's lowest f is above 0
    from gradlab.render.plots import landscape_figure

    s = builtin()[name]
    fig = landscape_figure(s)
    land = fig._gradlab_land
    assert land.fmin == 0.0 and land.Z.min() > 0
    assert "f − f* (log scale), f* = 0 (known minimum)" in _bar_labels(fig)
    # the height drawn is log₁₀(f − 0 + δ): f itself, not f less the grid's lowest value
    i = np.unravel_index(np.argmin(land.Z), land.Z.shape)
    assert land.L[i] == pytest.approx(np.log10(land.Z[i] + land.delta))


def test_descent_figure_colour_bar_names_the_known_minimum():
    from gradlab.render.plots import descent_figure

    fig = descent_figure(run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03], trajectory=True))
    labels = _bar_labels(fig)
    assert "f − f* (log scale), f* = 0 (known minimum)" in labels and not any("f_min" in t for t in labels)


def test_without_a_known_minimum_the_label_says_grid_min():
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface
    from gradlab.render.plots import landscape_figure

    # x² + y² + 3 on [1, 2]²: the lowest value on the grid is f(1, 1) = 5, not a minimum of f
    fig = landscape_figure(inline_surface(parse("x**2 + y**2 + 3"), [1, 1]), window=(1, 2, 1, 2))
    labels = _bar_labels(fig)
    assert "f − grid min (log scale), grid min = 5" in labels
    assert not any("f*" in t or "known" in t for t in labels)


def test_a_catalogue_minimum_above_the_grid_is_not_used():
    # a catalogue that lists only a local (or wrong) minimum: the bowl x² + y² with f* = 1
    # claimed; the grid reaches 0 < 1, so the label must fall back to the grid's lowest value
    import dataclasses

    from gradlab.render.plots import landscape_figure
    from gradlab.surfaces import Minimum

    s = builtin()["bowl"]
    wrong = dataclasses.replace(s, minima=(Minimum(s.minima[0].point, 1),))
    labels = _bar_labels(landscape_figure(wrong))
    assert not any("known minimum" in t for t in labels) and any("grid min" in t for t in labels)


def test_3d_axis_names_what_is_subtracted():
    from gradlab.render.plots import surface3d_figure

    fig = surface3d_figure(run_descent(builtin()["rosenbrock"], ["gd"], [0.001], steps=50, trajectory=True))
    assert fig.axes[0].get_zlabel() == "log₁₀(f − f*)"
    # Rosenbrock's minimum (1, 1) is marked, as the flat plots mark it
    stars = [c for c in fig.axes[0].collections if c.get_label() == "known minimum (1)"]
    assert len(stars) == 1 and np.allclose(np.asarray(stars[0]._offsets3d)[:2].ravel(), [1, 1])


# ------------------------------------------------------------------ arrows where f is undefined
@pytest.mark.parametrize("text, defined", [
    ("log(x*y)", lambda x, y: x * y > 0),
    ("sqrt(4 - x**2 - y**2)", lambda x, y: x * x + y * y < 4),
    ("log(x) + y**2", lambda x, y: x > 0),
])
def test_no_arrow_where_f_is_undefined(text, defined):
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface
    from gradlab.render.plots import ARROWS, landscape_figure

    fig = _drawn(landscape_figure(inline_surface(parse(text), [1, 1])))
    q = fig._gradlab_quiver
    xy = np.asarray(q.get_offsets())
    U, V, C = (np.ma.filled(np.ma.asarray(a, dtype=float).ravel(), np.nan) for a in (q.U, q.V, q.get_array()))
    assert len(xy) == len(U) == len(V) == len(C) > 0
    assert all(defined(x, y) for x, y in xy)  # every arrow stands where f is defined
    assert np.isfinite(U).all() and np.isfinite(V).all() and np.isfinite(C).all()
    # and arrows are missing only there: the arrow grid has points on both sides
    xmin, xmax, ymin, ymax = fig._gradlab_land.window
    grid_pts = [(x, y) for x in np.linspace(xmin, xmax, ARROWS) for y in np.linspace(ymin, ymax, ARROWS)]
    assert any(not defined(x, y) for x, y in grid_pts)
    assert len(xy) >= sum(defined(x, y) for x, y in grid_pts) - ARROWS  # at most an edge's worth lost at the border


# ------------------------------------------------------------------ the animation
def test_animation_keeps_overlapping_paths_apart_and_marks_the_minimum():
    from gradlab.render.plots import animation_figure

    # Booth: x + 2y = 7 and 2x + y = 5 meet at (1, 3), where f = 0: the one minimum
    res = run_descent(builtin()["booth"], ["gd", "momentum", "adam"], [0.02], steps=120, trajectory=True)
    fig, frame, ticks = animation_figure(res)
    frame(ticks[-1])
    _drawn(fig)
    lines, heads = fig._gradlab_runs["lines"], fig._gradlab_runs["heads"]
    looks = {(ln.get_linestyle(), ln.get_marker(), ln.get_color()) for ln in lines}
    assert len(looks) == 3 and len({ln.get_linestyle() for ln in lines}) == 3
    # each later path lies above and is thinner than the one before: gd still shows beneath adam
    assert [ln.get_zorder() for ln in lines] == sorted(ln.get_zorder() for ln in lines)
    widths = [ln.get_linewidth() for ln in lines]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    for r, ln, head in zip(res.runs, lines, heads):  # the whole path, and its current point marked
        x, y = ln.get_data()
        assert len(x) == len(r.trajectory) and head.get_data()[0][0] == x[-1]
        assert head.get_markerfacecolor() == "none"  # hollow: heads at one point all show
    stars = [c for c in fig.axes[0].collections if c.get_label().startswith("minimum")]
    assert len(stars) == 1 and np.allclose(stars[0].get_offsets(), [[1, 3]])
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert all(any(t.startswith(f"{r.optimizer}, lr = 0.02") for t in legend) for r in res.runs)
    assert "start" in legend and "minimum (1)" in legend


def test_a_loss_of_exactly_zero_keeps_the_log_scale():
    # Newton on the quadratic x² + 25y² lands on the minimum in one full step (f − f* = 0
    # exactly): gd's geometric decay still needs a log axis to be seen, and Newton's 0 is
    # drawn on its bottom edge, the legend saying so
    from gradlab.descent.training import Settings, run_training
    from gradlab.render.training_plots import training_figure

    s = builtin()["elongated"]
    res = run_training(s, ["gd", "newton"], [10.0], [[float(v) for v in s.start]], 100, 1e-8, {},
                       Settings(None, None, None, None, "armijo", False))
    newton = next(r for r in res.runs if r.optimizer == "newton")
    assert float(newton.trajectory_f[-1]) == 0.0
    ax = training_figure(res).axes[0]
    assert ax.get_yscale() == "log"
    lo = ax.get_ylim()[0]
    gd = next(r for r in res.runs if r.optimizer == "gd")
    assert 0 < lo < min(float(v) for v in gd.trajectory_f if v > 0)
    assert any("exactly" in t.get_text() for t in ax.get_legend().get_texts())


def test_sweep_axis_claims_f_star_only_when_a_minimum_is_known():
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface
    from gradlab.descent.sweep import run_sweep
    from gradlab.render.plots import sweep_figure

    known = run_sweep(builtin()["elongated"], ["gd"], 1e-3, 0.5, 6, None, 1e-6, None, {}, 1e-2, True, None)
    assert sweep_figure(known).axes[0].get_ylabel().startswith("|f − f*|")
    # x² + 3y² + 1 typed on the command line: no catalogue minimum, so no f* on the axis
    anon = run_sweep(inline_surface(parse("x**2 + 3*y**2 + 1"), [2, 1]), ["gd"], 1e-3, 0.5, 6, None, 1e-6, None,
                     {}, 1e-2, True, None)
    label = sweep_figure(anon).axes[0].get_ylabel()
    assert label.startswith("|f − lowest f reached|") and "f*" not in label
