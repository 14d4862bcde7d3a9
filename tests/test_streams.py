"""Odd streams, environments and signals: each ends in one clear outcome.

These run the real process (``python -m gradlab``), since they are about file
descriptors, encodings and signals that an in-process runner does not have.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gradlab(*args: str, env: dict | None = None, shell_tail: str = "", **kw) -> subprocess.CompletedProcess:
    """Run ``python -m gradlab args`` (optionally with a shell redirection after it)."""
    full_env = {**os.environ, **(env or {})}
    if shell_tail:
        import shlex

        cmd = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "gradlab", *args)) + " " + shell_tail
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, env=full_env, cwd=ROOT,
                              timeout=120, **kw)
    return subprocess.run([sys.executable, "-m", "gradlab", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=120, **kw)


def one_error_line(p: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert p.returncode == code, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradlab: error: "), p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


# ------------------------------------------------------------------ broken streams
def test_closed_stdout_is_one_error_line():
    one_error_line(gradlab("grad", "x**2", "--at", "3", shell_tail=">&-"), 1, "standard output is closed")


def test_full_disk_is_one_error_line():
    one_error_line(gradlab("grad", "x**2", "--at", "3", shell_tail=">/dev/full"), 1, "No space left")


FORMATS = ["table", "plain", "json", "jsonl", "csv", "tsv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_ends_quietly_in_every_format(fmt):
    # 3,000 points give more output than a pipe buffer holds, so the writer does see
    # the closed pipe.
    p = gradlab("eval", "x**2", "--at", "-", "-f", fmt, shell_tail="| head -1; exit ${PIPESTATUS[0]}",
                executable="/bin/bash", input="\n".join(str(i) for i in range(3000)) + "\n")
    assert p.returncode == 0 and p.stderr == "" and p.stdout.count("\n") == 1, p
    p = gradlab("descend", "elongated", "--lr", ",".join(f"0.0{i}" for i in range(1, 10)), "-f", fmt,
                shell_tail="| head -1; exit ${PIPESTATUS[0]}", executable="/bin/bash")
    assert p.returncode == 0 and p.stderr == "", p


def test_help_piped_to_head_exits_0():
    p = gradlab("--help", shell_tail="| head -1; exit ${PIPESTATUS[0]}", executable="/bin/bash")
    assert p.returncode == 0 and p.stderr == ""


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0"}])
@pytest.mark.parametrize("args", [
    ("grad", "x**2*y", "--at", "1,2", "-f", "table"),
    ("hessian", "x*y", "--at", "1,2", "-f", "table"),
    ("descend", "elongated", "-f", "table"),
    ("grad", "x**2*y", "--at", "1,2", "-f", "json"),
    ("explain", "sin(x**2)"),
])
def test_ascii_only_streams_work(env, args):
    p = gradlab(*args, env=env)
    assert p.returncode == 0 and "Traceback" not in p.stderr and "UnicodeEncodeError" not in p.stderr, p
    assert p.stdout.strip()


def test_ascii_json_escapes_instead_of_changing_data():
    import json

    p = gradlab("grad", "x**2*y", "--at", "1,2", "-f", "json", env={"PYTHONIOENCODING": "ascii"})
    assert p.stdout.isascii()
    assert json.loads(p.stdout)["gradient"]["value"] == [4.0, 1.0]


@pytest.mark.parametrize("columns", ["0", "-5", "abc"])
def test_nonsense_columns_is_ignored(columns):
    p = gradlab("grad", "x**2*y", "--at", "1,2", "-f", "table", env={"COLUMNS": columns})
    assert p.returncode == 0 and "x**2" in p.stdout or "2*x*y" in p.stdout, p


def test_bare_gradlab_prints_the_help():
    p = gradlab()
    assert p.returncode == 0 and "Usage" in p.stdout and "grad" in p.stdout and p.stderr == ""


def test_shell_completion_script_is_offered():
    p = gradlab("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert p.returncode == 0 and "_GRADLAB_COMPLETE" in p.stdout


def test_unusable_matplotlib_config_dir_leaves_no_temporary_directory(tmp_path):
    bad = tmp_path / "not-a-dir"
    bad.write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    p = gradlab("plot", "bowl", "--out", str(tmp_path / "p.png"), "--dpi", "20",
                env={"MPLCONFIGDIR": str(bad), "TMPDIR": str(tmp)})
    assert p.returncode == 0, p
    assert list(tmp.iterdir()) == [] and (tmp_path / "p.png").exists()
    assert "Matplotlib" not in p.stderr


# ------------------------------------------------------------------ SIGTERM
def _children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def _wait_for(condition, proc, limit: float = 60.0) -> bool:
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < limit:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_during_critical_stops_the_solver():
    proc = subprocess.Popen([sys.executable, "-m", "gradlab", "critical", "x**7 - 3*x*y**3 + y**6 + x*y + x**2*y**5",
                             "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "GRADLAB_EXACT_DEGREE": "1000"})  # past the size limit: solve runs
    assert _wait_for(lambda: _children(proc.pid), proc), "the exact solve never started a worker"
    kids = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and out == "" and err == "gradlab: error: terminated\n"
    time.sleep(0.2)
    alive = [k for k in kids if Path(f"/proc/{k}").exists()
             and Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == []


@pytest.mark.parametrize("args", [
    ("descend", "himmelblau", "--lr", "0.001,0.002", "--steps", "3000", "--animate", "{dir}/a.gif"),
])
def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path, args):
    args = [a.format(dir=tmp_path) for a in args]
    proc = subprocess.Popen([sys.executable, "-m", "gradlab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    started = _wait_for(lambda: any(p.name.startswith(".gradlab-") for p in tmp_path.iterdir()), proc, 120)
    if not started:
        proc.communicate(timeout=30)
        pytest.skip("the file was written before a temporary file could be seen")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and err.endswith("gradlab: error: terminated\n"), err
    assert list(tmp_path.iterdir()) == []


def test_terminated_while_writing_a_file_removes_the_temporary_file(tmp_path):
    # What SIGTERM does in the middle of a big --trajectory: Terminated raised inside
    # the write. The temporary file goes, the old file stays.
    from gradlab.files import atomic_write
    from gradlab.cli.streams import Terminated

    target = tmp_path / "t.csv"
    target.write_text("old")

    def write(fh):
        fh.write(b"x" * 100_000)
        raise Terminated()

    with pytest.raises(Terminated):
        atomic_write(str(target), write)
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"] and target.read_text() == "old"


@pytest.mark.parametrize("args, stdin", [
    (("grad", "x**2*y", "--at", "-", "-f", "table"), "1 2\n3 4\n"),
    (("grad", "x**2*y", "--at", "1,2", "-f", "table"), None),
    (("hessian", "x*y", "--at", "1,2", "-f", "table"), None),
])
def test_ascii_tables_are_laid_out_for_what_they_print(args, stdin):
    """‖∇f‖ prints as |grad f| on an ASCII stream: the columns are sized for that text,
    so every line of the table's box has the same width."""
    p = gradlab(*args, env={"PYTHONIOENCODING": "ascii", "COLUMNS": "80"}, input=stdin)
    assert p.returncode == 0 and p.stdout.isascii() and "?" not in p.stdout, p
    box = [line for line in p.stdout.splitlines() if line.startswith(("+", "|"))]
    assert box and len({len(line) for line in box}) == 1, p.stdout


def test_an_ascii_stream_writes_a_shape_as_one_exponent():
    # ℝ¹³ˣ² is R^13x2 (not R^1^3x^2): a run of superscripts is one exponent
    import gradlab.cli.streams  # noqa: F401  (registers the error handler)

    assert "W ∈ ℝ¹³ˣ², x ∈ ℝ², ‖g‖²".encode("ascii", "gradlab-ascii") == b"W in R^13x2, x in R^2, |g|^2"


def test_an_ascii_stream_spells_backprop_symbols():
    import gradlab.cli.streams  # noqa: F401  (registers the error handler)

    assert "(∂t1/∂W)ᵀ·ḡ, δ".encode("ascii", "gradlab-ascii") == b"(dt1/dW)^T*gbar, delta"
