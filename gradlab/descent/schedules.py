"""Learning-rate schedules with optax's formulas and parameter names.

A schedule maps the update count t = 0, 1, 2, … to the learning rate used for update t
(optax counts the same way: the first update uses ``schedule(0)``). The run's ``--lr``
is the schedule's scale: optax's ``init_value`` for ``constant``, ``exponential``,
``step`` and ``cosine``, and its ``peak_value`` for ``warmup-cosine``. So a schedule is
stored as a *multiplier* m(t) = schedule(t)/lr, the same for every run of a batch, and a
run with rate lr takes the step its optimizer would take at rate lr·m(t).

===============  ===============================================  =====================================
``--schedule``   optax                                            lr at update t
===============  ===============================================  =====================================
constant         ``constant_schedule(value)``                     lr
exponential      ``exponential_decay(init_value, transition_      lr·decay_rate^((t − b)/T) for t > b,
                 steps, decay_rate, transition_begin,             lr for t ≤ b; clipped at end_value
                 staircase=False, end_value)``
step             ``exponential_decay(..., staircase=True)``       lr·decay_rate^⌊(t − b)/T⌋
cosine           ``cosine_decay_schedule(init_value,              lr·((1 − alpha)·c^exponent + alpha),
                 decay_steps, alpha, exponent)``                  c = ½(1 + cos(π·min(t, D)/D))
warmup-cosine    ``warmup_cosine_decay_schedule(init_value,       linear from init_value to lr over W
                 peak_value, warmup_steps, decay_steps,           steps, then cosine from lr to
                 end_value, exponent)``                           end_value over D − W steps
===============  ===============================================  =====================================

>>> s = parse_schedule("cosine:decay_steps=100", steps=100)
>>> s.value(0.5, 0), s.value(0.5, 50), s.value(0.5, 100)
(0.5, 0.25, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradlab.errors import BadInput

#: The schedules, each with its parameters: (name, kind, default). A default of None
#: means the parameter is required; "steps" means the run's number of steps.
PARAMS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "constant": (),
    "exponential": (("decay_rate", "rate", None), ("transition_steps", "count", 1),
                    ("transition_begin", "count0", 0), ("end_value", "value", None)),
    "step": (("decay_rate", "rate", None), ("transition_steps", "count", None),
             ("transition_begin", "count0", 0), ("end_value", "value", None)),
    "cosine": (("decay_steps", "count", "steps"), ("alpha", "fraction", 0.0), ("exponent", "positive", 1.0)),
    "warmup-cosine": (("warmup_steps", "count0", None), ("decay_steps", "count", "steps"),
                      ("init_value", "value", 0.0), ("end_value", "value", 0.0),
                      ("exponent", "positive", 1.0)),
}
NAMES = tuple(PARAMS)
OPTAX = {
    "constant": "optax.constant_schedule",
    "exponential": "optax.exponential_decay",
    "step": "optax.exponential_decay(staircase=True)",
    "cosine": "optax.cosine_decay_schedule",
    "warmup-cosine": "optax.warmup_cosine_decay_schedule",
}
MAX_COUNT = 10_000_000


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: its ``name`` (one of :data:`NAMES`) and optax's
    parameters in ``params`` (counts as ints, the rest as floats; ``None`` = not set).

    ``value(lr, t)`` is the learning rate for update ``t`` of a run whose ``--lr`` is lr.
    """

    name: str
    params: dict = field(default_factory=dict)

    def value(self, lr: float, t: int | np.ndarray) -> float | np.ndarray:
        """The learning rate at update count ``t`` (a number or an array of counts)."""
        p, name = self.params, self.name
        t_arr = np.asarray(t, dtype=float)
        if name == "constant":
            out = np.full_like(t_arr, lr)
        elif name in ("exponential", "step"):
            out = _exponential(lr, t_arr, p["transition_steps"], p["decay_rate"], p["transition_begin"],
                               name == "step", p["end_value"])
        elif name == "cosine":
            out = _cosine(lr, t_arr, p["decay_steps"], p["alpha"], p["exponent"])
        else:  # warmup-cosine: optax joins a linear warm-up and a cosine decay at warmup_steps
            w, d = p["warmup_steps"], p["decay_steps"]
            alpha = 0.0 if lr == 0 else p["end_value"] / lr
            warm = _linear(p["init_value"], lr, t_arr, w)
            decay = _cosine(lr, t_arr - w, d - w, alpha, p["exponent"]) if d > w else np.full_like(t_arr, lr * alpha)
            out = np.where(t_arr < w, warm, decay)
        return float(out) if np.ndim(t) == 0 else out

    def multipliers(self, lr: float, steps: int) -> np.ndarray:
        """schedule(t)/lr for t = 0 … steps − 1."""
        return self.value(lr, np.arange(steps)) / lr

    def describe(self) -> str:
        """``cosine(decay_steps=100, alpha=0)``: the schedule as the user would write it."""
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items() if v is not None)
        return f"{self.name}({args})" if args else self.name

    def to_record(self) -> dict[str, Any]:
        return {"name": self.name, "optax": OPTAX[self.name], **self.params}


def _exponential(init: float, t: np.ndarray, transition_steps: int, decay_rate: float, begin: int,
                 staircase: bool, end_value: float | None) -> np.ndarray:
    decreased = t - begin
    p = decreased / transition_steps
    if staircase:
        p = np.floor(p)
    with np.errstate(over="ignore", under="ignore"):
        out = np.where(decreased <= 0, init, init * np.power(decay_rate, p))
    if end_value is not None:
        out = np.maximum(out, end_value) if decay_rate < 1 else np.minimum(out, end_value)
    return out


def _cosine(init: float, t: np.ndarray, decay_steps: int, alpha: float, exponent: float) -> np.ndarray:
    count = np.minimum(np.maximum(t, 0), decay_steps)
    c = 0.5 * (1 + np.cos(np.pi * count / decay_steps))
    return init * ((1 - alpha) * c**exponent + alpha)


def _linear(init: float, end: float, t: np.ndarray, steps: int) -> np.ndarray:
    if steps <= 0:
        return np.full_like(t, init)
    count = np.clip(t, 0, steps)
    return (init - end) * (1 - count / steps) + end


def _number(text: str, where: str) -> float:
    from gradlab.calculus.parsing import parse_number

    try:
        value = float(parse_number(text.strip(), where))
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{text!r} is not a real number", where) from None
    if not math.isfinite(value):
        raise BadInput(f"{text!r} is not a finite number", where)
    return value


def parse_schedule(text: str, steps: int, where: str = "--schedule") -> Schedule:
    """Read ``NAME`` or ``NAME:param=value,param=value`` (optax's parameter names).

    ``steps`` is the run's number of updates (the default ``decay_steps``). Every
    mistake is a :class:`BadInput` that says what is wrong.

    >>> parse_schedule("step:decay_rate=0.5,transition_steps=100", 1000).describe()
    'step(decay_rate=0.5, transition_steps=100, transition_begin=0)'
    """
    text = (text or "").strip()
    name, _, rest = text.partition(":")
    name = name.strip().lower().replace("_", "-")
    if name not in PARAMS:
        raise BadInput(f"unknown schedule {name!r} (choose from {', '.join(NAMES)})", where)
    spec = {k: (kind, default) for k, kind, default in PARAMS[name]}
    given: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not value.strip():
            raise BadInput(f"{part!r} must be param=value", where)
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise BadInput(f"{name} has no parameter {key!r} (its parameters: {known})", where)
        if key in given:
            raise BadInput(f"{key} is given twice", where)
        given[key] = value
    params: dict[str, Any] = {}
    for key, (kind, default) in spec.items():
        if key not in given:
            if default is None and kind != "value":
                raise BadInput(f"{name} needs {key} (e.g. --schedule {_example(name)})", where)
            params[key] = steps if default == "steps" else default
            continue
        v = _number(given[key], f"{where} {key}")
        if kind in ("count", "count0"):
            if v != int(v) or not (v >= (1 if kind == "count" else 0)) or v > MAX_COUNT:
                low = 1 if kind == "count" else 0
                raise BadInput(f"{key} must be a whole number from {low} to {MAX_COUNT}, got {given[key]}", where)
            v = int(v)
        elif kind == "rate" and not v > 0:
            raise BadInput(f"{key} must be positive, got {given[key]}", where)
        elif kind == "fraction" and not 0 <= v <= 1:
            raise BadInput(f"{key} must be from 0 to 1, got {given[key]}", where)
        elif kind == "positive" and not v > 0:
            raise BadInput(f"{key} must be positive, got {given[key]}", where)
        elif kind == "value" and v < 0:
            raise BadInput(f"{key} must not be negative, got {given[key]}", where)
        params[key] = v
    if name == "warmup-cosine" and params["warmup_steps"] > params["decay_steps"]:
        raise BadInput(f"warmup_steps ({params['warmup_steps']}) must not exceed decay_steps "
                       f"({params['decay_steps']}), which includes the warm-up", where)
    return Schedule(name, params)


def _example(name: str) -> str:
    return {"exponential": "exponential:decay_rate=0.99",
            "step": "step:decay_rate=0.5,transition_steps=100",
            "warmup-cosine": "warmup-cosine:warmup_steps=50"}.get(name, name)
