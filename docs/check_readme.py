"""Check that every `$ gradlab …` example in README.md and docs/*.md prints what it shows.

    COLUMNS=100 python docs/check_readme.py            # every page
    python docs/check_readme.py docs/reference.md      # one page
    python docs/check_readme.py --update README.md     # write the real output into the page

Examples are run in a temporary folder with this checkout's gradlab (installed or not).
Tables are compared as a terminal shows them (``--format table`` is added where a block
shows a table), at the width in ``COLUMNS`` (100 unless set), or at the width a
``<!-- columns: 80 -->`` line just before the block names. JSON examples are shortened on
purpose and skipped. Exits 1 on any difference.
"""

import difflib
import glob
import os
import re
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JSON_DOC = re.compile(r"--format json(?!l)")  # shortened JSON documents are skipped; jsonl lines are checked
BLOCK = re.compile(r"(?:<!--\s*columns:\s*(\d+)\s*-->\s*\n)?```console\n(.*?)```", re.S)


def examples(text: str):
    """(command, expected lines, columns or None) for each example of a page."""
    for columns, block in BLOCK.findall(text):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            cmd, _, expected = part.partition("\n")
            runs_gradlab = cmd.startswith("gradlab") or "| gradlab" in cmd  # also `seq 3 | gradlab …`
            if runs_gradlab and not JSON_DOC.search(cmd):
                yield cmd, [line.rstrip() for line in expected.rstrip().split("\n")], int(columns) if columns else None


def shim(folder: str) -> str:
    """A `gradlab` command on PATH that runs this checkout, installed or not."""
    bindir = os.path.join(folder, ".bin")
    os.makedirs(bindir)
    path = os.path.join(bindir, "gradlab")
    with open(path, "w") as fh:
        fh.write(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m gradlab "$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return bindir


def run(cmd: str, expected: list[str], columns: int | None, folder: str, env: dict) -> list[str]:
    """What the example prints now, as a terminal shows it."""
    table = not any("\t" in line for line in expected) and not cmd.startswith("gradlab plot")
    named = "--format" in cmd or re.search(r"\s-f\s", cmd)  # a format given twice is refused
    full = cmd + (" --format table" if table and "|" not in cmd and not named else "")
    width = {"COLUMNS": str(columns)} if columns else {}
    p = subprocess.run(full, shell=True, capture_output=True, text=True, env={**env, **width}, cwd=folder)
    return [line.rstrip() for line in (p.stderr + p.stdout).rstrip().split("\n")]


def check(page: str, folder: str, env: dict) -> int:
    text = open(page, encoding="utf-8").read()
    bad = 0
    for cmd, expected, columns in examples(text):
        got = run(cmd, expected, columns, folder, env)
        # stderr notes may come before or after a table: compare lines as a multiset
        if sorted(got) != sorted(expected):
            bad += 1
            print(f"differs: {os.path.relpath(page, ROOT)}: {cmd}" + (f" (COLUMNS={columns})" if columns else ""))
            print("\n".join(list(difflib.unified_diff(expected, got, lineterm=""))[:25]))
    return bad


def update(page: str, folder: str, env: dict) -> None:
    """Write each example's real output into the page (review the diff before committing)."""
    text = open(page, encoding="utf-8").read()

    def block(m: re.Match) -> str:
        columns = int(m.group(1)) if m.group(1) else None
        parts = re.split(r"^\$ ", m.group(2), flags=re.M)
        out = [parts[0]]
        for part in parts[1:]:
            cmd, _, expected = part.partition("\n")
            if cmd.startswith("gradlab") and not JSON_DOC.search(cmd):
                lines = [line.rstrip() for line in expected.rstrip().split("\n")]
                expected = "\n".join(run(cmd, lines, columns, folder, env)) + "\n"
            out.append(f"{cmd}\n{expected}")
        head = m.group(0)[: m.start(2) - m.start(0)]
        return head + "$ ".join(out) + "```"

    open(page, "w", encoding="utf-8").write(BLOCK.sub(block, text))


def main(argv: list[str]) -> int:
    writing = "--update" in argv
    argv = [a for a in argv if a != "--update"]
    pages = argv or [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(HERE, "*.md")))]
    folder = tempfile.mkdtemp()
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "100")}
    env["PATH"] = shim(folder) + os.pathsep + env.get("PATH", "")
    env.pop("NO_COLOR", None)
    if writing:
        for page in pages:
            update(page, folder, env)
        return 0
    bad = sum(check(page, folder, env) for page in pages)
    print(f"{bad} example(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
