"""Stability maps and sharpness: the measured edge against 2(1 + β)/λmax."""

from __future__ import annotations

import numpy as np
import pytest

from gradlab.errors import BadInput
from gradlab.calculus.parsing import parse
from gradlab.descent.runs import Objective
from gradlab.descent.stability import parse_range, sharpness_along, stability_map
from gradlab.surfaces import builtin

ELONGATED = builtin()["elongated"]
LAMBDA_MAX = 50.0  # x² + 25y²: H = diag(2, 50)


@pytest.fixture(scope="module")
def the_map():
    # rates 0.0105, 0.0115, …: the theory's edges 0.04, 0.06, 0.076 fall between grid points
    return stability_map(ELONGATED, "momentum", (0.0105, 0.0995), (0.0, 0.9), num_lr=90, num_beta=10, steps=1000)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_measured_edge_matches_theory_within_the_grid(the_map, beta):
    i = int(np.argmin(np.abs(np.array(the_map.betas) - beta)))
    b = the_map.betas[i]
    assert b == pytest.approx(beta, abs=1e-12)
    theory = 2 * (1 + b) / LAMBDA_MAX
    step = the_map.lrs[1] - the_map.lrs[0]
    assert the_map.theory_edge[i] == pytest.approx(theory, rel=1e-12)
    assert theory - step <= the_map.edge[i] <= theory


def test_map_marks_polyaks_optimum_and_the_fastest_cell_near_it(the_map):
    lr_opt = 4 / (np.sqrt(50) + np.sqrt(2)) ** 2
    beta_opt = ((np.sqrt(25) - 1) / (np.sqrt(25) + 1)) ** 2
    assert the_map.optimal == pytest.approx((lr_opt, beta_opt), rel=1e-12)
    assert the_map.lambda_max == pytest.approx(50.0) and the_map.lambda_min == pytest.approx(2.0)
    # the fastest measured cell lies near Polyak's optimum (rate (√κ − 1)/(√κ + 1) = 2/3)
    assert the_map.best[0] == pytest.approx(lr_opt, rel=0.15)
    assert the_map.best[1] == pytest.approx(beta_opt, abs=0.15)


def test_measured_rate_is_the_spectral_radius_for_gd():
    """β = 0 is gd: the error along each eigenvector shrinks by |1 − lr·λ|, so the
    measured rate is max(|1 − 2lr|, |1 − 50lr|) up to the start's transient."""
    m = stability_map(ELONGATED, "momentum", (0.005, 0.035), (0.0, 0.5), num_lr=7, num_beta=2, steps=3000)
    for j, lr in enumerate(m.lrs):
        rho = max(abs(1 - 2 * lr), abs(1 - 50 * lr))
        assert m.rate[0, j] == pytest.approx(rho, abs=0.01)


def test_sharpness_is_the_top_eigenvalue():
    obj = Objective(parse("x**4 + y**2"))
    steps, lam = sharpness_along(obj, np.array([[1.0, 0.0], [0.5, 3.0], [0.0, 1.0]]))
    assert steps.tolist() == [0, 1, 2] and lam.tolist() == [12.0, 3.0, 2.0]  # max(12x², 2)


@pytest.mark.parametrize("text, words", [
    ("0.1:0.01", "smaller to a larger"), ("a:b", "unknown name"), ("1", "range A:B"), ("0.1:0.2:1", "from 2 to 1000"),
    ("0.1:0.2:x", "whole number"), ("0.1::0.2", "range"), ("-1:1", "start at 0"),
])
def test_bad_ranges_say_why(text, words):
    with pytest.raises(BadInput) as e:
        parse_range(text, "--lr", 0.0)
    assert words in str(e.value)


def test_map_refuses_bad_settings():
    with pytest.raises(BadInput, match="momentum or nesterov"):
        stability_map(ELONGATED, "adam", (0.01, 0.1), (0.0, 0.9))
    with pytest.raises(BadInput, match=r"\[0, 1\)"):
        stability_map(ELONGATED, "momentum", (0.01, 0.1), (0.5, 1.0))


def test_map_on_a_slope_with_no_curvature_has_no_stable_cell():
    # −x + y²: heavy ball moves x by ever more (x_k → +∞, f → −∞) at every (lr, β), while
    # y settles iff lr·2 < 2(1 + β); so no cell is stable, and the grid says why
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface

    s = inline_surface(parse("-x + y**2"), [1, 1])
    m = stability_map(s, "momentum", (0.01, 0.5), (0.0, 0.5), num_lr=4, num_beta=2, steps=400)
    assert m.edge == (None, None)
    assert (m.verdict == "unbounded").all()  # every rate here is below 1 + β: no run diverges
    assert m.to_record()["verdict"] == [["unbounded"] * 4] * 2
    assert any("slope" in n for n in m.view().notes)
    # the elongated bowl keeps its cells settling or converged
    e = stability_map(ELONGATED, "momentum", (0.01, 0.03), (0.0, 0.5), num_lr=3, num_beta=2, steps=400)
    assert set(e.verdict.ravel()) <= {"converged", "settling"}
