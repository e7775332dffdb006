"""The ``kando-parallel`` command: arguments, output, exit status, program
files, timeouts, progress and Ctrl-C.

Most tests call :func:`kando_parallel.cli.main` in this process; the ones
about exit status, signals and the entry points run the installed command
in a subprocess.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import command_path, run_command

import kando_parallel
from kando_parallel import Cons, Unbound
from kando_parallel.cli import main, to_json

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

# Infinite, without an answer: every natural number fails the last goal.
NO_ANSWER_PROGRAM = """\
from kando_parallel import conde, conj, eq, fresh, relation, var


@relation
def nato(n):
    return conde([eq(n, "z")], [fresh(lambda m: conj(eq(n, ("s", m)),
                                                     nato(m)))])


query = var()
goal = conj(nato(query), eq(query, "never"))
"""

# About 600 KB of output.
MANY_ANSWERS_PROGRAM = """\
from kando_parallel import membero, var

query = var()
goal = membero(query, list(range(100_000)))
"""

# Infinite, and every step suspends: no answer, no failure.
NEVER_PROGRAM = """\
from kando_parallel import relation, var


@relation
def nevero():
    return nevero()


query = var()
goal = nevero()
"""


def call(capsys, *args):
    """Run ``main`` in process: (status, stdout, stderr)."""
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def usage_error(capsys, *args):
    """Run ``main`` on bad arguments: the SystemExit code and stderr."""
    with pytest.raises(SystemExit) as raised:
        main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    assert out == ""
    return raised.value.code, err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "args, complaint",
    [
        ([], "required"),
        (["frobnicate"], "invalid choice"),
        (["solve"], "required"),
        (["solve", "sudoku"], "invalid choice"),
        (["solve", "queens"], "required"),
        (["solve", "queens", "0"], "N"),
        (["solve", "queens", "eight"], "N"),
        (["solve", "queens", "8", "--limit", "0"], "--limit"),
        (["solve", "queens", "8", "--limit", "x"], "--limit"),
        (["solve", "queens", "8", "--all", "--limit", "3"],
         "not allowed with"),
        (["solve", "zebra", "--workers", "0"], "--workers"),
        (["solve", "zebra", "--workers", "1.5"], "--workers"),
        (["solve", "zebra", "--workers", "1000000000"], "from 1 to 256"),
        (["solve", "zebra", "--workers", "9" * 25], "from 1 to 256"),
        (["solve", "queens", "65"], "from 1 to 64"),
        (["solve", "queens", "9" * 25], "from 1 to 64"),
        (["solve", "zebra", "--timeout", "-1"], "--timeout"),
        (["solve", "zebra", "--timeout", "0"], "--timeout"),
        (["solve", "zebra", "--timeout", "nan"], "--timeout"),
        (["solve", "zebra", "--timeout", "soon"], "--timeout"),
        (["solve", "zebra", "--frobnicate"], "unrecognized"),
        (["run"], "required"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_arguments_give_usage_and_status_2(capsys, args, complaint):
    code, err = usage_error(capsys, *args)

    assert code == 2
    assert err.startswith("usage: kando-parallel")
    assert "error:" in err
    assert complaint in err


def test_bad_arguments_from_the_installed_command():
    done = run_command("solve", "queens", "-3")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "usage: kando-parallel solve queens" in done.stderr
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    out, _ = capsys.readouterr()

    assert raised.value.code == 0
    assert out.strip() == (
        f"kando-parallel {kando_parallel.__version__} "
        f"({kando_parallel.__backend__} backend)"
    )


def test_help_documents_program_files(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["run", "--help"])
    out, _ = capsys.readouterr()

    assert raised.value.code == 0
    assert "query" in out and "goal" in out
    assert "exit status" in out


# ---------------------------------------------------------------- output


JSON_KEYS = {"answers", "count", "seconds", "timed_out", "limit",
             "workers", "backend", "version"}


def test_json_output_shape_for_queens(capsys):
    status, out, err = call(capsys, "solve", "queens", 6, "--all",
                            "--json")

    assert status == 0
    assert out.endswith("\n") and out.count("\n") == 1
    record = json.loads(out)
    assert set(record) == JSON_KEYS | {"puzzle", "n"}
    assert record["puzzle"] == "queens"
    assert record["n"] == 6
    assert record["count"] == len(record["answers"]) == 4
    assert all(type(columns) is list and len(columns) == 6
               for columns in record["answers"])
    assert sorted(record["answers"]) == [
        [2, 4, 6, 1, 3, 5], [3, 6, 2, 5, 1, 4],
        [4, 1, 5, 2, 6, 3], [5, 3, 1, 6, 4, 2],
    ]
    assert type(record["seconds"]) is float and record["seconds"] >= 0
    assert record["timed_out"] is False
    assert record["limit"] is None
    assert record["workers"] == 1
    assert record["backend"] == kando_parallel.__backend__
    assert record["version"] == kando_parallel.__version__
    assert "Traceback" not in err


def test_queens_finds_the_first_solution_by_default(capsys):
    status, out, _ = call(capsys, "solve", "queens", 8, "--json")

    record = json.loads(out)
    assert status == 0
    assert record["count"] == 1
    assert record["limit"] == 1


def test_queens_limit(capsys):
    status, out, _ = call(capsys, "solve", "queens", 8, "--limit", 5,
                          "--json")

    record = json.loads(out)
    assert status == 0
    assert record["count"] == 5
    assert record["limit"] == 5
    assert len({tuple(answer) for answer in record["answers"]}) == 5


def test_queens_without_solutions(capsys):
    status, out, _ = call(capsys, "solve", "queens", 3, "--all")

    assert status == 0
    assert out.startswith("0 solutions in ")


def test_queens_text_output(capsys):
    status, out, _ = call(capsys, "solve", "queens", 4, "--all")

    lines = out.splitlines()
    assert status == 0
    assert sorted(lines[:2]) == ["2 4 1 3", "3 1 4 2"]
    assert re.fullmatch(
        r"2 solutions in \d+\.\d\d s \((cython|python) backend, "
        r"1 worker\)",
        lines[2],
    )


def test_to_json_keeps_what_json_can_hold():
    value = {"a": (1, [2.5, None, True]), "b": "text"}

    assert to_json(value) == {"a": [1, [2.5, None, True]], "b": "text"}


def test_to_json_spells_the_rest_with_repr():
    value = (Unbound(0), Cons(1, Unbound(1)), {1: "x"}, float("inf"),
             b"raw")

    assert to_json(value) == ["_0", "(1 . _1)", "{1: 'x'}", "inf",
                              "b'raw'"]


def test_to_json_on_a_deep_answer():
    value = "leaf"
    for _ in range(100_000):
        value = (value,)

    found = to_json(value)

    depth = 0
    while type(found) is list:
        found = found[0]
        depth += 1
    assert (depth, found) == (100_000, "leaf")


# ---------------------------------------------------------------- programs


def example_program():
    """The example program file of docs/cli.md and its documented output."""
    text = DOCS.read_text()
    source = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    shown = re.search(r"\$ kando-parallel run family.py\n(.*?)```", text,
                      re.S).group(1)
    return source, shown.splitlines()


def test_documented_example_program(tmp_path):
    source, shown = example_program()
    path = write(tmp_path, "family.py", source)

    done = run_command("run", path.name, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:-1] == shown[:-1]
    assert lines[-1].startswith("5 answers in ")


def test_documented_example_program_as_json(tmp_path, capsys):
    source, shown = example_program()
    path = write(tmp_path, "family.py", source)

    status, out, _ = call(capsys, "run", path, "--limit", 2, "--json")

    record = json.loads(out)
    assert status == 0
    assert set(record) == JSON_KEYS | {"program"}
    assert record["program"] == str(path)
    assert record["answers"] == ["homer", "marge"]
    assert [repr(a) for a in record["answers"]] == shown[:2]


def test_program_answers_with_unbound_variables(tmp_path, capsys):
    path = write(tmp_path, "pairs.py", (
        "from kando_parallel import appendo, var\n"
        "front, back, whole = var(), var(), var()\n"
        "query = (front, whole)\n"
        "goal = appendo(front, back, whole)\n"
    ))

    status, out, _ = call(capsys, "run", path, "--limit", 2)

    assert status == 0
    assert out.splitlines()[:2] == ["([], _0)", "([_0], (_0 . _1))"]


def test_program_imports_its_neighbours(tmp_path, capsys):
    write(tmp_path, "helper.py", "WORDS = ['a', 'b']\n")
    path = write(tmp_path, "main.py", (
        "from helper import WORDS\n"
        "from kando_parallel import membero, var\n"
        "query = var()\n"
        "goal = membero(query, WORDS)\n"
    ))

    status, out, _ = call(capsys, "run", path, "--json")

    assert status == 0
    assert json.loads(out)["answers"] == ["a", "b"]


@pytest.mark.parametrize(
    "name, source, message",
    [
        ("missing.py", None, "cannot read"),
        ("syntax.py", "query = (\n", "line 1: syntax error"),
        ("raises.py", "import kando_parallel\n\nquery = 1 / 0\n",
         "line 3: ZeroDivisionError"),
        ("nothing.py", "x = 1\n", "must define query and goal"),
        ("no_goal.py", "query = 1\n", "must define goal"),
        ("not_a_goal.py", "query = 1\ngoal = 'eq(1, 1)'\n",
         "must be a goal"),
    ],
)
def test_program_that_fails_to_load(tmp_path, capsys, name, source,
                                     message):
    path = tmp_path / name
    if source is not None:
        path.write_text(source)

    status, out, err = call(capsys, "run", path)

    assert status == 1
    assert out == ""
    assert err.startswith(f"kando-parallel: {path}")
    assert message in err
    assert "Traceback" not in err


def test_program_directory_is_not_a_program(tmp_path, capsys):
    status, _, err = call(capsys, "run", tmp_path)

    assert status == 1
    assert err == f"kando-parallel: {tmp_path}: cannot read a directory\n"


def test_program_whose_search_raises(tmp_path, capsys):
    path = write(tmp_path, "boom.py", (
        "from kando_parallel import pygoal, var\n"
        "def explode(state):\n"
        "    raise LookupError('no such thing')\n"
        "query = var()\n"
        "goal = pygoal(explode)\n"
    ))

    status, out, err = call(capsys, "run", path)

    assert status == 1
    assert out == ""
    assert "line 3" in err
    assert "LookupError: no such thing" in err


def test_program_file_failure_from_the_installed_command(tmp_path):
    path = write(tmp_path, "broken.py", "goal = undefined_name\n")

    done = run_command("run", path)

    assert done.returncode == 1
    assert "NameError" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- long runs


@pytest.fixture(scope="module")
def timed_out_run(tmp_path_factory):
    """One long run stopped by --timeout; shared by the tests below."""
    path = tmp_path_factory.mktemp("long") / "no_answer.py"
    path.write_text(NO_ANSWER_PROGRAM)
    start = time.monotonic()
    done = run_command("run", path, "--timeout", 2.5, "--json", timeout=60)
    return done, time.monotonic() - start


def test_timeout_exits_3_and_says_so(timed_out_run):
    done, elapsed = timed_out_run

    assert done.returncode == 3
    assert "timed out after 2.5 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert 2.5 <= elapsed < 30


def test_timeout_json_reports_the_partial_result(timed_out_run):
    done, _ = timed_out_run

    record = json.loads(done.stdout)
    assert record["timed_out"] is True
    assert record["count"] == 0
    assert record["answers"] == []


def test_long_run_reports_progress_on_stderr(timed_out_run):
    done, _ = timed_out_run

    progress = [line for line in done.stderr.splitlines()
                if re.match(r"kando-parallel: \d+ s, \d+ answers? so far",
                            line)]
    assert 1 <= len(progress) <= 4
    assert re.match(r"kando-parallel: [12] s,", progress[0])


def test_timeout_stops_a_search_that_only_suspends(tmp_path):
    path = write(tmp_path, "never.py", NEVER_PROGRAM)

    try:
        done = run_command("run", path, "--timeout", 1, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("--timeout 1 did not stop the search within 10 s")

    assert done.returncode == 3
    assert "timed out after 1 s" in done.stderr


def test_timeout_in_text_mode_prints_what_was_found(capsys):
    status, out, err = call(capsys, "solve", "queens", 30, "--all",
                            "--timeout", 0.2)

    assert status == 3
    assert "(timed out)" in out.splitlines()[-1]
    assert "timed out after 0.2 s" in err


@pytest.mark.skipif(sys.platform == "win32",
                    reason="SIGINT cannot be sent to a child on Windows")
def test_ctrl_c_exits_130_without_a_traceback(tmp_path):
    path = write(tmp_path, "no_answer.py", NO_ANSWER_PROGRAM)
    # A shell that starts a job in the background (CI runners can) makes
    # it ignore SIGINT, and Python then leaves Ctrl-C ignored.  Exec the
    # command with SIGINT at its default, as a terminal would give it.
    command = [command_path(), "run", str(path)]
    exec_with_default_sigint = (
        "import os, signal, sys; "
        "signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", exec_with_default_sigint, *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The first progress line says that the search is under way.
        ready, _, _ = select.select([child.stderr], [], [], 20)
        first = child.stderr.readline() if ready else ""
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert re.match(r"kando-parallel: [12] s,", first)
    assert child.returncode == 130
    assert "interrupted" in err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


STUCK_PYGOAL_PROGRAM = """\
import time
from kando_parallel import disj, eq, pygoal, var

def stuck(state):
    while True:
        time.sleep(0.05)

query = var()
goal = disj(eq(query, 1), pygoal(stuck))
"""


def test_timeout_ends_the_command_even_with_python_code_stuck_in_a_worker(
        tmp_path):
    path = write(tmp_path, "stuck.py", STUCK_PYGOAL_PROGRAM)
    start = time.monotonic()

    done = run_command("run", path, "--workers", "2", "--timeout", "1",
                       timeout=60)

    assert done.returncode == 3
    assert "timed out" in done.stderr
    assert time.monotonic() - start < 30


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    # As in `kando-parallel run many.py | head -1`, with more output than
    # a pipe holds, so that the writer does meet the closed pipe.
    path = write(tmp_path, "many.py", MANY_ANSWERS_PROGRAM)
    child = subprocess.Popen(
        [command_path(), "run", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = child.stdout.readline()
    child.stdout.close()
    try:
        err = child.stderr.read()
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert first.strip()
    assert child.returncode == 141
    assert b"Traceback" not in err and b"BrokenPipe" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_an_error_message():
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [command_path(), "solve", "queens", "6", "--all"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
        )

    assert done.returncode == 1
    assert "cannot write the output" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("text, message", [
    ("import sys\nsys.exit(7)\n", "called exit(7)"),
    ("query = 1\x00\n", "null bytes"),
    (
        "from kando_parallel import eq, var\n"
        "class Shy:\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no')\n"
        "query = var()\n"
        "goal = eq(query, Shy())\n",
        "an answer cannot be shown",
    ),
])
def test_a_program_that_exits_or_cannot_be_shown_is_reported(
        tmp_path, text, message):
    path = tmp_path / "odd.py"
    path.write_bytes(text.encode())

    done = run_command("run", path)

    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- entry points


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "kando_parallel", "--version"],
        capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 0
    assert done.stdout.startswith("kando-parallel ")


def test_python_dash_m_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "kando_parallel", "solve"],
        capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 2
    assert "usage:" in done.stderr
