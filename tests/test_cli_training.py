"""The training-dynamics options through the CLI: output contracts, plots, and bad specs (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import assert_error, run


def test_minibatch_descend_json():
    doc = json.loads(run("descend", "linear-regression", "--batch-size", "2", "--seed", "4", "--epochs", "5",
                         "--lr", "0.01", "-f", "json").out)
    [rec] = doc["runs"]
    assert doc["training"]["batch_size"] == 2 and doc["training"]["rows"] == 6 and doc["training"]["seed"] == 4
    assert doc["training"]["batches_per_epoch"] == 3 and rec["steps"] == 15
    assert len(rec["batch_loss"]) == 15 and len(rec["epoch_loss"]) == 6


def test_same_seed_same_output_different_seed_different():
    args = ("descend", "logistic-regression", "--batch-size", "3", "--steps", "50", "-f", "plain")
    a, b, c = run(*args, "--seed", "1"), run(*args, "--seed", "1"), run(*args, "--seed", "2")
    assert a.code == 0 and a.out == b.out and a.out != c.out


def test_schedule_json_and_lr_curve(tmp_path):
    out = tmp_path / "loss.png"
    r = run("descend", "elongated", "--schedule", "cosine:decay_steps=100", "--steps", "100", "-o", "gd,adam",
            "--lr", "0.03", "--loss-plot", str(out), "-f", "json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["training"]["schedule"] == {"name": "cosine", "optax": "optax.cosine_decay_schedule",
                                           "decay_steps": 100, "alpha": 0.0, "exponent": 1.0}
    for rec in doc["runs"]:
        assert rec["lr_per_step"][0] == 0.03 and rec["lr_per_step"][50] == pytest.approx(0.015)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in r.err


def test_line_search_records_every_alpha():
    doc = json.loads(run("descend", "elongated", "--line-search", "armijo", "--lr", "1", "-f", "json").out)
    [rec] = doc["runs"]
    assert rec["status"] == "converged" and len(rec["lr_per_step"]) == rec["steps"]
    # backtracking from lr = 1: every accepted step is at most the first trial
    assert all(0 < a <= 1 for a in rec["lr_per_step"])


def test_bfgs_and_lbfgs_plain():
    r = run("descend", "rosenbrock", "-o", "bfgs,lbfgs", "-f", "plain")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[4]) for row in rows] == [("bfgs", "converged"), ("lbfgs", "converged")]
    assert int(rows[0][5]) <= 40


def test_sharpness_table_note():
    r = run("descend", "elongated", "--sharpness", "--lr", "0.03", "-f", "table")
    text = " ".join(r.out.split())
    assert r.code == 0 and "sharpness λmax(H) from 50 to 50" in text and "2/lr = 66.67" in text


def test_stability_map_command(tmp_path):
    out = tmp_path / "map.png"
    r = run("sweep", "elongated", "-o", "momentum", "--lr", "0.0105:0.0995:90", "--momentum", "0:0.9:10",
            "--plot", str(out), "-f", "json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["kind"] == "stability_map" and len(doc["lrs"]) == 90 and len(doc["betas"]) == 10
    for beta, edge in zip(doc["betas"], doc["edge"]):
        assert 2 * (1 + beta) / 50 - 0.001 - 1e-12 <= edge <= 2 * (1 + beta) / 50
    assert out.stat().st_size > 10_000


def test_minibatch_sweep_spread():
    doc = json.loads(run("sweep", "linear-regression", "--batch-size", "2", "--seeds", "3", "--lr", "0.001:0.1:5",
                         "--steps", "200", "-f", "json").out)
    assert doc["kind"] == "mini_batch" and doc["seeds"] == [0, 1, 2]
    for row in doc["lrs"]:
        finite = [v for v in row["final_f"] if v is not None]
        if finite:
            assert row["min_f"] == min(finite) and row["max_f"] == max(finite)


def test_taylor_plain_and_plot(tmp_path):
    out = tmp_path / "t.png"
    r = run("taylor", "x**2 + 25*y**2", "--at", "1,1", "--lr", "0.02", "--plot", str(out))
    assert r.code == 0, r
    lines = dict(line.split("\t", 1) for line in r.out.splitlines())
    assert lines["m₂ = m₁ + ½hᵀHh"].split("\t")[0] == "x**2 + 25*y**2"
    assert lines["safe step 2‖g‖²/gᵀHg"].split("\t")[0] == "313/7813"
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, words", [
    (("descend", "elongated", "--schedule", "linear"), ["unknown schedule"]),
    (("descend", "elongated", "--schedule", "cosine:alpha=2"), ["alpha", "from 0 to 1"]),
    (("descend", "elongated", "--schedule", "exponential"), ["needs decay_rate"]),
    (("descend", "elongated", "--schedule", "warmup-cosine:warmup_steps=5000"), ["warmup_steps"]),
    (("descend", "linear-regression", "--batch-size", "0"), ["batch size", "positive"]),
    (("descend", "linear-regression", "--batch-size", "7"), ["from 1 to 6"]),
    (("descend", "elongated", "--batch-size", "2"), ["data"]),
    (("descend", "linear-regression", "--seed", "3"), ["--batch-size"]),
    (("descend", "linear-regression", "--batch-size", "2", "--seed", "-1"), ["seed"]),
    (("descend", "linear-regression", "--epochs", "3", "--steps", "10"), ["not both"]),
    (("descend", "linear-regression", "--epochs", "0"), ["--epochs"]),
    (("descend", "elongated", "--epochs", "3"), ["pass over the data"]),
    (("descend", "elongated", "--line-search", "exact"), ["unknown line search"]),
    (("descend", "elongated", "--line-search", "armijo", "-o", "adam"), ["descent direction"]),
    (("descend", "elongated", "-o", "bfgs,bfgs"), ["twice"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "0.1:0.01", "--momentum", "0:0.9"), ["smaller to a larger"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "a:b", "--momentum", "0:0.9"), ["--lr"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "0.01", "--momentum", "0:0.9"), ["range"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "0.01:0.1", "--momentum", "0:1"), ["below 1"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "0.01:0.1", "--momentum", "0.5:0.2"), ["smaller to a larger"]),
    (("sweep", "elongated", "-o", "momentum", "--momentum", "0:0.9"), ["needs the rates"]),
    (("sweep", "elongated", "-o", "gd", "--lr", "0.01:0.1", "--momentum", "0:0.9"), ["momentum or nesterov"]),
    (("sweep", "elongated", "-o", "momentum", "--lr", "0.01:0.1:1", "--momentum", "0:0.9"), ["from 2 to 1000"]),
    (("sweep", "linear-regression", "--batch-size", "2", "--seeds", "x"), ["count of seeds"]),
    (("sweep", "linear-regression", "--batch-size", "9"), ["from 1 to 6"]),
    (("sweep", "elongated", "--epochs", "3"), ["--batch-size"]),
    (("sweep", "elongated", "--lr", "0.01:0.1", "--lr-min", "0.001"), ["not both"]),
    (("taylor", "x**2", "--at", "1", "--order", "3"), ["order"]),
    (("taylor", "x**2"), ["point"]),
    (("taylor", "x**2", "--at", "1", "--plot", "t.png", "--tol", "-1"), ["--tol"]),
])
def test_bad_specs_exit_2_with_the_reason(args, words):
    assert_error(run(*args), 2, *words)


def test_taylor_undefined_point_exits_1():
    assert_error(run("taylor", "log(x)", "--at", "0"), 1, "undefined")


def test_scipy_is_not_imported_at_start_up():
    code = ("import sys; from gradlab.cli import app; from typer.testing import CliRunner; "
            "CliRunner().invoke(app, ['descend', 'elongated', '--line-search', 'armijo']); "
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
