"""Soak: a seeded corpus of random expressions through every gradlab command.

Each expression (1-5 variables, depth 2-6) runs through ``grad``, ``jacobian``,
``hessian``, ``directional``, ``eval`` and ``check`` at a point whose coordinates come
from {0, ±1e-8, ±1e8, small numbers}; every ``--every``-th expression also runs through
``critical``, ``explain``, ``descend``, ``sweep`` and ``plot`` (in rotation, one of them
each time). Runs go through the CLI in process (``typer.testing.CliRunner``), in
``--jobs`` forked workers; a run past ``--limit`` seconds has its worker killed and is
counted as over the limit. The seconds are CPU seconds of the worker and its children
(read from /proc where there is one): on a machine shared with other work, wall-clock
time measures the neighbours; a run is also stopped past ``--wall`` × the limit of wall
time. The peak resident memory of every worker is measured.

It prints the slowest ten runs (as commands to paste) and one summary line::

    python bench/soak.py                  # 2,000 expressions, 2 workers
    python bench/soak.py --n 200 --seed 7 # a quick look

Run time (two workers, on a two-core machine shared with other work): about 100 minutes
for the default (2,000 expressions, 12,500 runs); ``--per 2 --every 6`` (2,000
expressions, each through two calculus commands in rotation and one costly command in
six, about 4,300 runs) takes about 30 minutes. ``--per 1 --every 3`` (2,000 expressions,
each through one calculus command in rotation and one costly command in three, 2,667
runs) took 25 minutes with ``nice`` on a two-core machine under a load of about 10.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

NAMES = ["x", "y", "z", "w", "v"]
UNARY = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "sqrt", "abs",
         "sigmoid", "relu", "softplus"]
POINT_VALUES = ["0", "1e-8", "-1e-8", "1e8", "-1e8", "1", "-1", "2", "0.5", "-3", "1/3"]
CHEAP = ["grad", "jacobian", "hessian", "directional", "eval", "check"]
COSTLY = ["critical", "explain", "descend", "sweep", "plot"]


def expression(rng: random.Random, names: list[str], depth: int) -> str:
    """A random expression of at most ``depth`` levels over ``names``."""
    if depth <= 1 or rng.random() < 0.15:
        r = rng.random()
        if r < 0.7:
            return rng.choice(names)
        return rng.choice(["2", "3", "0.5", "1/2", "pi", "10", "-1"])
    kind = rng.random()
    if kind < 0.4:
        return f"{rng.choice(UNARY)}({expression(rng, names, depth - 1)})"
    if kind < 0.5:
        return f"({expression(rng, names, depth - 1)})**{rng.choice(['2', '3', '0.5', '-1', '(1-x)' if 'x' in names else '2'])}"
    if kind < 0.55:
        return f"logsumexp({expression(rng, names, depth - 1)}, {expression(rng, names, depth - 1)})"
    op = rng.choice(["+", "-", "*", "/"])
    return f"({expression(rng, names, depth - 1)}) {op} ({expression(rng, names, depth - 1)})"


def corpus(n: int, seed: int) -> list[tuple[str, list[str], str]]:
    """``n`` distinct (expression, variables, point) triples; every variable occurs."""
    rng = random.Random(seed)
    out = []
    seen: set[str] = set()
    while len(out) < n:
        k = rng.randint(1, 5)
        names = NAMES[:k]
        text = expression(rng, names, rng.randint(2, 6))
        for name in names:  # make sure every variable occurs, so --at has k values
            if name not in text:
                text = f"{text} + {name}"
        point = ",".join(rng.choice(POINT_VALUES) for _ in names)
        if text in seen:
            continue
        seen.add(text)
        out.append((text, names, point))
    return out


def commands(n: int, seed: int, every: int, tmp: str, per: int = len(CHEAP)) -> list[list[str]]:
    """The argument lists of every run: ``per`` of the cheap commands for each
    expression (in rotation, all six by default), a costly one every ``every``."""
    runs = []
    for i, (text, names, point) in enumerate(corpus(n, seed)):
        vars_ = ",".join(names)
        base = ["--vars", vars_]
        cheap = [["grad", text, "--at", point, *base, "-f", "json"],
                 ["jacobian", text, "--at", point, *base, "-f", "json"],
                 ["hessian", text, "--at", point, *base, "-f", "json"],
                 ["directional", text, "--at", point, "--dir", ",".join("1" for _ in names), *base, "-f", "json"],
                 ["eval", text, "--at", point, *base, "-f", "json"],
                 ["check", text, "--at", point, *base, "-f", "json"]]
        runs += [cheap[(i * per + k) % len(cheap)] for k in range(min(per, len(cheap)))]
        if i % every == 0:
            which = COSTLY[(i // every) % len(COSTLY)]
            if which == "critical":
                runs.append(["critical", text, *base, "-f", "json"])
            elif which == "explain":
                runs.append(["explain", text, *base, "-f", "json"])
            elif which == "descend":
                runs.append(["descend", text, "--start", point, "--steps", "200", *base, "-f", "json"])
            elif which == "sweep":
                runs.append(["sweep", text, "--start", point, "--steps", "100", "--num", "10", *base, "-f", "json"])
            else:
                plot_vars = vars_ if len(names) >= 2 else "x,y"
                runs.append(["plot", text, "--out", os.path.join(tmp, f"p{i}.png"), "--dpi", "30",
                             "--vars", plot_vars])
    return runs


# ------------------------------------------------------------------ workers
def _worker(conn) -> None:
    from typer.testing import CliRunner

    from gradlab.cli import app

    runner = CliRunner()
    while True:
        args = conn.recv()
        if args is None:
            return
        c0 = _cpu_now()
        res = runner.invoke(app, args)
        dt = _cpu_now() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        conn.send((res.exit_code, res.stderr[-2000:], dt, peak))


def _cpu_now() -> float:
    """CPU seconds of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Outcome:
    args: list[str]
    code: int | None
    err: str
    seconds: float
    peak_mb: float

    @property
    def command(self) -> str:
        return "python -m gradlab " + " ".join(shlex.quote(a) for a in self.args)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its waited-for children (None without /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(v) for v in fields[11:15]) / _TICK  # utime, stime, cutime, cstime


class Pool:
    def __init__(self, jobs: int, limit: float, wall: float = 10.0) -> None:
        self.ctx = multiprocessing.get_context("fork")
        self.limit = limit
        self.wall = wall
        self.workers = [self._spawn() for _ in range(jobs)]

    def _spawn(self):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child,))  # not daemonic: runs fork their own workers
        proc.start()
        child.close()
        return [proc, parent, None, 0.0, 0.0]  # process, pipe, current args, start time, start CPU

    def _over(self, w) -> bool:
        wall = time.perf_counter() - w[3]
        cpu = _cpu_seconds(w[0].pid)
        if cpu is None:
            return wall > self.limit
        # children still running (a solver in its own process) are not in cutime yet:
        # the wall backstop covers them
        return cpu - w[4] > self.limit or wall > self.wall * self.limit

    def run(self, todo: list[list[str]], report) -> list[Outcome]:
        out: list[Outcome] = []
        queue = list(reversed(todo))
        busy = 0
        while queue or busy:
            for w in self.workers:
                if w[2] is None and queue:
                    w[2], w[3], w[4] = queue.pop(), time.perf_counter(), _cpu_seconds(w[0].pid) or 0.0
                    w[1].send(w[2])
                    busy += 1
            time.sleep(0.005)
            for i, w in enumerate(self.workers):
                if w[2] is None:
                    continue
                if w[1].poll():
                    code, err, dt, peak = w[1].recv()
                    out.append(Outcome(w[2], code, err, dt, peak))
                    if "internal error" in err or "Traceback" in err:
                        print(f"  problem: {out[-1].command}\n      {err.strip().splitlines()[-1][:300]}",
                              file=sys.stderr, flush=True)
                    w[2] = None
                    busy -= 1
                    report(len(out), len(todo))
                elif self._over(w):
                    w[0].kill()
                    w[0].join()
                    out.append(Outcome(w[2], None, "over the limit", time.perf_counter() - w[3], 0.0))
                    print(f"  over the limit: {out[-1].command}", file=sys.stderr, flush=True)
                    busy -= 1
                    self.workers[i] = self._spawn()
                    report(len(out), len(todo))
        for w in self.workers:
            w[1].send(None)
            w[0].join(2)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="expressions (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=float, default=30.0, help="CPU seconds allowed per run (default 30)")
    ap.add_argument("--wall", type=float, default=4.0,
                    help="wall-clock backstop, as a multiple of --limit (default 4)")
    ap.add_argument("--every", type=int, default=4, help="one costly command every N expressions (default 4)")
    ap.add_argument("--per", type=int, default=len(CHEAP),
                    help="cheap commands per expression, in rotation (default: all six)")
    ap.add_argument("--show", type=int, default=10, help="problems of each kind to list")
    args = ap.parse_args()

    import gradlab.cli  # noqa: F401 - imported once, before the workers fork

    with tempfile.TemporaryDirectory() as tmp:
        todo = commands(args.n, args.seed, args.every, tmp, args.per)
        t0 = time.perf_counter()

        def report(done: int, total: int) -> None:
            if done % 500 == 0:
                print(f"  {done}/{total} runs, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

        results = Pool(args.jobs, args.limit, args.wall).run(todo, report)
        wall = time.perf_counter() - t0
    over = [r for r in results if r.code is None]
    internal = [r for r in results if "internal error" in r.err]
    tracebacks = [r for r in results if "Traceback" in r.err]
    peak = max((r.peak_mb for r in results), default=0.0)
    big = [r for r in results if r.peak_mb > 500]
    print("slowest ten (CPU seconds):")
    for r in sorted(results, key=lambda r: -r.seconds)[:10]:
        print(f"  {r.seconds:7.2f} s  {r.command}")
    for title, rows in (("over the limit", over), ("internal errors", internal), ("tracebacks", tracebacks),
                        ("over 500 MB", big)):
        if rows:
            print(f"{title} ({len(rows)}):")
            for r in rows[: args.show]:
                last = r.err.strip().splitlines()[-1] if r.err.strip() else ""
                print(f"  {r.command}\n      {last[:300]}")
    exprs = len({r.args[1] for r in results})
    print(f"soak: {len(results)} runs of {exprs} expressions in {wall:.0f} s, {len(over)} over the {args.limit:g} s "
          f"limit, {len(internal)} internal errors, {len(tracebacks)} tracebacks, peak {peak:.0f} MB")
    return 1 if over or internal or tracebacks or big else 0


if __name__ == "__main__":
    sys.exit(main())
