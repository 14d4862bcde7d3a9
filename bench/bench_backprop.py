"""Speed targets of `gradlab backprop` and of shaped gradients, as ratios against a
baseline timed in the same run (the start-up: `gradlab grad "x**2*y + 3*y" --at 2,5`, which
imports the CLI and SymPy as every calculus command does).

    python bench/bench_backprop.py

- backprop on a 40-node graph (a 2-3-1 network with a squared loss): whole process
  within start-up + 0.3 s, i.e. (t − start-up) / 0.3 s ≤ 1;
- grad of mean((W@x + b)**2) with respect to a 32×32 W (1,024 exact partials), whole
  process within 2 s, i.e. t / 2 s ≤ 1 (the start-up it contains is shown beside it).

Exits 1 if a target is missed. Nothing here runs in the test suite.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GRADLAB = [sys.executable, "-m", "gradlab"]
NETWORK = ("h1 = tanh(w1*x1 + w2*x2 + b1); h2 = tanh(w3*x1 + w4*x2 + b2); h3 = relu(w5*x1 - w6*x2 + b3); "
           "o = sigmoid(v1*h1 + v2*h2 + v3*h3 + c); L = (o - y)**2")  # 40 nodes
RESULTS: list[bool] = []


def process_time(cmd: list[str], repeat: int = 5) -> float:
    """Median CPU time (user + system) of a whole process, run from the repository root.

    CPU time rather than wall time: on a shared machine the wall clock mostly measures
    the other processes; with CPU_WALL=1 in the environment, wall time is used instead.
    """
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, cwd=ROOT)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        times.append(wall if os.environ.get("CPU_WALL") == "1" else cpu)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr.decode()}")
    return statistics.median(times)


def report(name: str, value: float, baseline: float, ratio: float, target: str, ok: bool) -> None:
    RESULTS.append(ok)
    print(f"{name:<52} {value:8.4f}s vs {baseline:8.4f}s  ratio {ratio:5.2f}  target {target:<6} "
          f"{'ok' if ok else 'MISSED'}", flush=True)


def main() -> int:
    # start-up: the smallest calculus command, which imports the CLI and SymPy as backprop does
    startup = process_time([*GRADLAB, "grad", "x**2*y + 3*y", "--at", "2,5", "--format", "plain"])
    t = process_time([*GRADLAB, "backprop", NETWORK, "--seed", "1", "--at", "y=1", "--format", "plain"])
    extra = t - startup
    report("backprop: 40-node graph, time past start-up", extra, 0.3, extra / 0.3, "<= 1", extra <= 0.3)
    t = process_time([*GRADLAB, "grad", "mean((W@x + b)**2)", "--shape", "W=32x32,x=32,b=32", "--wrt", "W",
                      "--seed", "0", "--format", "plain"])
    report("grad: 32x32 W, whole process (vs start-up)", t, startup, t / 2.0, "<= 1", t <= 2.0)
    print(f"{sum(RESULTS)} of {len(RESULTS)} targets met")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
