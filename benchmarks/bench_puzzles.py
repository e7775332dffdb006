"""Zebra and 8 queens: kando-parallel against kanren, in the same run.

Both libraries solve the same formulations, built here from one
description of each puzzle:

* zebra: five houses as a list of five logic variables, each house a
  5-tuple (nationality, pet, drink, smoke, colour); the 14 clues in their
  published order (2 to 15), then the two questions (who owns the zebra,
  who drinks water); ``membero`` for "some house", a recursive ``righto``
  over the list for "immediately right of", ``nexto`` as the disjunction
  of the two ``righto``; every solution is asked for.
* 8 queens: queen ``i`` stands in row ``i`` and its value is its column;
  a fact table ``safe(d, a, b)`` holds every pair of columns two queens
  ``d`` rows apart may take; the goal is the conjunction of
  ``safe(k - i, q_i, q_k)`` for every pair, nearest rows first; every
  solution is asked for.

Method: every repetition runs in a fresh child process (this file with
``--child``).  The child imports the library, then times building the
goals and finding every solution with ``time.perf_counter``, and prints
the time and the answers as one JSON line.  The parent checks the
answers of each run (zebra: one solution, the Japanese owns the zebra and
the Norwegian drinks water; queens: 92 distinct valid solutions; both
libraries the same answers), and reports the median and the fastest run
of each library and the ratio of the medians, kanren / kando-parallel.

The bar: kando-parallel with its compiled core is at least 20 times
faster than kanren on both puzzles.  ``--pure`` also measures the pure
Python twin (``KANDO_PARALLEL_PURE=1`` in the child), which the bar does
not apply to.  If ``swipl`` is on the PATH, ``benchmarks/zebra.pl`` runs
the same zebra in SWI-Prolog as a native anchor.

Run from the repository root, with kando-parallel and ``minikanren``
installed (``pip install -e .[bench]``)::

    python benchmarks/bench_puzzles.py
    python benchmarks/bench_puzzles.py --pure --reps 3 --kanren-reps 1
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAR = 20.0
CHILD_TIMEOUT_S = 900

FIELDS = ("nationality", "pet", "drink", "smoke", "colour")

# The clues in their published order: (number, kind, house patterns...).
# A pattern names some fields of one house; the others are unknown.
CLUES = [
    (2, "member", {"nationality": "englishman", "colour": "red"}),
    (3, "member", {"nationality": "spaniard", "pet": "dog"}),
    (4, "member", {"drink": "coffee", "colour": "green"}),
    (5, "member", {"nationality": "ukrainian", "drink": "tea"}),
    (6, "right", {"colour": "ivory"}, {"colour": "green"}),
    (7, "member", {"pet": "snails", "smoke": "oldgold"}),
    (8, "member", {"smoke": "kools", "colour": "yellow"}),
    (9, "at", 2, {"drink": "milk"}),
    (10, "at", 0, {"nationality": "norwegian"}),
    (11, "next", {"smoke": "chesterfields"}, {"pet": "fox"}),
    (12, "next", {"smoke": "kools"}, {"pet": "horse"}),
    (13, "member", {"drink": "orangejuice", "smoke": "luckystrike"}),
    (14, "member", {"nationality": "japanese", "smoke": "parliaments"}),
    (15, "next", {"nationality": "norwegian"}, {"colour": "blue"}),
]

QUEENS = 8
QUEENS_SOLUTIONS = 92


# ---------------------------------------------------------------- puzzles


class Library:
    """What the puzzle builders need from a miniKanren library."""

    def __init__(self, var, eq, conj, disj, membero, righto, run, facts):
        self.var = var
        self.eq = eq
        self.conj = conj
        self.disj = disj
        self.membero = membero
        self.righto = righto
        self.run = run
        self.facts = facts


def kando_library():
    import kando_parallel as kp

    @kp.relation
    def righto(left, right, houses):
        return kp.conde(
            [kp.fresh(lambda rest: kp.eq(
                kp.cons(left, kp.cons(right, rest)), houses))],
            [kp.fresh(lambda first, rest: kp.conj(
                kp.eq(kp.cons(first, rest), houses),
                righto(left, right, rest)))],
        )

    def run_all(query, goals):
        return kp.run(0, query, *goals)

    return Library(kp.var, kp.eq, kp.conj, kp.disj, kp.membero, righto,
                   run_all, kp.Facts)


def kanren_library():
    import kanren
    from cons import cons
    from kanren.core import Zzz

    def righto(left, right, houses):
        first, rest, after = kanren.var(), kanren.var(), kanren.var()
        return kanren.conde(
            [kanren.eq(cons(left, cons(right, after)), houses)],
            [kanren.eq(cons(first, rest), houses),
             Zzz(righto, left, right, rest)],
        )

    def run_all(query, goals):
        return kanren.run(0, query, *goals)

    def facts(name, rows):
        table = kanren.Relation(name)
        kanren.facts(table, *rows)
        return table

    return Library(kanren.var, kanren.eq, kanren.lall, kanren.lany,
                   kanren.membero, righto, run_all, facts)


def zebra(lib):
    """Every solution: ``[(owner, drinker, houses)]``."""
    houses = [lib.var() for _ in range(5)]

    def house(**known):
        return tuple(known[f] if f in known else lib.var() for f in FIELDS)

    def nexto(a, b):
        return lib.disj(lib.righto(a, b, houses), lib.righto(b, a, houses))

    goals = []
    for clue in CLUES:
        kind = clue[1]
        if kind == "member":
            goals.append(lib.membero(house(**clue[2]), houses))
        elif kind == "right":
            goals.append(lib.righto(house(**clue[2]), house(**clue[3]),
                                    houses))
        elif kind == "at":
            goals.append(lib.eq(houses[clue[2]], house(**clue[3])))
        else:
            goals.append(nexto(house(**clue[2]), house(**clue[3])))

    owner, drinker = lib.var(), lib.var()
    goals.append(lib.membero(house(nationality=owner, pet="zebra"),
                             houses))
    goals.append(lib.membero(house(nationality=drinker, drink="water"),
                             houses))
    return lib.run((owner, drinker, houses), goals)


def queens(lib, n=QUEENS):
    """Every solution: tuples of the columns of the queens."""
    rows = [
        (d, a, b)
        for d in range(1, n)
        for a in range(1, n + 1)
        for b in range(1, n + 1)
        if a != b and abs(a - b) != d
    ]
    safe = lib.facts("safe", rows)
    board = tuple(lib.var() for _ in range(n))
    goals = [
        safe(k - i, board[i], board[k])
        for k in range(1, n)
        for i in range(k - 1, -1, -1)
    ]
    return lib.run(board, [lib.conj(*goals)])


PUZZLES = {"zebra": zebra, "queens": queens}
LIBRARIES = {"kando": kando_library, "kanren": kanren_library}


def plain(value):
    """Answers as JSON data: every sequence a list."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def child(library, puzzle):
    """Time one solution of ``puzzle``; print the result as JSON."""
    lib = LIBRARIES[library]()
    backend = None
    if library == "kando":
        import kando_parallel

        backend = kando_parallel.__backend__

    start = time.perf_counter()
    answers = PUZZLES[puzzle](lib)
    seconds = time.perf_counter() - start

    print(json.dumps({"seconds": seconds, "backend": backend,
                      "answers": plain(list(answers))}))


# ---------------------------------------------------------------- checks


def check_zebra(answers):
    """A reason the answers are wrong, or ``None``."""
    if len(answers) != 1:
        return f"{len(answers)} solutions, expected 1"
    owner, drinker, houses = answers[0]
    if (owner, drinker) != ("japanese", "norwegian"):
        return f"owner {owner}, drinker {drinker}"
    if len(houses) != 5 or any(len(h) != 5 for h in houses):
        return "houses are not five 5-tuples"
    return None


def valid_board(columns):
    n = len(columns)
    return sorted(columns) == list(range(1, n + 1)) and all(
        abs(columns[i] - columns[j]) != j - i
        for i in range(n)
        for j in range(i + 1, n)
    )


def check_queens(answers):
    boards = {tuple(board) for board in answers}
    if len(answers) != QUEENS_SOLUTIONS or len(boards) != len(answers):
        return (f"{len(answers)} solutions ({len(boards)} distinct), "
                f"expected {QUEENS_SOLUTIONS}")
    if not all(valid_board(board) for board in boards):
        return "a solution is not valid"
    return None


CHECKS = {"zebra": check_zebra, "queens": check_queens}


def canonical_answers(puzzle, answers):
    if puzzle == "queens":
        return sorted(tuple(board) for board in answers)
    return json.dumps(answers, sort_keys=True)


# ---------------------------------------------------------------- parent


class Measurement:
    """The repetitions of one library on one puzzle."""

    def __init__(self, label, library, puzzle, pure):
        self.label = label
        self.library = library
        self.puzzle = puzzle
        self.pure = pure
        self.times = []
        self.backend = None
        self.answers = None
        self.error = None

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None

    def run(self, reps):
        env = dict(os.environ)
        env.pop("KANDO_PARALLEL_PURE", None)
        if self.pure:
            env["KANDO_PARALLEL_PURE"] = "1"
        command = [sys.executable, str(Path(__file__).resolve()),
                   "--child", self.library, self.puzzle]

        for _ in range(reps):
            try:
                done = subprocess.run(command, env=env, capture_output=True,
                                      text=True, timeout=CHILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.error = f"no result within {CHILD_TIMEOUT_S} s"
                return
            if done.returncode != 0:
                said = done.stderr.strip().splitlines()
                self.error = said[-1] if said else (
                    f"exit status {done.returncode}"
                )
                return

            result = json.loads(done.stdout)
            wrong = CHECKS[self.puzzle](result["answers"])
            if wrong:
                self.error = f"wrong answers: {wrong}"
                return
            self.times.append(result["seconds"])
            self.backend = result["backend"]
            self.answers = canonical_answers(self.puzzle, result["answers"])


def swipl_zebra(reps):
    """Seconds per zebra solve in SWI-Prolog, or ``None`` without it."""
    swipl = shutil.which("swipl")
    if swipl is None:
        return None
    done = subprocess.run(
        [swipl, "-O", "-q", str(HERE / "zebra.pl"), str(reps)],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
    )
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"swipl gave no result: {done.stderr.strip()}")


def show_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds:.3f} s"


def measure(args):
    import kando_parallel

    print(f"kando-parallel {kando_parallel.__version__}; kanren "
          f"{installed_version('minikanren')}; Python "
          f"{platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"method: each repetition in a fresh child process; median of "
          f"{args.reps} runs of kando-parallel, {args.kanren_reps} of "
          f"kanren")
    print()

    results = []
    verdicts = []
    for puzzle in args.puzzles:
        kando = Measurement("kando-parallel", "kando", puzzle, False)
        kanren = Measurement("kanren", "kanren", puzzle, False)
        rows = [kando]
        if args.pure:
            rows.append(Measurement("kando-parallel, forced pure",
                                    "kando", puzzle, True))
        rows.append(kanren)
        for row in rows:
            row.run(args.kanren_reps if row is kanren else args.reps)

        print(f"{puzzle} (all solutions)")
        for row in rows:
            label = row.label
            if row.backend:
                label += f" [{row.backend}]"
            if row.error:
                print(f"  {label:36} FAILED: {row.error}")
                continue
            ratio = ""
            if row is not kanren and kanren.median:
                ratio = f"kanren/kando = {kanren.median / row.median:,.1f}x"
            line = (f"  {label:36} median {show_time(row.median):>11}  "
                    f"min {show_time(min(row.times)):>11}  {ratio}")
            print(line.rstrip())
            results.append({"puzzle": puzzle, "library": row.label,
                            "backend": row.backend, "times_s": row.times,
                            "median_s": row.median})

        if kando.answers is not None and kanren.answers is not None:
            same = kando.answers == kanren.answers
            print(f"  same answers from both libraries: "
                  f"{'yes' if same else 'NO'}")
        else:
            same = False
        verdicts.append(bar_verdict(puzzle, kando, kanren, same))
        print()

    if args.puzzles and "zebra" in args.puzzles:
        anchor = swipl_zebra(max(args.reps, 3))
        if anchor is not None:
            print(f"native anchor: SWI-Prolog {anchor['version']} zebra, "
                  f"same clue order: {show_time(anchor['seconds'])} per "
                  f"solve (median of {anchor['reps']}), answer "
                  f"{anchor['owner']}/{anchor['drinker']}")
            results.append({"puzzle": "zebra", "library": "swipl",
                            "median_s": anchor["seconds"]})
            print()

    for line in verdicts:
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0 if all(line.startswith("PASS") for line in verdicts) else 1


def bar_verdict(puzzle, kando, kanren, same):
    """The PASS/FAIL line of the bar for one puzzle."""
    head = (f"{puzzle}: kando-parallel (compiled) >= {BAR:g}x faster "
            "than kanren:")
    if kando.error or kanren.error:
        return f"FAIL {head} a run failed"
    if not same:
        return f"FAIL {head} the libraries gave different answers"
    ratio = kanren.median / kando.median
    if kando.backend != "cython":
        return (f"FAIL {head} {ratio:,.1f}x, but the {kando.backend} "
                "backend was measured, not the compiled core")
    return f"{'PASS' if ratio >= BAR else 'FAIL'} {head} {ratio:,.1f}x"


def installed_version(distribution):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "(not installed)"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Zebra and 8 queens: kando-parallel against kanren."
    )
    parser.add_argument("--reps", type=int, default=5,
                        help="runs of kando-parallel per puzzle (5)")
    parser.add_argument("--kanren-reps", type=int, default=3,
                        help="runs of kanren per puzzle (3)")
    parser.add_argument("--pure", action="store_true",
                        help="also measure the pure-Python twin")
    parser.add_argument("--puzzles", nargs="+", choices=sorted(PUZZLES),
                        default=["zebra", "queens"])
    parser.add_argument("--json", metavar="FILE",
                        help="also write the times to FILE as JSON")
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "PUZZLE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(*args.child)
        return 0
    if args.reps < 1 or args.kanren_reps < 1:
        parser.error("--reps and --kanren-reps must be at least 1")
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
