"""Every ``--help`` page reads whole in a narrow terminal, and says what the command does:
the formats it lists are the formats it writes, the output switches are the same on
every command, and the file options are named alike."""

from __future__ import annotations

import json
import re

import pytest

from gradlab.cli import app
from tests.conftest import assert_error, run

ALL_FORMATS = ("auto", "table", "plain", "json", "jsonl", "csv", "tsv", "latex")


def _click_group():
    import typer

    return typer.main.get_command(app)


GROUP = _click_group()
COMMANDS = sorted(GROUP.commands)

# One quick call of each command that prints a result (no format given).
SAMPLES = {
    "grad": ("x**2*y", "--at", "1,2"),
    "jacobian": ("x*y, x + y", "--at", "1,2"),
    "hessian": ("x**2*y", "--at", "1,2"),
    "directional": ("x*y", "--at", "1,2", "--dir", "1,0"),
    "eval": ("x*y", "--at", "1,2"),
    "critical": ("x**2 + y**2",),
    "check": ("x**2*y", "--at", "1,2"),
    "explain": ("x*exp(x)",),
    "surfaces": (),
    "descend": ("bowl", "--steps", "3"),
    "sweep": ("bowl", "--num", "3", "--steps", "20"),
    "taylor": ("x**2", "--at", "1"),
    "backprop": ("x*y", "--at", "1,2"),
}


def _options(command: str):
    """The visible options of a command, as click holds them."""
    cmd = GROUP.commands[command]
    return [p for p in cmd.params if p.param_type_name == "option" and not p.hidden]


def _words(text: str) -> str:
    return " ".join(text.split())


def _help(command: str | None, columns: int) -> str:
    r = run(*([command] if command else []), "--help", env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    assert r.code == 0 and r.err == "", r
    return r.out


def test_every_command_is_sampled():
    with_format = {c for c in COMMANDS if any("--format" in p.opts for p in _options(c))}
    assert with_format == set(SAMPLES)
    assert set(COMMANDS) == with_format | {"plot"}  # plot writes a picture, no stream


# --------------------------------------------------------------------------- layout
@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_fits_the_terminal_and_is_never_cut(command, columns):
    out = _help(command, columns)
    for line in out.splitlines():
        assert len(line) <= columns, (command, line)
    assert "…" not in out and "..." not in out.replace("[ARGS]...", "")
    # Nothing of click's or rich's own layout leaks through: no <type> columns, no boxes.
    assert not re.search(r"<(str|int|float)>|\bTEXT\b|\bINTEGER\b|\bFLOAT\b|[╭│╰]", out), out


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_and_its_whole_help_are_shown(command, columns):
    page = _words(_help(command, columns))
    for p in _options(command):
        for name in (*p.opts, *p.secondary_opts):
            assert re.search(rf"(^|[\s,]){re.escape(name)}([\s,]|$)", page), (command, name)
        text = _words(p.help or "")
        assert text, (command, p.opts)  # every option says what it does
        # the help, word for word and in order (a default may be added before the last full stop)
        assert text.rstrip(".") in page, (command, text)


@pytest.mark.parametrize("command", COMMANDS)
def test_metavars_are_short_names_not_types_or_choices(command):
    for p in _options(command):
        if p.is_flag or p.count:
            continue
        assert p.metavar and len(p.metavar) <= 12 and "|" not in p.metavar and "<" not in p.metavar, p.opts
        assert p.metavar.upper() == p.metavar, p.metavar  # a placeholder, as in usage lines


def test_descend_help_reads_as_the_reviewer_wanted():
    page = _help("descend", 80)
    lines = page.splitlines()
    assert any(line.startswith("  --lr LR ") for line in lines)
    assert any(line.startswith("  -o, --optimizer NAMES ") for line in lines)
    assert any(line.startswith("  -f, --format FMT ") for line in lines)
    # the help column starts at a quarter of the width, not in its second half
    start = lines[[i for i, line in enumerate(lines) if line.startswith("  --lr LR ")][0]].index("Learning")
    assert start <= 30
    # every schedule's syntax is readable whole, at 80 columns and at 60
    for columns in (80, 60):
        words = _help("descend", columns).split()
        for spec in ("exponential:decay_rate=R;", "step:decay_rate=R,transition_steps=K;",
                     "cosine:decay_steps=T,alpha=A;", "warmup-cosine:warmup_steps=W"):
            assert spec in words, (columns, spec)


@pytest.mark.parametrize("spec", ["exponential:decay_rate=0.99", "step:decay_rate=0.5,transition_steps=10",
                                  "cosine", "cosine:decay_steps=50,alpha=0.1", "warmup-cosine:warmup_steps=5"])
def test_the_schedules_the_help_shows_are_accepted(spec):
    r = run("descend", "bowl", "--steps", "20", "--schedule", spec, "-f", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["runs"]


def test_defaults_are_stated():
    page = _words(_help("descend", 80))
    assert "(default: gd)" in page and "(default: 1e-06)" in page and "(default: auto)" in page
    assert "(default: --header)" in page and "(default: 100)" in page


def test_examples_paste_as_one_command_when_wrapped():
    lines = _help("check", 60).splitlines()
    k = lines.index("  Example:")
    command = []
    for line in lines[k + 1:]:
        if not line.strip():
            break
        command.append(line.strip().removesuffix("\\").strip())
    assert all(line.endswith("\\") for line in lines[k + 1:k + len(command)])
    import shlex

    words = shlex.split(" ".join(command))
    assert words[:2] == ["gradlab", "check"] and words[2] == "x**2*y + y*z**3"
    assert words[-2:] == ["--grad", "2*x*y, x**2 + z**3, 3*y*z**2"]


def test_root_help_lists_every_command_with_its_whole_summary():
    page = _words(_help(None, 60))
    for name in COMMANDS:
        summary = _words((GROUP.commands[name].help or "").split("\n\n")[0])
        assert f"{name} {summary}" in page, name


# --------------------------------------------------------------------------- formats
def _listed_formats(command: str) -> set[str]:
    """The formats the command's --format help names."""
    page = _words(_help(command, 80))
    sentence = page[page.index("Output format:"):].split(".")[0]
    return {w for w in re.findall(r"[a-z]+", sentence) if w in ALL_FORMATS}


@pytest.mark.parametrize("command", sorted(SAMPLES))
def test_listed_formats_are_accepted_and_the_others_refused(command):
    listed = _listed_formats(command)
    assert {"auto", "table", "plain", "json"} <= listed
    for fmt in ALL_FORMATS:
        r = run(command, *SAMPLES[command], "--format", fmt)
        if fmt in listed:
            assert r.code == 0 and r.out.strip(), (fmt, r)
        else:
            assert_error(r, 2, "--format", fmt)
            assert _named_formats(r.err, command) == listed  # the error names what it takes instead
    r = run(command, *SAMPLES[command], "--format", "yaml")
    assert_error(r, 2, "--format", "yaml")
    assert _named_formats(r.err, command) == listed


def _named_formats(err: str, command: str) -> set[str]:
    [names] = re.findall(rf"the formats of {command}: ([a-z]+(?:, [a-z]+)*)", err)
    return set(names.split(", "))


def test_latex_is_listed_only_where_the_maths_is_symbolic():
    assert {c for c in SAMPLES if "latex" in _listed_formats(c)} == {"grad", "jacobian", "hessian", "explain"}


@pytest.mark.parametrize("fmt", ["csv", "tsv", "latex"])
@pytest.mark.parametrize("args", [("grad", "sum(x**2)", "--shape", "x=2", "--seed", "1"),
                                  ("jacobian", "x*y, x", "--wrt", "x", "--at", "1,2")])
def test_shaped_answers_refuse_columns_and_latex_up_front(args, fmt):
    assert_error(run(*args, "-f", fmt), 2, "--format")


# --------------------------------------------------------------------------- the output switches
@pytest.mark.parametrize("command", sorted(SAMPLES))
def test_compact_json_is_one_line_on_every_command(command):
    pretty = run(command, *SAMPLES[command], "-f", "json")
    r = run(command, *SAMPLES[command], "-f", "json", "--compact")
    assert r.code == 0 and r.out.count("\n") == 1, r
    assert json.loads(r.out) == json.loads(pretty.out)


@pytest.mark.parametrize("command", sorted(c for c in SAMPLES if "csv" in _listed_formats(c)))
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_no_header_drops_exactly_the_header_row(command, fmt):
    args = (command, *SAMPLES[command], "-f", fmt)
    full, bare = run(*args), run(*args, "--no-header")
    assert full.code == bare.code == 0, (full, bare)
    header, *rows = full.out.splitlines()
    assert rows and bare.out.splitlines() == rows
    names = header.split("," if fmt == "csv" else "\t")
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names), header  # names, not data
    assert names != rows[0].split("," if fmt == "csv" else "\t")


@pytest.mark.parametrize("command", sorted(c for c in SAMPLES if "csv" not in _listed_formats(c)))
def test_header_switch_exists_only_where_there_is_a_header(command):
    r = run(command, *SAMPLES[command], "--no-header")
    assert_error(r, 2, "--no-header")


# --------------------------------------------------------------------------- file options
def test_plot_writes_to_out_and_o_still_works_unlisted(tmp_path):
    page = _help("plot", 80)
    assert "--out FILE" in page and not re.search(r"(^|\s)-o[\s,]", page)
    for spelling in ("--out", "-o"):
        target = tmp_path / f"land{spelling.strip('-')}.png"
        r = run("plot", "bowl", spelling, str(target), "--dpi", "20")
        assert r.code == 0 and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", r
    assert_error(run("plot", "bowl"), 2, "--out")
    assert_error(run("plot", "bowl", "--out", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png")), 2, "once")


@pytest.mark.parametrize("command", ["descend", "sweep"])
def test_o_means_optimizer_wherever_it_is_shown(command):
    assert "-o, --optimizer NAMES" in _help(command, 80)
    assert not any("-o" in p.opts and "--optimizer" not in p.opts for c in COMMANDS for p in _options(c))


def test_every_picture_option_takes_a_file_and_sits_under_plots():
    for c in COMMANDS:
        for p in _options(c):
            if p.opts[0] in ("--plot", "--loss-plot", "--animate"):
                assert p.metavar == "FILE" and p.rich_help_panel == "Plots", (c, p.opts)
