"""Puzzles solved by the ``kando-parallel`` command, as relational
programs: each module builds a goal and names its answer."""
