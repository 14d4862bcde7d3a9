"""gradlab's speed and memory targets, each a ratio against a baseline timed in this run.

    python bench/bench.py            # every benchmark
    python bench/bench.py startup    # only those whose name contains "startup"

Each line prints the measurement, the baseline, the ratio and the target; the script
exits 1 if a target is missed. Nothing here runs in the test suite: timings belong here.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GRADLAB = [shutil.which("gradlab")] if shutil.which("gradlab") else [sys.executable, "-m", "gradlab"]
RESULTS: list[tuple[str, bool]] = []


def process_time(cmd: list[str], repeat: int = 7) -> float:
    """Median wall time of a whole process."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=HERE)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def report(name: str, value: float, baseline: float, ratio: float, target: str, ok: bool, unit: str = "s") -> None:
    RESULTS.append((name, ok))
    print(f"{name:<52} {value:9.4f}{unit} vs {baseline:9.4f}{unit}  ratio {ratio:6.2f}  target {target:<8} "
          f"{'ok' if ok else 'MISSED'}", flush=True)


# --------------------------------------------------------------------------- start-up
def bench_startup_grad() -> None:
    base = process_time([sys.executable, "-c", "import sympy"])
    t = process_time([*GRADLAB, "grad", "x**2*y+3*y", "--at", "2,5", "--format", "plain"])
    report("startup: grad plain vs import sympy", t, base, t / base, "<= 1.5", t / base <= 1.5)


def bench_startup_descend() -> None:
    base = process_time([sys.executable, "-c", "import sympy, numpy"])
    t = process_time([*GRADLAB, "descend", "elongated", "--lr", "0.01,0.03,0.06,0.08", "--format", "plain"])
    report("startup: descend plain vs import sympy, numpy", t, base, t / base, "<= 2.0", t / base <= 2.0)


# --------------------------------------------------------------------------- hessian
def bench_hessian_rosenbrock_100() -> None:
    import sympy

    from gradlab.derivatives import evaluate, hessian
    from gradlab.parsing import symbol

    xs = [symbol(f"x{i}") for i in range(1, 101)]
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(99))
    point = {x: sympy.Rational(i % 7, 3) for i, x in enumerate(xs)}

    def ours():
        H = hessian(f, xs)
        return [[evaluate(e, point).value if e != 0 else 0.0 for e in row] for row in H]

    def theirs():
        H = sympy.hessian(f, xs)
        return H.xreplace(point)

    a, b = ours(), theirs()
    assert np.allclose(np.array(a), np.array(b, dtype=float))  # same matrix
    t_ours, t_theirs = best_of(ours, 2), best_of(theirs, 2)
    report("hessian: rosenbrock-100 vs sympy.hessian (speed-up)", t_ours, t_theirs, t_theirs / t_ours, ">= 10",
           t_theirs / t_ours >= 10)


# --------------------------------------------------------------------------- descent
def _elongated():
    from gradlab.descent import objective_for
    from gradlab.surfaces import builtin

    s = builtin()["elongated"]
    return s, objective_for(s)


def _batch_specs():
    from gradlab.runs import RunSpec

    lrs = np.linspace(0.001, 0.045, 100)
    starts = [(float(a), float(b)) for a in np.linspace(-4, 4, 10) for b in np.linspace(-2, 2, 10)]
    return [RunSpec("gd", float(lr), st) for lr in lrs for st in starts]


def baseline_batch(specs, steps: int, tol: float) -> None:
    """The hand-written vectorised numpy loop a user would write for the same batch:
    gradient typed in, per-run convergence and divergence, step counts, final points."""
    X = np.array([s.start for s in specs]).T.copy()
    lr = np.array([s.lr for s in specs])
    R = X.shape[1]
    live = np.ones(R, dtype=bool)
    taken = np.full(R, steps)
    status = np.zeros(R, dtype=np.int8)
    with np.errstate(all="ignore"):
        for k in range(steps):
            G = np.stack([2 * X[0], 50 * X[1]])
            gn2 = (G * G).sum(axis=0)
            conv = live & (gn2 < tol * tol)
            bad = live & ~(np.abs(X) <= 5e3).all(axis=0)
            ended = conv | bad
            taken[ended], status[conv], status[bad] = k, 1, 2
            live &= ~ended
            X -= (lr * live) * G
    return X, taken, status


def bench_batch_throughput() -> None:
    from gradlab.runs import descend

    _, obj = _elongated()
    specs = _batch_specs()
    t_base = best_of(lambda: baseline_batch(specs, 1000, 1e-6))
    t_ours = best_of(lambda: descend(obj, specs, 1000, 1e-6))
    report("descent: 10,000 runs x 1,000 steps (throughput)", t_ours, t_base, t_base / t_ours, ">= 0.8",
           t_base / t_ours >= 0.8)


def bench_single_run() -> None:
    from gradlab.runs import RunSpec, descend

    _, obj = _elongated()

    def base():
        x = np.array([-4.0, 2.0])
        for _ in range(10000):
            g = np.array([2 * x[0], 50 * x[1]])
            if g @ g < 1e-40:
                break
            x = x - 0.001 * g
        return x

    spec = [RunSpec("gd", 0.001, (-4.0, 2.0))]
    t_base = best_of(base)
    t_ours = best_of(lambda: descend(obj, spec, 10000, 1e-20))
    report("descent: one run x 10,000 steps (throughput)", t_ours, t_base, t_base / t_ours, ">= 0.8",
           t_base / t_ours >= 0.8)


def bench_batch_memory() -> None:
    code = (
        "import resource, sys; sys.path.insert(0, %r)\n"
        "import bench\n"
        "from gradlab.runs import descend\n"
        "_, obj = bench._elongated(); specs = bench._batch_specs()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "descend(obj, specs, 1000, 1e-6)\n"
        "print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    ) % HERE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    peak = int(out[1]) / 1024  # whole process, interpreter and libraries included
    report("memory: peak RSS of the 10,000-run batch (MB)", peak, 300.0, peak / 300.0, "< 1.0", peak < 300, "MB")


def bench_sweep_1000() -> None:
    from gradlab.runs import RunSpec
    from gradlab.sweep import run_sweep

    s, _ = _elongated()
    lrs = np.geomspace(4e-4, 0.4, 1000)
    specs = [RunSpec("gd", float(lr), (-4.0, 2.0)) for lr in lrs]
    t_base = best_of(lambda: baseline_batch(specs, 1000, 1e-6))
    t_ours = best_of(lambda: run_sweep(s, ["gd"], 4e-4, 0.4, num=1000, steps=1000))
    report("sweep: 1,000 rates x 1,000 steps, refined (throughput)", t_ours, t_base, t_base / t_ours, ">= 0.8",
           t_base / t_ours >= 0.8)


def bench_startup_plot() -> None:
    base = process_time([sys.executable, "-c", "import sympy, numpy, matplotlib.pyplot"], repeat=5)
    out = os.path.join(HERE, "lr.png")
    t = process_time([*GRADLAB, "descend", "elongated", "--lr", "0.01,0.03,0.06,0.08", "--plot", out], repeat=5)
    os.unlink(out)
    report("plot: descend --plot vs import sympy, numpy, pyplot", t, base, t / base, "<= 1.7", t / base <= 1.7)


BENCHES = [bench_startup_grad, bench_startup_descend, bench_hessian_rosenbrock_100, bench_batch_throughput,
           bench_single_run, bench_batch_memory, bench_sweep_1000, bench_startup_plot]


def main(argv: list[str]) -> int:
    chosen = [b for b in BENCHES if not argv or any(a in b.__name__ for a in argv)]
    for b in chosen:
        b()
    missed = [n for n, ok in RESULTS if not ok]
    print(f"{len(RESULTS) - len(missed)} of {len(RESULTS)} targets met" + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
