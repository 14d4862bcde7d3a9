"""Speed of the large families (``--dims``), as ratios against a baseline timed in this run.

    python bench/bench_dims.py

* ``descend rosenbrock-nd --dims 1000 --steps 10``: set-up (the sum expanded, its 1,000
  partials, compiled) against ``python -c "import sympy, numpy"``, target ratio <= 9
  (before this bench existed: 11 to 15; after, 7.6, at load 4);
* ``critical rosenbrock-nd --dims 50``: the Newton search from 450 starts, target <= 8
  (before: minutes, about 100 × the baseline; after, 3.9);
* ``critical rosenbrock-nd --dims 61``: refused at once (exit 2), target <= 2.5 (1.3).

CPU time (user + system) of whole processes, medians of 3: on the shared 2-core machine
wall time mostly measures the neighbours. Prints one line per measurement; exits 1 if a
target is missed. Nothing here runs in the test suite.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADLAB = [sys.executable, "-m", "gradlab"]
MISSED: list[str] = []


def cpu(cmd: list[str], repeat: int = 3, code: int = 0) -> float:
    """Median CPU time (user + system) of a whole process; its exit code must be ``code``."""
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, check=False,
                              timeout=900)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != code:
            raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}, expected {code}")
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def report(name: str, value: float, baseline: float, target: float) -> None:
    ratio = value / baseline
    ok = ratio <= target
    if not ok:
        MISSED.append(name)
    print(f"{name:<52} {value:8.3f}s vs {baseline:7.3f}s  ratio {ratio:6.2f}  target <= {target:<4g} "
          f"{'ok' if ok else 'MISSED'}", flush=True)


def main() -> int:
    base = cpu([sys.executable, "-c", "import sympy, numpy"])
    report("descend rosenbrock-nd --dims 1000 --steps 10",
           cpu([*GRADLAB, "descend", "rosenbrock-nd", "--dims", "1000", "--steps", "10", "-f", "plain"]), base, 9)
    report("critical rosenbrock-nd --dims 50",
           cpu([*GRADLAB, "critical", "rosenbrock-nd", "--dims", "50", "-f", "plain"]), base, 8)
    report("critical rosenbrock-nd --dims 61 (refused, exit 2)",
           cpu([*GRADLAB, "critical", "rosenbrock-nd", "--dims", "61", "-f", "plain"], code=2), base, 2.5)
    print(f"{3 - len(MISSED)} of 3 targets met" + (f"; missed: {', '.join(MISSED)}" if MISSED else ""))
    return 1 if MISSED else 0


if __name__ == "__main__":
    sys.exit(main())
