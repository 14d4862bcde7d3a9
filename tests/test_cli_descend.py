"""``gradlab descend`` through the CLI: output contracts, trajectories and bad flags."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import assert_error, run

SEED = ("descend", "elongated", "--lr", "0.01,0.03,0.06,0.08")


def test_seed_example_plain_rows():
    r = run(*SEED)
    assert r.code == 0
    # the documented columns: optimizer, lr, start_x, start_y, status, steps, end_x, end_y, f, grad_norm,
    # diverged_at, distance_to_minimum, stability_bound, momentum, beta1, beta2, eps
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert all(len(row) == 17 for row in rows)
    assert [(row[0], float(row[1]), row[4]) for row in rows] == [
        ("gd", 0.01, "converged"), ("gd", 0.03, "converged"), ("gd", 0.06, "diverged"), ("gd", 0.08, "diverged")]
    assert [row[2:4] for row in rows] == [["-4.0", "2.0"]] * 4 and rows[0][13:] == ["NA"] * 4
    # closed form: y_k = (1 − 50 lr)^k y0; at the step where 0.06 diverged, |y| passed the bound
    k = int(rows[2][10])
    assert rows[2][5] == str(k) and abs(float(rows[2][7])) == pytest.approx(2 * 2.0**k)


def test_seed_example_json_keys():
    doc = json.loads(run(*SEED, "-f", "json").out)
    assert doc["command"] == "descend" and doc["surface"] == "elongated" and doc["variables"] == ["x", "y"]
    keys = {"optimizer", "lr", "start", "status", "steps", "x", "f", "grad_norm", "diverged_at", "distance_to_minimum"}
    for rec in doc["runs"]:
        assert keys <= set(rec)
    assert [rec["diverged_at"] is None for rec in doc["runs"]] == [True, True, False, False]


def test_inline_expression_with_start():
    doc = json.loads(run("descend", "x**2 + 25*y**2", "--start", "-4,2", "--lr", "0.03", "-f", "json").out)
    [rec] = doc["runs"]
    assert rec["status"] == "converged" and rec["distance_to_minimum"] is None and doc["surface"] is None


def test_optimizers_times_lrs_times_starts():
    doc = json.loads(run("descend", "booth", "-o", "gd,adam", "--lr", "0.01,0.02", "--start", "0,0",
                         "--start", "x=1,y=-1", "--steps", "50", "-f", "json").out)
    assert len(doc["runs"]) == 8
    assert {tuple(r["start"]) for r in doc["runs"]} == {(0.0, 0.0), (1.0, -1.0)}
    assert {r["optimizer"] for r in doc["runs"]} == {"gd", "adam"}


def test_newton_note_on_indefinite_hessian():
    doc = json.loads(run("descend", "himmelblau", "-o", "newton", "--lr", "1", "--start", "-0.3,-0.9",
                         "--steps", "100", "-f", "json").out)
    assert "saddle-free" in doc["runs"][0]["message"]


def test_dims_on_an_n_dimensional_surface():
    doc = json.loads(run("descend", "quadratic-nd", "--dims", "6", "--lr", "0.005", "-f", "json").out)
    assert len(doc["runs"][0]["x"]) == 6 and doc["runs"][0]["status"] == "converged"


@pytest.mark.parametrize("ending", ["csv", "json"])
def test_trajectory_file(tmp_path, ending):
    path = tmp_path / f"t.{ending}"
    r = run("descend", "bowl", "--lr", "0.1", "--steps", "3", "--trajectory", str(path))
    assert r.code == 0 and f"wrote {path}" in r.err
    if ending == "csv":
        rows = list(csv.DictReader(path.open()))
        assert [float(rows[1]["x"]), float(rows[1]["y"])] == pytest.approx([2.4, 3.2])
        assert len(rows) == 4
    else:
        doc = json.loads(path.read_text())
        assert doc["runs"][0]["points"][1] == pytest.approx([2.4, 3.2])
        assert doc["runs"][0]["f"][0] == 25.0


@pytest.mark.parametrize(
    "extra, word",
    [
        (("--lr", "0"), "positive"),
        (("--lr", "-1"), "positive"),
        (("--lr", "nan"), "nan"),
        (("--lr", "inf"), "inf"),
        (("--lr", "0.1,,0.2"), "empty"),
        (("--steps", "0"), "--steps"),
        (("--steps", "100000000"), "--steps"),
        (("-o", "sgd"), "unknown optimizer"),
        (("--start", "1,2,3"), "coordinates"),
        (("--momentum", "1.5"), "momentum"),
        (("--eps", "0"), "eps"),
        (("--tol", "-1"), "tol"),
        (("--trajectory", "out.txt"), ".csv"),
        (("--dims", "3"), "dims"),
    ],
)
def test_bad_flags_are_exit_2(extra, word):
    assert_error(run("descend", "elongated", *extra), 2, word)


def test_unwritable_trajectory_is_exit_1(tmp_path):
    assert_error(run("descend", "bowl", "--trajectory", str(tmp_path / "no" / "t.csv")), 1, "does not exist")


def test_expression_without_start_is_exit_2():
    assert_error(run("descend", "x**2 + y**2"), 2, "start")


def test_closed_pipe_ends_quietly():
    p = subprocess.run(f"{sys.executable} -m gradlab descend elongated --lr 0.001,0.002,0.003,0.004,0.005 "
                       "--steps 10 | head -1", shell=True, capture_output=True, text=True, timeout=60)
    assert p.stdout.count("\n") == 1 and p.stderr == ""


def test_plots_of_many_rates_are_capped_and_say_so(tmp_path):
    from gradlab.descent.descend import MAX_PANELS

    lrs = ",".join(str(0.001 * k) for k in range(1, 41))
    out = tmp_path / "many.png"
    r = run("descend", "elongated", "--lr", lrs, "--steps", "5", "--plot", str(out), "--format", "plain")
    assert r.code == 0, r
    assert f"drawing {MAX_PANELS} of 40 (optimizer, lr) pairs" in r.err
    assert len(r.out.strip().splitlines()) == 40  # every run still in the output
    assert out.stat().st_size > 0


def test_newton_on_an_undefined_hessian_diverges_and_the_batch_goes_on():
    r = run("descend", "sqrt(x+y+z)", "--start", "-1,-1,-1", "--start", "1,2,3", "-o", "newton,gd",
            "--steps", "20", "--format", "json")
    assert r.code == 0, r
    runs = json.loads(r.out)["runs"]
    assert [x["status"] for x in runs if x["start"] == [-1.0, -1.0, -1.0]] == ["diverged", "diverged"]
    assert all(x["status"] != "diverged" or x["diverged_at"] > 0 for x in runs if x["start"] == [1.0, 2.0, 3.0])


def test_trajectory_of_too_many_iterates_is_refused(tmp_path):
    out = tmp_path / "t.csv"
    r = run("descend", "bowl", "--lr", "0.1,0.2,0.3,0.4", "--steps", "1000000", "--tol", "0",
            "--trajectory", str(out))
    assert_error(r, 2, "every iterate")
    assert not out.exists()


def test_tolerance_zero_is_accepted():
    r = run("descend", "bowl", "--tol", "0", "--steps", "3", "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["runs"][0]["steps"] == 3


def _stdin(*args: str, text: str):
    from typer.testing import CliRunner

    from gradlab.cli import app
    from tests.conftest import Run

    return Run(CliRunner().invoke(app, list(args), input=text))


def test_start_from_stdin_reports_a_bad_line_and_runs_the_others():
    r = _stdin("descend", "elongated", "--start", "-", "--lr", "0.01", text="-4,2\n1 1\nbad\n")
    assert r.code == 1, r  # as --at -: some input failed
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gradlab: error: ") and err[0].endswith("(line 3)")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [row[2:5] for row in rows] == [["-4.0", "2.0", "converged"], ["1.0", "1.0", "converged"]]


def test_start_from_stdin_for_an_expression_and_all_bad():
    # the expression's surface is built around the first start that reads
    r = _stdin("descend", "x**2 + y**2", "--start", "-", "--lr", "0.5", "-f", "json", text="1,2,3\n2,0\n")
    assert r.code == 1 and "(line 1)" in r.err
    [run_] = json.loads(r.out)["runs"]
    assert run_["start"] == [2.0, 0.0] and run_["steps"] == 1  # x ← (1 − 2·0.5)x = 0 in one step
    r = _stdin("descend", "elongated", "--start", "-", text="a\nb\n")
    assert r.code == 1 and r.out == "" and len(r.err.strip().splitlines()) == 2


def test_json_start_exact_and_nearest_minimum():
    doc = json.loads(run("descend", "himmelblau", "--start", "0.1,2", "--start", "-1,-1", "--steps", "2000",
                         "-f", "json").out)
    a, b = doc["runs"]
    assert a["start_exact"] == ["1/10", "2"] and b["start_exact"] == ["-1", "-1"]
    # Himmelblau's minima: (3, 2) and three others; each run names the one it ended at
    for r in doc["runs"]:
        assert math.dist(r["x"], r["nearest_minimum"]) == pytest.approx(r["distance_to_minimum"])
        assert r["distance_to_minimum"] < 1e-5
    assert a["nearest_minimum"] == [3.0, 2.0]
    doc = json.loads(run("descend", "elongated", "-f", "json").out)
    assert doc["runs"][0]["start_exact"] == ["-4", "2"]  # the surface's own start


def test_table_names_the_minimum_each_run_reached():
    r = run("descend", "himmelblau", "--start", "0,0", "--start", "-3,-1", "-f", "table", env={"COLUMNS": "80"})
    assert "minimum" in r.out and "m1 = (3, 2)" in " ".join(r.out.split())
    rows = {line.split()[0]: line.split()[-1] for line in r.out.splitlines() if line.strip().startswith("(") and "converged" in line}
    assert rows == {"(0,": "m1", "(-3,": "m3"}  # (−3.779, −3.283) is the third known minimum


def test_distance_to_minimum_is_finite_for_huge_finite_ends():
    # x = 1e299·(3, 4) after one tiny step: the distance to (0, 0) is 5e299, not inf
    doc = json.loads(run("descend", "elongated", "--start", "3e299,4e299", "--lr", "1e-30", "--steps", "1",
                         "-f", "json").out)
    assert doc["runs"][0]["distance_to_minimum"] == pytest.approx(5e299)


def test_undefined_start_is_said_so():
    r = run("descend", "log(x)", "--start", "-1", "-f", "table", env={"COLUMNS": "100"})
    text = " ".join(r.out.split())
    assert "diverged at step 0: f or ∇f is undefined" in text and "left ±1000" not in text


def test_trajectory_on_stdout_follows_the_format():
    doc = json.loads(run("descend", "elongated", "--lr", "0.01", "--steps", "2", "--trajectory", "-",
                         "-f", "json").out)
    pts = doc["runs"][0]["points"]
    assert pts[1] == pytest.approx([-4 * 0.98, 2 * 0.5])  # (1 − 2lr)x, (1 − 50lr)y
    assert run("descend", "elongated", "--steps", "2", "--trajectory", "-", "-f", "csv").out.startswith("run,")
    assert_error(run("descend", "elongated", "--trajectory", "-", "-f", "tsv"), 2, "--trajectory")
