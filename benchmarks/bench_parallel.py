"""Parallel speed-up: the same search on 1 and on N worker threads.

Each run is a fresh child process (so that no run warms another's
caches), and the figure is the median of the repetitions.  The answers
of every run are checked against the one-worker run's.

Run:  python benchmarks/bench_parallel.py [--reps 3] [--workers 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
from kando_parallel import __backend__
from kando_parallel.solver import solve
from kando_parallel.puzzles.queens import queens_goal
from kando_parallel.puzzles.zebra import zebra_goals

puzzle, workers = sys.argv[1], int(sys.argv[2])
if puzzle == "zebra":
    _, owner, drinker, goals = zebra_goals()
    query = (owner, drinker)
else:
    query, goal = queens_goal(int(puzzle.split("-")[1]))
    goals = [goal]
start = time.perf_counter()
answers = solve(query, *goals, workers=workers)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "backend": __backend__,
                  "answers": sorted(map(repr, answers))}))
"""

PUZZLES = ["queens-9", "queens-10", "zebra"]


def measure(puzzle, workers, reps):
    runs = []
    for _ in range(reps):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, puzzle, str(workers)],
            capture_output=True, text=True, check=True, timeout=600,
        )
        runs.append(json.loads(done.stdout))
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs; median of {args.reps} runs, each in a "
          "fresh process")
    for puzzle in PUZZLES:
        one = measure(puzzle, 1, args.reps)
        many = measure(puzzle, args.workers, args.reps)
        same = all(run["answers"] == one[0]["answers"] for run in one + many)
        t1 = statistics.median(run["seconds"] for run in one)
        tn = statistics.median(run["seconds"] for run in many)
        print(f"{puzzle:10} [{one[0]['backend']}] 1 worker {t1:7.3f} s, "
              f"{args.workers} workers {tn:7.3f} s: speed-up "
              f"{t1 / tn:4.2f}x; {len(one[0]['answers'])} answers, "
              f"same on every run: {'yes' if same else 'NO'}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
