"""The ``kando-parallel`` command: solve puzzles and run logic programs.

Commands
--------
``kando-parallel solve zebra``
    The five-house puzzle; prints who owns the zebra and who drinks
    water.  Searches for every solution unless ``--limit`` says otherwise.
``kando-parallel solve queens N``
    N queens on an N x N board; the first solution, ``--limit K`` of
    them, or ``--all``.
``kando-parallel run FILE``
    One's own relational program: ``FILE`` is a Python file that defines
    ``query`` (a term, usually a logic variable or a tuple of them) and
    ``goal`` (a goal) at module level.  Prints every answer, or the first
    ``--limit K``.

Every command takes ``--workers N``, ``--timeout S`` and ``--json``.  A run
that takes longer than a second reports its progress on stderr about once a
second.  ``docs/cli.md`` has the details and an example program.

Exit status
-----------
0 the search finished (whether or not it found answers); 1 the program
file could not be loaded or raised an error; 2 bad arguments; 3 the
``--timeout`` expired; 130 interrupted by Ctrl-C; 141 the reader of
the output went away (``kando-parallel ... | head``).

Examples
--------
>>> main(["solve", "queens", "6", "--all"])  # doctest: +ELLIPSIS
2 4 6 1 3 5
3 6 2 5 1 4
4 1 5 2 6 3
5 3 1 6 4 2
4 solutions in ... s (... backend, 1 worker)
0
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import runpy
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import kando_parallel
from kando_parallel.solver import SolveTimeout, solve

if TYPE_CHECKING:
    from kando_parallel import Goal
    from kando_parallel.solver import Progress

# Bad arguments exit with status 2 from inside argparse.
EXIT_OK = 0
EXIT_PROGRAM = 1
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it

PROG = "kando-parallel"

# solve() gains a ``workers`` parameter with parallel evaluation; until it
# has one, ``--workers`` above 1 runs on one worker and the output says so.
SOLVE_TAKES_WORKERS = "workers" in inspect.signature(solve).parameters

RUN_HELP = """\
FILE is a Python file that defines two names at module level:

  query  the term whose values are the answers (a logic variable,
         or a tuple or list of them)
  goal   the goal to solve (combine several with conj or &)

For example:

  from kando_parallel import membero, var
  query = var()
  goal = membero(query, [1, 2, 3])

Each answer is printed on its own line, unbound variables as _0, _1...
Without --limit every answer is printed.
"""

EPILOG = """\
exit status: 0 done, 1 the program file failed, 2 bad arguments,
3 --timeout expired, 130 interrupted (Ctrl-C), 141 the output's reader
went away (a closed pipe)
"""


class ProgramError(Exception):
    """A program file could not be loaded or does not define a goal."""


# ---------------------------------------------------------------- arguments


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1, for argparse.

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
        ...
    argparse.ArgumentTypeError: expected a whole number >= 1, not '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0

    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= 1, not {text!r}"
        )
    return value


# Upper bounds that keep a typo from exhausting memory before the search
# starts: a worker holds a thread and queue places, and the queens fact
# table grows as N cubed (64 gives about 250,000 facts).
MAX_WORKERS = 256
MAX_QUEENS = 64


def int_at_most(high: int) -> Callable[[str], int]:
    """A parser of whole numbers from 1 to ``high``, for argparse.

    >>> int_at_most(8)("9")
    Traceback (most recent call last):
        ...
    argparse.ArgumentTypeError: expected a whole number from 1 to 8, not '9'
    """
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from 1 to {high}, not {text!r}"
            )
        return value

    parse.__name__ = "whole number"
    return parse


def positive_seconds(text: str) -> float:
    """Parse a finite number of seconds above 0, for argparse.

    >>> positive_seconds("0.5")
    0.5
    >>> positive_seconds("-1")
    Traceback (most recent call last):
        ...
    argparse.ArgumentTypeError: expected seconds > 0, not '-1'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan

    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"expected seconds > 0, not {text!r}"
        )
    return value


def search_options() -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser."""
    parent = argparse.ArgumentParser(add_help=False)
    how_many = parent.add_mutually_exclusive_group()
    how_many.add_argument(
        "--all", action="store_true",
        help="find every answer",
    )
    how_many.add_argument(
        "--limit", type=positive_int, metavar="K",
        help="stop after K answers",
    )
    parent.add_argument(
        "--workers", type=int_at_most(MAX_WORKERS), default=1,
        metavar="N",
        help=f"evaluate the search on N workers (default 1, at most "
        f"{MAX_WORKERS})",
    )
    parent.add_argument(
        "--timeout", type=positive_seconds, metavar="S",
        help="give up after S seconds (exit status 3)",
    )
    parent.add_argument(
        "--json", action="store_true",
        help="print one JSON object on stdout instead of text",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kando-parallel`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="miniKanren-style logic programming: solve puzzles "
        "and run\nrelational programs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version",
        version=f"{PROG} {kando_parallel.__version__} "
        f"({kando_parallel.__backend__} backend)",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True
    )
    options = search_options()

    solve_parser = commands.add_parser(
        "solve", help="solve a built-in puzzle",
        description="Solve a built-in puzzle.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    puzzles = solve_parser.add_subparsers(
        dest="puzzle", metavar="PUZZLE", required=True
    )
    zebra = puzzles.add_parser(
        "zebra", parents=[options],
        help="the five-house puzzle: who owns the zebra?",
        description="The five-house (zebra) puzzle with its 14 clues.\n"
        "Finds every solution unless --limit is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    zebra.set_defaults(handler=solve_zebra)
    queens = puzzles.add_parser(
        "queens", parents=[options],
        help="place N queens on an N x N board",
        description="Place N queens on an N x N board so that none "
        "attacks another.\nFinds the first solution unless --all or "
        "--limit is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    queens.add_argument(
        "n", type=int_at_most(MAX_QUEENS), metavar="N",
        help=f"the size of the board (at most {MAX_QUEENS})",
    )
    queens.set_defaults(handler=solve_queens)

    run_parser = commands.add_parser(
        "run", parents=[options],
        help="run one's own relational program file",
        description="Run a relational program file.\n\n" + RUN_HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument(
        "file", metavar="FILE", help="a Python file defining query and goal"
    )
    run_parser.set_defaults(handler=run_program)
    return parser


def answer_limit(
    args: argparse.Namespace, default: int | None
) -> int | None:
    """The ``limit`` for solve(): ``None`` for all answers."""
    if args.all:
        return None
    limit: int | None = args.limit
    if limit is not None:
        return limit
    return default


# ---------------------------------------------------------------- output


def to_json(value: object) -> Any:
    """Convert an answer to JSON data, iteratively.

    Tuples and lists become arrays, dicts with string keys objects, and
    strings, numbers, booleans and ``None`` stay; anything else, such as
    an unbound ``_0`` or a partial list, becomes its ``repr``.

    >>> from kando_parallel import Unbound, cons
    >>> to_json((1, ["a", Unbound(0)], cons(2, Unbound(1))))
    [1, ['a', '_0'], '(2 . _1)']
    """
    out: list[Any] = []
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        building, item = stack.pop()
        if building:
            kind, count = item
            parts = out[len(out) - count:]
            del out[len(out) - count:]
            if kind is dict:
                out.append(dict(zip(parts[0::2], parts[1::2])))
            else:
                out.append(parts)
            continue

        if item is None or type(item) in (bool, int, str):
            out.append(item)
        elif type(item) is float and math.isfinite(item):
            out.append(item)
        elif isinstance(item, (tuple, list)):
            stack.append((True, (list, len(item))))
            stack.extend((False, part) for part in reversed(item))
        elif type(item) is dict and all(type(k) is str for k in item):
            stack.append((True, (dict, 2 * len(item))))
            for key, part in reversed(list(item.items())):
                stack.append((False, part))
                stack.append((False, key))
        else:
            out.append(repr(item))
    return out[0]


def plural(count: int, word: str) -> str:
    """``1 solution``, ``2 solutions``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(outcome: Outcome, noun: str) -> str:
    """The last line of text output: how many, how long, how."""
    found = plural(len(outcome.answers), noun)
    if outcome.timed_out:
        found += " (timed out)"
    return (
        f"{found} in {outcome.seconds:.2f} s "
        f"({kando_parallel.__backend__} backend, "
        f"{plural(outcome.workers, 'worker')})"
    )


def report_progress(progress: Progress) -> None:
    """Print a :class:`~kando_parallel.solver.Progress` on stderr."""
    print(
        f"{PROG}: {progress.elapsed:.0f} s, "
        f"{plural(progress.answers, 'answer')} so far, "
        f"{progress.steps:,} steps, {progress.pending:,} pending",
        file=sys.stderr,
        flush=True,
    )


def emit_json(record: dict[str, Any]) -> None:
    """Write ``record`` as one line of JSON on stdout."""
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")


# ---------------------------------------------------------------- running


class Outcome:
    """The answers of a search, its time, and whether it timed out."""

    __slots__ = ("answers", "seconds", "timed_out", "workers")

    def __init__(
        self,
        answers: list[Any],
        seconds: float,
        timed_out: bool,
        workers: int,
    ) -> None:
        self.answers = answers
        self.seconds = seconds
        self.timed_out = timed_out
        self.workers = workers


def search(
    query: object,
    goals: Sequence[Goal],
    args: argparse.Namespace,
    limit: int | None,
) -> Outcome:
    """Run solve() for the command's options; an :class:`Outcome`.

    A timeout is not an error here: the outcome records it, with the
    answers found before the deadline.
    """
    options: dict[str, Any] = {
        "limit": limit,
        "timeout": args.timeout,
        "progress": report_progress,
    }
    workers: int = 1
    if SOLVE_TAKES_WORKERS:
        options["workers"] = workers = args.workers
    elif args.workers > 1:
        print(
            f"{PROG}: parallel evaluation is not available in this "
            f"build; running on 1 worker instead of {args.workers}",
            file=sys.stderr,
        )

    start = time.perf_counter()
    try:
        answers = solve(query, *goals, **options)
        timed_out = False
    except SolveTimeout as exc:
        answers = exc.answers
        timed_out = True
    seconds = time.perf_counter() - start

    return Outcome(answers, seconds, timed_out, workers)


def finish(
    outcome: Outcome,
    args: argparse.Namespace,
    record: dict[str, Any] | None = None,
) -> int:
    """Print ``record`` as JSON if given, report a timeout; the status."""
    if record is not None:
        record.update(
            count=len(outcome.answers),
            seconds=round(outcome.seconds, 6),
            timed_out=outcome.timed_out,
            workers=outcome.workers,
            backend=kando_parallel.__backend__,
            version=kando_parallel.__version__,
        )
        emit_json(record)

    if outcome.timed_out:
        print(
            f"{PROG}: timed out after {args.timeout:g} s "
            f"with {plural(len(outcome.answers), 'answer')} found",
            file=sys.stderr,
        )
        return EXIT_TIMEOUT
    return EXIT_OK


HOUSE_FIELDS = ("nationality", "pet", "drink", "smoke", "colour")


def solve_zebra(args: argparse.Namespace) -> int:
    from kando_parallel.puzzles.zebra import zebra_goals

    houses, owner, drinker, goals = zebra_goals()
    limit = answer_limit(args, None)
    outcome = search((owner, drinker, houses), goals, args, limit)

    answers = [
        {
            "zebra_owner": found_owner,
            "water_drinker": found_drinker,
            "houses": [
                dict(zip(HOUSE_FIELDS, house)) for house in found_houses
            ],
        }
        for found_owner, found_drinker, found_houses in outcome.answers
    ]
    if args.json:
        record: dict[str, Any] = {"puzzle": "zebra", "limit": limit}
        record["answers"] = to_json(answers)
        return finish(outcome, args, record)

    for answer in answers:
        print(f"The {answer['zebra_owner'].title()} owns the zebra.")
        print(f"The {answer['water_drinker'].title()} drinks water.")
    print(summary_line(outcome, "solution"))
    return finish(outcome, args)


def solve_queens(args: argparse.Namespace) -> int:
    from kando_parallel.puzzles.queens import queens_goal

    queens, goal = queens_goal(args.n)
    limit = answer_limit(args, 1)
    outcome = search(queens, [goal], args, limit)

    answers = [list(columns) for columns in outcome.answers]
    if args.json:
        record: dict[str, Any] = {
            "puzzle": "queens", "n": args.n, "limit": limit
        }
        record["answers"] = answers
        return finish(outcome, args, record)

    for columns in answers:
        print(" ".join(str(column) for column in columns))
    print(summary_line(outcome, "solution"))
    return finish(outcome, args)


def load_program(path: str) -> tuple[object, Goal]:
    """Load a program file; its ``(query, goal)``.

    Raises :class:`ProgramError` with a message fit for the user when the
    file cannot be read or run, or does not define a goal.
    """
    if os.path.isdir(path):
        raise ProgramError(f"{path}: cannot read a directory")

    # As ``python FILE`` does, let the program import its neighbours.
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        namespace = runpy.run_path(path, run_name="__kando_program__")
    except OSError as exc:
        raise ProgramError(f"{path}: cannot read: {exc.strerror}") from exc
    except SyntaxError as exc:
        line = "" if exc.lineno is None else f", line {exc.lineno}"
        raise ProgramError(f"{path}{line}: syntax error: {exc.msg}") from exc
    except ValueError as exc:
        # compile() refuses source with a null byte this way.
        raise ProgramError(f"{path}: cannot run: {exc}") from exc
    except SystemExit as exc:
        raise ProgramError(
            f"{path}: the program called exit({exc.code!r}) while loading"
        ) from exc
    except Exception as exc:
        where = program_line(exc, path)
        raise ProgramError(
            f"{path}{where}: {type(exc).__name__}: {exc}"
        ) from exc

    missing = [name for name in ("query", "goal") if name not in namespace]
    if missing:
        names = " and ".join(missing)
        raise ProgramError(
            f"{path}: must define {names} at module level "
            f"(see '{PROG} run --help')"
        )
    goal = namespace["goal"]
    if not isinstance(goal, kando_parallel.Goal):
        raise ProgramError(
            f"{path}: goal must be a goal (made with eq, conj, a "
            f"relation...), not {type(goal).__name__}"
        )
    return namespace["query"], goal


def program_line(exc: BaseException, path: str) -> str:
    """``", line N"`` for the deepest frame of ``exc`` in ``path``."""
    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = f", line {frame.lineno}"
    return line


def run_program(args: argparse.Namespace) -> int:
    query, goal = load_program(args.file)
    limit = answer_limit(args, None)
    try:
        outcome = search(query, [goal], args, limit)
    except Exception as exc:
        where = program_line(exc, args.file)
        raise ProgramError(
            f"{args.file}{where}: the search raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc

    if args.json:
        record: dict[str, Any] = {"program": args.file, "limit": limit}
        record["answers"] = [to_json(answer) for answer in outcome.answers]
        return finish(outcome, args, record)

    for answer in outcome.answers:
        try:
            shown = repr(answer)
        except Exception as exc:
            raise ProgramError(
                f"{args.file}: an answer cannot be shown: its repr() raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        print(shown)
    print(summary_line(outcome, "answer"))
    return finish(outcome, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status; see the module docstring for its values.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        status: int = args.handler(args)
        return status
    except ProgramError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_PROGRAM
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly, as Unix
        # tools do, and keep Python from complaining about stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"{PROG}: cannot write the output: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_PROGRAM


def console_main() -> NoReturn:
    """The ``kando-parallel`` command and ``python -m kando_parallel``.

    Runs :func:`main` and exits with its status.  After a timeout or an
    interrupt the process ends at once, without waiting for threads: a
    relation's Python code stuck in a worker thread (an endless ``pygoal``)
    cannot be stopped, and must not keep the command from exiting.
    """
    status = main()
    if status in (EXIT_TIMEOUT, EXIT_INTERRUPTED):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(status)
    sys.exit(status)
