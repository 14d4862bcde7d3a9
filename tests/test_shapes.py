"""Shaped variables: declarations, components and values."""

from __future__ import annotations

import json

import pytest
import sympy

from gradlab.errors import BadInput, LimitExceeded
from gradlab.calculus.shapes import (MAX_COMPONENTS, components, nest, parse_shape, parse_shapes, parse_values,
                            point_values, seeded_values)

R = sympy.Rational


@pytest.mark.parametrize("text, shape", [("3x4", (3, 4)), ("4", (4,)), ("1", ()), ("scalar", ()), ("2 x 5", (2, 5))])
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["0", "3x0", "x", "3x4x5", "-2", "3.5"])
def test_bad_shape(text):
    with pytest.raises(BadInput):
        parse_shape(text)


def test_limit_refused_before_building():
    with pytest.raises(LimitExceeded, match=str(MAX_COMPONENTS)):
        parse_shapes("W=100x101")
    with pytest.raises(LimitExceeded):
        parse_shapes("A=100x60,B=100x60")  # each fits, together they do not


def test_components_are_row_major():
    assert [s.name for s in components("W", (2, 2))] == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]"]
    assert nest(list(range(6)), (3, 2)) == [[0, 1], [2, 3], [4, 5]]
    assert nest([7], ()) == 7


def test_bracketed_values_are_exact():
    v = parse_values("W=[[1,2],[0.1,-1/2]],x=[1e-3, pi]", {"W": (2, 2), "x": (2,)})
    assert v["W"] == (1, 2, R(1, 10), R(-1, 2))
    assert v["x"] == (R(1, 1000), sympy.pi)


@pytest.mark.parametrize("text, words", [
    ("W=[[1,2],[3]]", ["ragged"]),
    ("W=[1,2,3,4]", ["shape 4", "2×2"]),
    ("W=[[1,2],[3,4]],W=[[1,2],[3,4]]", ["twice"]),
    ("Q=1", ["not a variable"]),
    ("W=[[1,2],[3,x]]", ["unknown name"]),
    ("W=[[1,2],[3,__import__]]", ["name"]),
])
def test_bad_values(text, words):
    with pytest.raises(BadInput) as err:
        parse_values(text, {"W": (2, 2)})
    for w in words:
        assert w in str(err.value)


def test_seed_is_reproducible_and_normal():
    a = seeded_values(11, {"W": (30, 30)})["W"]
    assert a == seeded_values(11, {"W": (30, 30)})["W"]
    xs = [float(v) for v in a]
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    assert abs(mean) < 0.15 and 0.8 < var < 1.2  # 900 standard-normal draws
    assert all(v.q in (1, 2, 4, 5, 10, 20, 25, 50, 100) for v in a)  # two decimals, exact


def test_at_overrides_seed_and_json_file(tmp_path):
    shapes = {"x": (2,), "c": ()}
    p = point_values("c=3", 0, shapes)
    assert p["c"] == (3,) and p["x"] == seeded_values(0, shapes)["x"]
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"x": [0.1, 2], "c": "1/3"}))
    assert point_values(str(f), None, shapes) == {"x": (R(1, 10), 2), "c": (R(1, 3),)}
    f.write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        point_values(str(f), None, shapes)
    with pytest.raises(BadInput, match="no value for x"):
        point_values("c=1", None, shapes)
