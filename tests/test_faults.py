"""Numeric faults during runs, fuzzing of every command, and process behaviour."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gradlab.descent.descend import inline_surface, run_descent
from gradlab.calculus.parsing import FUNCTIONS, parse
from gradlab.descent.runs import Objective, RunSpec, descend
from tests.conftest import assert_contract, run


# --------------------------------------------------------------------- numeric faults
def test_overflow_is_divergence():
    obj = Objective(parse("exp(x)"))
    [r] = descend(obj, [RunSpec("gd", 1e6, (800.0,))], steps=20, tol=1e-9)
    assert r.status == "diverged"


def test_underflow_is_harmless():
    obj = Objective(parse("exp(-x**2)*0 + x**2/2"))
    [r] = descend(obj, [RunSpec("gd", 0.5, (1e-160,))], steps=20, tol=1e-300)
    assert r.status in ("converged", "max_steps") and np.isfinite(r.f)


def test_nan_in_the_middle_of_a_descent():
    obj = Objective(parse("sqrt(x) + (x - 2)**2"))  # undefined for x < 0
    [r] = descend(obj, [RunSpec("gd", 2.0, (1.0,))], steps=50, tol=1e-12)  # x: 1 → 4 → −4.5
    assert r.status == "diverged" and r.diverged_at is not None and r.diverged_at > 0


def test_newton_with_a_singular_hessian():
    # x**4 + y**2: H = diag(12x², 2) is singular on x = 0
    res = run_descent(inline_surface(parse("x**4 + y**2"), (0, 1)), ["newton"], [1.0], [(0, 1)], steps=20)
    [r] = res.runs
    assert r.status == "converged" and r.x == pytest.approx((0, 0), abs=1e-9)
    res = run_descent(inline_surface(parse("x**4 + y**2"), (1, 1)), ["newton"], [1.0], [(1, 1)], steps=200)
    assert np.all(np.isfinite(res.runs[0].x))


def test_plot_masks_where_f_is_undefined(tmp_path):
    out = tmp_path / "p.png"
    r = run("plot", "sqrt(x) + log(y)", "--window", "-2,2,-2,2", "--out", str(out), "--dpi", "30")
    assert r.code == 0 and out.exists()


def test_descend_where_f_is_undefined_is_divergence():
    # log(x) has a finite gradient 1/x at x = −1, but f itself is undefined there
    r = run("descend", "log(x) + y**2", "--start", "-1,1", "-f", "json")
    assert r.code == 0 and '"diverged_at": 0' in r.out and "undefined" in r.out


# --------------------------------------------------------------------- fuzzing
_tokens = st.sampled_from(
    ["x", "y", "z", "1", "0", "2.5", "1e3", "+", "-", "*", "/", "**", "^", "(", ")", ",", " ", "pi", "e",
     ".", "=", "[", "]", "__", "'", ":", "lambda", "nan", "inf", "9**9", *FUNCTIONS]
)
soup = st.lists(_tokens, min_size=0, max_size=20).map("".join)
COMMANDS = [
    lambda t: ("grad", t, "--at", "1,2,3", "--vars", "x,y,z"),
    lambda t: ("hessian", t),
    lambda t: ("eval", t, "--at", "x=1,y=2,z=3", "--vars", "x,y,z"),
    lambda t: ("jacobian", t, "--at", "0.5,0.5,0.5", "--vars", "x,y,z"),
    lambda t: ("explain", t, "--vars", "x,y,z"),
    lambda t: ("directional", t, "--at", "1,1,1", "--dir", "1,0,1", "--vars", "x,y,z"),
    lambda t: ("descend", t, "--start", "1,1,1", "--vars", "x,y,z", "--steps", "20"),
    lambda t: ("check", t, "--at", "1,2,3", "--vars", "x,y,z"),
    lambda t: ("eval", "x*y", "--at", t),
]


@pytest.mark.parametrize("make", COMMANDS, ids=[m("T")[0] + str(i) for i, m in enumerate(COMMANDS)])
@given(text=soup)
@settings(max_examples=int(os.environ.get("GRADLAB_FUZZ_EXAMPLES", "25")))
def test_every_command_keeps_the_error_contract_on_token_soup(make, text):
    assert_contract(run(*make(text)))


@given(st.text(max_size=60))
@settings(max_examples=int(os.environ.get("GRADLAB_FUZZ_EXAMPLES", "40")))
def test_arbitrary_text_keeps_the_contract(text):
    assert_contract(run("grad", "--", text))


@given(st.lists(st.sampled_from(["0", "-1", "1e-3", "nan", "inf", "1e309", "", ",", "1/0", "abc", "0.5", "1e400"]),
                min_size=1, max_size=4).map("".join))
@settings(max_examples=int(os.environ.get("GRADLAB_FUZZ_EXAMPLES", "40")))
def test_numeric_flags_keep_theassert_contract(text):
    assert_contract(run("descend", "bowl", "--lr", text, "--steps", "5"))
    assert_contract(run("sweep", "bowl", "--lr-min", "1e-3", "--lr-max", text.split(",")[0] or "x", "--num", "3",
                  "--steps", "5"))


# --------------------------------------------------------------------- process behaviour
def test_ctrl_c_during_a_long_sweep(tmp_path):
    out = tmp_path / "s.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradlab", "sweep", "rosenbrock-nd", "--dims", "20", "--num", "1000",
         "--steps", "100000", "--lr-min", "1e-5", "--lr-max", "1e-3", "--plot", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)  # past start-up, into the sweep's loop
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stdout == "" and stderr.strip() == "gradlab: error: interrupted"
    assert list(tmp_path.iterdir()) == []  # no partial plot, no temporary file


def test_closed_pipe_is_quiet():
    p = subprocess.run(f"{sys.executable} -m gradlab sweep elongated --num 200 | head -1", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert p.stdout.count("\n") == 1 and p.stderr == ""


def test_existing_trajectory_survives_a_failed_write(tmp_path, monkeypatch):
    from gradlab import files
    from gradlab.errors import WriteFailed

    target = tmp_path / "t.csv"
    target.write_text("old")
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(WriteFailed, match="No space"):
        files.atomic_write(str(target), lambda fh: fh.write(b"new"))
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]
