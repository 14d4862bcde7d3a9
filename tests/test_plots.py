"""Plots: valid images of the right size, panels, arrow directions, annotations, bad paths."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from gradlab import derivatives as d
from gradlab.descent import run_descent
from gradlab.numeric import Compiled
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
    assert _png_size(out) == (375, 300)  # 7.5 × 6 inches at 50 dpi
    assert _not_blank(out)


def test_arrows_point_along_minus_gradient():
    from gradlab.plots import landscape_figure

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
    from gradlab.plots import descent_figure, save

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
    from gradlab import plots
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
