"""Check that every `$ gradlab …` example in README.md prints what the README shows.

    COLUMNS=100 python docs/check_readme.py

Examples are run in a temporary folder. Tables are compared as a terminal shows them
(``--format table`` is added where the README shows a table); JSON examples are shortened
in the README on purpose and skipped. Exits 1 on any difference.
"""

import difflib
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def examples(text: str):
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            cmd, _, expected = part.partition("\n")
            runs_gradlab = cmd.startswith("gradlab") or "| gradlab" in cmd  # also `seq 3 | gradlab …`
            if runs_gradlab and "--format json" not in cmd:
                yield cmd, [line.rstrip() for line in expected.rstrip().split("\n")]


def main() -> int:
    text = open(os.path.join(HERE, "..", "README.md"), encoding="utf-8").read()
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "100")}
    folder = tempfile.mkdtemp()
    bad = 0
    for cmd, expected in examples(text):
        table = not any("\t" in line for line in expected) and not cmd.startswith("gradlab plot")
        named = "--format" in cmd or re.search(r"\s-f\s", cmd)  # a format given twice is refused
        full = cmd + (" --format table" if table and "|" not in cmd and not named else "")
        p = subprocess.run(full, shell=True, capture_output=True, text=True, env=env, cwd=folder)
        got = [line.rstrip() for line in (p.stdout + p.stderr).rstrip().split("\n")]
        # stderr notes may come before or after a table: compare lines as a multiset
        if sorted(got) != sorted(expected):
            bad += 1
            print(f"differs: {cmd}")
            print("\n".join(list(difflib.unified_diff(expected, got, lineterm=""))[:15]))
    print(f"{bad} example(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
