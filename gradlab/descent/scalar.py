"""One run of a first-order optimizer on Python floats: a generated loop, ∇f and f inlined.

The array engine (:mod:`gradlab.descent.runs`) pays numpy's per-call cost on ``(n, 1)``
arrays at every step; for a single run, a loop written for this surface and this
optimizer on Python floats makes the same steps in a fraction of the time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from gradlab.calculus import numeric

if TYPE_CHECKING:
    from gradlab.descent.runs import Objective

#: Optimizers whose single runs take the Python-float path (Newton needs linear algebra).
SCALAR_OPTIMIZERS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
SCALAR_MAX_N = 64

# The update of each optimizer on one coordinate, in exactly the operations (and order)
# of optimizers.py, so the float path and the array path give the same bits.
_UPDATES = {
    "gd": ["x{i} = x{i} + na * g{i}"],
    "momentum": ["s{i} = beta * s{i} + g{i}", "x{i} = x{i} + -a * s{i}"],
    "nesterov": ["s{i} = beta * s{i} + g{i}", "x{i} = x{i} + -a * (beta * s{i} + g{i})"],
    "adagrad": ["s{i} = s{i} + g{i} * g{i}", "x{i} = x{i} + -a * g{i} / (sqrt(s{i}) + eps)"],
    "rmsprop": ["s{i} = decay * s{i} + (1 - decay) * g{i} * g{i}", "x{i} = x{i} + -a * g{i} / (sqrt(s{i}) + eps)"],
    "adam": ["s{i} = beta1 * s{i} + (1 - beta1) * g{i}", "u{i} = beta2 * u{i} + (1 - beta2) * g{i} * g{i}",
             "x{i} = x{i} + -a * (s{i} / c1) / (sqrt(u{i} / c2) + eps)"],
}


def _body(variables, exprs, prefix: str, names: list[str]) -> tuple[list[str], dict]:
    """Straight-line Python for ``names = exprs`` (CSE temporaries ``prefix0, …``), the
    code lambdify_scalar makes, with the variables as ``x0, x1, …``."""
    import inspect

    import sympy

    args, renamed, _ = numeric._safe(variables, exprs)
    fn = sympy.lambdify(args, renamed, modules=[numeric._MATH_FUNCS, "math"],
                        cse=lambda es: sympy.cse(es, symbols=sympy.numbered_symbols(prefix)), dummify=False)
    lines = inspect.getsource(fn).splitlines()[1:]
    ret = lines[-1].strip()
    assert ret.startswith("return [") and ret.endswith("]")
    body = [ln.strip() for ln in lines[:-1]]
    body.append(f"{', '.join(names)}, = ({ret[len('return ['):-1]},)")
    out = []
    for ln in body:  # the variables' own names: _v3 → x3 (longest first: _v12 before _v1)
        for k in range(len(variables) - 1, -1, -1):
            ln = ln.replace(f"_v{k}", f"x{k}")
        out.append(ln)
    return out, fn.__globals__


def scalar_loop(objective: Objective, optimizer: str) -> Callable:
    """A generated loop for one run of ``optimizer`` on Python floats, with ∇f and f
    inlined (common subexpressions shared), the stop tests at every step.

    ``loop(x, steps, tol, bound, hyper) -> (status, k, x, gn)`` with status
    ``converged``, ``diverged``, ``max_steps``, or ``None`` when something needs the array
    engine's care (a math error where numpy gives inf/nan, a norm that under- or
    overflows when squared): the caller then runs the array engine, which the loop
    matches step for step.
    """
    key = ("_scalar", optimizer)
    cache = objective.__dict__.setdefault("_loops", {})
    if key in cache:
        return cache[key]
    n = objective.n
    xs = [f"x{i}" for i in range(n)]
    gs = [f"g{i}" for i in range(n)]
    gbody, namespace = _body(objective.variables, objective.gradient_exprs, "_c", gs)
    fbody, _ = _body(objective.variables, [objective.parsed.expr], "_e", ["fv"])
    upd = [ln.format(i=i) for i in range(n) for ln in _UPDATES[optimizer]]
    state = [f"s{i} = 0.0" for i in range(n)] + ([f"u{i} = 0.0" for i in range(n)] if optimizer == "adam" else [])
    xt = f"({', '.join(xs)},)"
    test = [  # the stop tests at x_k; the common case costs one chained comparison
        f"            gn2 = {' + '.join(f'{g} * {g}' for g in gs)}",
        "            if not lo <= gn2 < inf:",
        "                if not 1e-290 < gn2 < inf:",
        "                    return None, k, None, None  # the array engine's exact norms decide",
        "                if sqrt(gn2) < tol and fv - fv == 0.0 and " + " and ".join(f"nb <= {x} <= bound" for x in xs) + ":",
        f"                    return 'converged', k, {xt}, sqrt(gn2)",
        "            if not (fv - fv == 0.0 and " + " and ".join(f"nb <= {x} <= bound" for x in xs) + "):",
        f"                return 'diverged', k, {xt}, sqrt(gn2)",
    ]
    src = [
        "def _loop(x, steps, tol, bound, a, beta, beta1, beta2, decay, eps):",
        f"    {', '.join(xs)}, = x",
        "    na, nb = -a, -bound",
        "    t = 0",
        *(f"    {s}" for s in state),
        "    inf = float('inf')",
        # below lo every step is looked at closely; tol² where it is a safe float
        "    lo = tol * tol if 1e-140 < tol < 1e140 else inf",
        "    try:",
        "        for k in range(steps):",
        *(f"            {ln}" for ln in gbody),
        *(f"            {ln}" for ln in fbody),
        *test,
        *(["            t += 1", "            c1 = 1 - beta1**t", "            c2 = 1 - beta2**t"]
          if optimizer == "adam" else []),
        *(f"            {ln}" for ln in upd),
        "        k = steps",
        *(f"        {ln}" for ln in gbody),
        *(f"        {ln}" for ln in fbody),
        *(ln[4:] for ln in test),
        f"        return 'max_steps', k, {xt}, sqrt(gn2)",
        "    except (ValueError, OverflowError, ZeroDivisionError, TypeError):",
        "        return None, 0, None, None",
    ]
    ns = dict(namespace)
    ns.setdefault("sqrt", math.sqrt)
    exec(compile("\n".join(src) + "\n", f"<gradlab scalar loop {optimizer}>", "exec"), ns)  # noqa: S102
    cache[key] = ns["_loop"]
    return ns["_loop"]
