"""Learning-rate schedules: optax's formulas, checked against the formulas written out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradlab.errors import BadInput
from gradlab.descent.schedules import parse_schedule

LR = 0.3
T = 1000  # the run's steps: the default decay_steps


def cosine(t, init, D, alpha=0.0, p=1.0):
    t = min(t, D)
    return init * ((1 - alpha) * (0.5 * (1 + math.cos(math.pi * t / D))) ** p + alpha)


# (spec, t, value by hand)
CASES = [
    ("constant", 0, LR), ("constant", 500, LR), ("constant", T, LR),
    ("exponential:decay_rate=0.5,transition_steps=100", 0, LR),
    ("exponential:decay_rate=0.5,transition_steps=100", 150, LR * 0.5 ** 1.5),
    ("exponential:decay_rate=0.5,transition_steps=100", T, LR * 0.5 ** 10),
    ("exponential:decay_rate=0.5,transition_steps=100,transition_begin=50", 40, LR),
    ("exponential:decay_rate=0.5,transition_steps=100,transition_begin=50", 250, LR * 0.5 ** 2),
    ("exponential:decay_rate=0.5,transition_steps=100,end_value=0.01", T, 0.01),
    ("exponential:decay_rate=0.99", 7, LR * 0.99 ** 7),
    ("step:decay_rate=0.1,transition_steps=300", 0, LR),
    ("step:decay_rate=0.1,transition_steps=300", 299, LR),
    ("step:decay_rate=0.1,transition_steps=300", 300, LR * 0.1),
    ("step:decay_rate=0.1,transition_steps=300", T, LR * 0.1 ** 3),
    ("cosine", 0, LR), ("cosine", 250, LR * 0.5 * (1 + math.cos(math.pi / 4))), ("cosine", T, 0.0),
    ("cosine", 2 * T, 0.0),
    ("cosine:decay_steps=400,alpha=0.1", 100, cosine(100, LR, 400, 0.1)),
    ("cosine:decay_steps=400,alpha=0.1", 400, LR * 0.1),
    ("cosine:decay_steps=400,exponent=2", 100, cosine(100, LR, 400, 0.0, 2.0)),
    # warm-up: linear from init_value to the peak (lr) over W steps; then cosine over D − W
    ("warmup-cosine:warmup_steps=100", 0, 0.0),
    ("warmup-cosine:warmup_steps=100", 25, LR * 25 / 100),
    ("warmup-cosine:warmup_steps=100", 100, LR),
    ("warmup-cosine:warmup_steps=100", 100 + 450, LR * 0.5 * (1 + math.cos(math.pi * 450 / 900))),
    ("warmup-cosine:warmup_steps=100", T, 0.0),
    ("warmup-cosine:warmup_steps=100,init_value=0.1,end_value=0.05", 50, 0.1 + (LR - 0.1) * 50 / 100),
    ("warmup-cosine:warmup_steps=100,init_value=0.1,end_value=0.05", T, 0.05),
    ("warmup-cosine:warmup_steps=100,decay_steps=500,end_value=0.05", 300,
     LR * ((1 - 0.05 / LR) * 0.5 * (1 + math.cos(math.pi * 200 / 400)) + 0.05 / LR)),
]


@pytest.mark.parametrize("spec, t, expected", CASES)
def test_value_matches_the_formula(spec, t, expected):
    assert parse_schedule(spec, T).value(LR, t) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@given(st.integers(0, 3 * T))
def test_multipliers_are_values_over_lr(t):
    s = parse_schedule("warmup-cosine:warmup_steps=10,decay_steps=200", T)
    assert s.multipliers(LR, 3 * T + 1)[t] * LR == pytest.approx(s.value(LR, t), rel=1e-12, abs=1e-15)


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_decays_never_increase(a, b):
    for spec in ("exponential:decay_rate=0.9,transition_steps=7", "step:decay_rate=0.5,transition_steps=50",
                 "cosine:decay_steps=3000"):
        s = parse_schedule(spec, T)
        lo, hi = sorted((a, b))
        assert s.value(LR, hi) <= s.value(LR, lo)


@pytest.mark.parametrize("spec, words", [
    ("linear", "unknown schedule"),
    ("exponential", "needs decay_rate"),
    ("step:decay_rate=0.5", "needs transition_steps"),
    ("warmup-cosine", "needs warmup_steps"),
    ("cosine:alpha=2", "from 0 to 1"),
    ("cosine:decay_steps=0", "whole number from 1"),
    ("cosine:decay_steps=2.5", "whole number"),
    ("exponential:decay_rate=-1", "positive"),
    ("cosine:beta=1", "no parameter 'beta'"),
    ("cosine:alpha", "param=value"),
    ("cosine:alpha=0.1,alpha=0.2", "twice"),
    ("cosine:alpha=nan", "alpha"),
    ("warmup-cosine:warmup_steps=2000", "must not exceed decay_steps"),
    ("exponential:decay_rate=__import__('os')", "decay_rate"),
])
def test_bad_specs_say_why(spec, words):
    with pytest.raises(BadInput) as e:
        parse_schedule(spec, T)
    assert words in str(e.value)


@given(st.text(max_size=80))
def test_any_text_is_a_schedule_or_a_bad_input(text):
    from gradlab.errors import GradlabError

    try:
        s = parse_schedule(text, T)
    except GradlabError:
        return
    assert s.name in ("constant", "exponential", "step", "cosine", "warmup-cosine")


@given(st.text(alphabet="0123456789.:-/e, x", max_size=30))
def test_any_text_is_a_range_or_seeds_or_a_bad_input(text):
    from gradlab.errors import GradlabError
    from gradlab.descent.stability import parse_range
    from gradlab.descent.training import parse_seeds

    for parse in (lambda t: parse_range(t, "--lr", 0.0), parse_seeds):
        try:
            parse(text)
        except GradlabError:
            pass
