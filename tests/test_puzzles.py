"""The zebra puzzle and 8 queens, through the library and the command,
sequentially and on two workers.

Each puzzle is solved once per way of running it: the sequential library
results are shared by the tests that check them.
"""

import json
import sys

import pytest
from conftest import run_command

import kando_parallel
from kando_parallel import run
from kando_parallel.puzzles.queens import is_solution, queens_goal
from kando_parallel.puzzles.zebra import zebra_goals
from kando_parallel.solver import solve

QUEENS_8 = 92


def check_queens(solutions, n=8):
    """All 92 solutions of 8 queens, each valid, none repeated."""
    as_tuples = [tuple(columns) for columns in solutions]
    assert len(as_tuples) == QUEENS_8
    assert len(set(as_tuples)) == QUEENS_8
    assert all(len(columns) == n for columns in as_tuples)
    assert all(is_solution(columns) for columns in as_tuples)


def check_zebra_pairs(pairs):
    assert pairs == [("japanese", "norwegian")]


def check_houses(houses):
    """The unique solution of the puzzle, house by house."""
    assert [house[0] for house in houses] == [
        "norwegian", "ukrainian", "englishman", "spaniard", "japanese",
    ]
    assert [house[1] for house in houses] == [
        "fox", "horse", "snails", "dog", "zebra",
    ]
    assert [house[2] for house in houses] == [
        "water", "tea", "milk", "orangejuice", "coffee",
    ]


# ---------------------------------------------------------------- library


@pytest.fixture(scope="module")
def zebra_answers():
    houses, owner, drinker, goals = zebra_goals()
    return run(0, (owner, drinker, houses), *goals)


@pytest.fixture(scope="module")
def queens_answers():
    queens, goal = queens_goal(8)
    return run(0, queens, goal)


def test_zebra_japanese_owns_the_zebra_norwegian_drinks_water(
        zebra_answers):
    check_zebra_pairs([(owner, drinker)
                       for owner, drinker, _ in zebra_answers])


def test_zebra_solution_is_the_known_one(zebra_answers):
    check_houses(zebra_answers[0][2])


def test_queens_92_distinct_valid_solutions(queens_answers):
    check_queens(queens_answers)


def test_queens_first_solution():
    queens, goal = queens_goal(8)

    first = run(1, queens, goal)

    assert len(first) == 1
    assert is_solution(first[0])


@pytest.mark.parametrize("n, count", [(1, 1), (2, 0), (3, 0), (4, 2),
                                      (5, 10), (6, 4)])
def test_queens_small_boards(n, count):
    queens, goal = queens_goal(n)

    solutions = run(0, queens, goal)

    assert len(set(solutions)) == len(solutions) == count
    assert all(is_solution(columns) for columns in solutions)


def test_queens_rejects_a_bad_size():
    with pytest.raises(ValueError):
        queens_goal(0)


def test_solve_gives_what_run_gives(queens_answers):
    queens, goal = queens_goal(8)

    assert solve(queens, goal, limit=5) == queens_answers[:5]


def test_zebra_on_two_workers():
    houses, owner, drinker, goals = zebra_goals()

    answers = solve((owner, drinker, houses), *goals, workers=2)

    check_zebra_pairs([(owner, drinker) for owner, drinker, _ in answers])
    check_houses(answers[0][2])


def test_queens_on_two_workers():
    queens, goal = queens_goal(8)

    check_queens(solve(queens, goal, workers=2))


# ---------------------------------------------------------------- command


def command_json(*args):
    done = run_command(*args, "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["backend"] == kando_parallel.__backend__
    return record


@pytest.mark.parametrize("workers", [1, 2])
def test_command_zebra(workers):
    record = command_json("solve", "zebra", "--workers", workers)

    assert record["puzzle"] == "zebra"
    assert record["count"] == 1
    answer = record["answers"][0]
    assert (answer["zebra_owner"], answer["water_drinker"]) == (
        "japanese", "norwegian",
    )
    check_houses([(h["nationality"], h["pet"], h["drink"])
                  for h in answer["houses"]])
    assert record["workers"] == workers


@pytest.mark.parametrize("workers", [1, 2])
def test_command_queens_all(workers):
    record = command_json("solve", "queens", 8, "--all",
                          "--workers", workers)

    assert record["puzzle"] == "queens"
    assert record["n"] == 8
    assert record["count"] == QUEENS_8
    check_queens(record["answers"])
    assert record["workers"] == workers


def test_command_zebra_text(zebra_answers, monkeypatch, capsys):
    # The text rendering of the answers found above, without searching
    # again: the command's search step hands back the library's answers.
    from kando_parallel import cli

    def found(query, goals, args, limit):
        return cli.Outcome(zebra_answers, 1.5, False, args.workers)

    monkeypatch.setattr(cli, "search", found)

    assert cli.main(["solve", "zebra"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "The Japanese owns the zebra.", "The Norwegian drinks water.",
    ]
    assert lines[2].startswith("1 solution in 1.50 s (")
    assert len(lines) == 3


def test_command_queens_text_limit():
    done = run_command("solve", "queens", 8, "--limit", 3)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    boards = [tuple(map(int, line.split())) for line in lines[:3]]
    assert all(is_solution(board) for board in boards)
    assert len(set(boards)) == 3
    assert lines[3].startswith("3 solutions in ")


def test_module_entry_point_solves_queens():
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "kando_parallel", "solve", "queens", "6",
         "--all", "--json"],
        capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["count"] == 4
