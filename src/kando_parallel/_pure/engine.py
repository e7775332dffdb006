"""Goals and the search.

The pure-Python twin of ``kando_parallel._core.engine``.

Goals are immutable data: ``Eq``, ``Conj``, ``Disj``, ``Fresh``, ``Call``
(a relation applied to argument terms), ``FactsQuery`` and ``PyGoal``
(a goal written in Python).  Building one never runs the search.

Relations.  ``@relation`` turns a Python function into a relation; calling
it returns a ``Call`` and does not run the function, so a relation can
name itself in its own body.  The first time a relation is expanded its
function is called once with placeholder variables, and the goal it
returns becomes a *template*: each later expansion copies the template,
putting the arguments in place of the placeholders and new variables in
place of the ones the body made, without calling Python.  A function that
looks at its arguments (compares them, tests their truth or type, does
arithmetic) cannot be a template; the placeholders notice most such looks,
and those relations, and any declared ``@relation(dynamic=True)``, are
called at every expansion with the current values of their arguments.

Search.  A *task* is a state (a substitution trie), the goal to run in it,
the continuation (the goals still to run after it, as a linked list of
conjunction positions) and, for a choice, the index of the next
alternative.  Tasks wait in one deque.  The running task goes depth
first: at a choice it takes the first alternative and pushes the rest of
the choice onto the front of the deque, as one task.  When it reaches a
relation call it is suspended: the expanded call goes to the back.  Every
task runs only finitely many steps between suspensions, so every task
gets its turn: the search is complete, and an infinite branch never
starves a finite one.  ``run(n, ...)`` stops as soon as it has ``n``
answers.

Memory is what the live tasks hold.  States share structure, so a task
costs its continuation and the bindings it added; answers are reified and
dropped as they are consumed.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    NoReturn,
    SupportsIndex,
    cast,
    overload,
)

from kando_parallel._pure.subst import EMPTY, HNode, Substitution
from kando_parallel._pure.terms import (
    TAG_MASK,
    TAG_VAR,
    Node,
    Var,
    canonical,
    new_var_id,
    reserve_var_ids,
    term_has_vars,
    to_term,
)
from kando_parallel._pure.unify import (
    CyclicTermError,
    find_cycle,
    to_python,
    unify_terms,
    walk_term,
)

if TYPE_CHECKING:
    from typing_extensions import Self, TypeAlias

    from kando_parallel._pure.terms import Term

    # A function that builds a goal from logic variables or values.
    GoalFn: TypeAlias = Callable[..., "Goal"]
    # The function of a Python goal: the current state to the states that
    # extend it (None items are skipped; None itself means no answers),
    # or to a goal that runs in its place.
    PyGoalFn: TypeAlias = Callable[
        [Substitution], Iterable[Substitution | None] | "Goal" | None
    ]
    # The rest of a conjunction: (the conjunction, the index of its next
    # part, the continuation after it); None when nothing is left.
    Cont: TypeAlias = "tuple[Conj, int, Cont] | None"
    # A task of the search: (state, goal, continuation, next alternative).
    Task: TypeAlias = tuple[HNode, "Goal", Cont, int]
    # Goals are told apart by their ``kind``, which mypy cannot narrow
    # by, so a goal that code dispatches on is typed AnyGoal.
    AnyGoal: TypeAlias = Any

SUCCEED = 0
FAIL = 1
EQ = 2
CONJ = 3
DISJ = 4
FRESH = 5
CALL = 6
FACTS = 7
PY = 8
PYSTREAM = 9


class Goal:
    """A goal: a description of a search, run by :func:`run`.

    Goals combine with ``&`` (conjunction) and ``|`` (disjunction).
    """

    __slots__ = ()
    kind = -1

    @property
    def label(self) -> str | None:
        """The table's name for a fact query, else None."""
        return None

    def __and__(self, other: Goal) -> Goal:
        return conj(self, other)

    def __or__(self, other: Goal) -> Goal:
        return disj(self, other)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            "a goal has no truth value; combine goals with conj/& and "
            "disj/|, and run them with run()"
        )


class _Succeed(Goal):
    __slots__ = ()
    kind = SUCCEED

    def __repr__(self) -> str:
        return "succeed"


class _Fail(Goal):
    __slots__ = ()
    kind = FAIL

    def __repr__(self) -> str:
        return "fail"


succeed = _Succeed()
fail = _Fail()


class Eq(Goal):
    __slots__ = ("u", "v")
    kind = EQ

    def __init__(self, u: Term, v: Term) -> None:
        self.u = u
        self.v = v

    def __repr__(self) -> str:
        return f"eq({_show(self.u)}, {_show(self.v)})"


class Conj(Goal):
    __slots__ = ("parts",)
    kind = CONJ

    def __init__(self, parts: tuple[Goal, ...]) -> None:
        self.parts = parts

    def __repr__(self) -> str:
        return "conj(" + ", ".join(map(repr, self.parts)) + ")"


class Disj(Goal):
    __slots__ = ("parts",)
    kind = DISJ

    def __init__(self, parts: tuple[Goal, ...]) -> None:
        self.parts = parts

    def __repr__(self) -> str:
        return "disj(" + ", ".join(map(repr, self.parts)) + ")"


class Fresh(Goal):
    """A body whose variables ``lo <= id < hi`` are new at every run."""

    __slots__ = ("lo", "hi", "body", "fn", "arity", "dynamic")
    kind = FRESH

    def __init__(
        self,
        lo: int,
        hi: int,
        body: Goal,
        fn: GoalFn,
        arity: int,
        dynamic: bool,
    ) -> None:
        self.lo = lo
        self.hi = hi
        self.body = body
        self.fn = fn
        self.arity = arity
        self.dynamic = dynamic

    def __repr__(self) -> str:
        return f"fresh({self.body!r})"


class Call(Goal):
    __slots__ = ("rel", "args")
    kind = CALL

    def __init__(self, rel: Relation, args: tuple[Term, ...]) -> None:
        self.rel = rel
        self.args = args

    def __repr__(self) -> str:
        shown = ", ".join(_show(arg) for arg in self.args)
        return f"{self.rel.name}({shown})"


class FactsQuery(Goal):
    __slots__ = ("table", "args")
    kind = FACTS

    def __init__(self, table: _FactTable, args: tuple[Term, ...]) -> None:
        self.table = table
        self.args = args

    @property
    def label(self) -> str | None:
        return self.table.name

    def __repr__(self) -> str:
        shown = ", ".join(_show(arg) for arg in self.args)
        return f"{self.table.name}({shown})"


class PyGoal(Goal):
    __slots__ = ("fn",)
    kind = PY

    def __init__(self, fn: PyGoalFn) -> None:
        self.fn = fn

    def __repr__(self) -> str:
        return f"pygoal({self.fn!r})"


class PyStream(Goal):
    """The rest of a Python goal's answers, while the search runs it."""

    __slots__ = ("iterator",)
    kind = PYSTREAM

    def __init__(self, iterator: Iterator[Substitution | None]) -> None:
        self.iterator = iterator

    def close(self) -> None:
        close = getattr(self.iterator, "close", None)
        if close is not None:
            close()


def _show(term: Term) -> str:
    return repr(to_python(term, None, False))


def _check_goal(goal: object, where: str) -> Goal:
    if not isinstance(goal, Goal):
        raise TypeError(
            f"{where} takes goals, not {type(goal).__name__} ({goal!r})"
        )
    return goal


def eq(u: object, v: object) -> Goal:
    """The goal that ``u`` and ``v`` unify.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> run(1, q, eq(q, (1, 2)))
    [(1, 2)]
    """
    return Eq(to_term(u), to_term(v))


def conj(*goals: Goal) -> Goal:
    """The goal that every goal of ``goals`` holds (in one state)."""
    parts: list[Goal] = []
    goal: AnyGoal
    for goal in goals:
        _check_goal(goal, "conj()")
        if goal.kind == CONJ:
            parts.extend(goal.parts)
        elif goal.kind != SUCCEED:
            parts.append(goal)
    if not parts:
        return succeed
    if len(parts) == 1:
        return parts[0]
    return Conj(tuple(parts))


def disj(*goals: Goal) -> Goal:
    """The goal that at least one goal of ``goals`` holds."""
    parts: list[Goal] = []
    goal: AnyGoal
    for goal in goals:
        _check_goal(goal, "disj()")
        if goal.kind == DISJ:
            parts.extend(goal.parts)
        elif goal.kind != FAIL:
            parts.append(goal)
    if not parts:
        return fail
    if len(parts) == 1:
        return parts[0]
    return Disj(tuple(parts))


def conde(*clauses: Goal | list[Goal] | tuple[Goal, ...]) -> Goal:
    """A disjunction of conjunctions: each clause is a list of goals.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> sorted(run(0, q, conde([eq(q, 1)], [eq(q, 2)])))
    [1, 2]
    """
    branches = []
    for clause in clauses:
        if isinstance(clause, Goal):
            branches.append(clause)
        elif isinstance(clause, (list, tuple)):
            branches.append(conj(*clause))
        else:
            raise TypeError(
                "conde() clauses are lists of goals, not "
                f"{type(clause).__name__}"
            )
    return disj(*branches)


def _arity(fn: Callable[..., object]) -> int | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            if parameter.default is not parameter.empty:
                return None
            count += 1
        elif parameter.kind == parameter.VAR_POSITIONAL:
            return None
    return count


def _param_names(fn: Callable[..., object], count: int) -> list[str | None]:
    names: list[str | None]
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    names += [None] * count
    return names[:count]


@overload
def fresh(count_or_fn: GoalFn, fn: None = None) -> Goal: ...


@overload
def fresh(count_or_fn: int, fn: GoalFn) -> Goal: ...


def fresh(count_or_fn: Any, fn: Any = None) -> Goal:
    """Introduce new variables: ``fresh(lambda x, y: goal)``.

    The function is called with as many new variables as it has
    parameters (or ``fresh(n, fn)`` with ``n``), and the goal it returns
    is the body.  Each time the search runs the fresh goal, the variables
    are new ones.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> run(1, q, fresh(lambda x: eq(q, (x, x))))
    [(_0, _0)]
    """
    if fn is None:
        fn = count_or_fn
        if not callable(fn):
            raise TypeError("fresh() takes a function returning a goal")
        count = _arity(fn)
        if count is None:
            raise TypeError(
                "fresh(fn) needs a function with a fixed number of "
                "positional parameters; use fresh(n, fn) otherwise"
            )
    else:
        count = count_or_fn
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise TypeError(f"fresh(n, fn) needs an int n >= 0, not {count!r}")
        if not callable(fn):
            raise TypeError("fresh(n, fn) takes a function returning a goal")

    lo = new_var_id()
    names = _param_names(fn, count)
    params = [Var(name) for name in names]
    body = fn(*params)
    _check_goal(body, f"the body of fresh({fn!r})")
    hi = new_var_id()
    body, dynamic = compile_goal(body, lo, hi)
    return Fresh(lo, hi, body, fn, count, dynamic)


def pygoal(fn: PyGoalFn) -> Goal:
    """A goal written in Python: ``fn(s)`` yields substitutions.

    ``fn`` receives the current :class:`Substitution` and returns an
    iterable of substitutions that extend it (from :func:`unify`, say);
    ``None`` items are skipped, and give the search a chance to run other
    branches and to notice a cancellation.  The search takes one answer
    at a time and closes the iterable when it stops early.  ``fn`` may
    also return a goal, which then runs in its place.

    >>> from kando_parallel import var, run, unify
    >>> q = var()
    >>> def small(s):
    ...     for n in range(3):
    ...         yield unify(q, n, s)
    >>> run(0, q, pygoal(small))
    [0, 1, 2]
    """
    if not callable(fn):
        raise TypeError("pygoal() takes a function of a substitution")
    return PyGoal(fn)


# ---------------------------------------------------------------- compile


def compile_goal(goal: Goal, lo: int, hi: int) -> tuple[Goal, bool]:
    """Prepare a goal built with variables ``lo <= id < hi`` for search.

    A ``Fresh`` inside, whose variables lie in that range and which occurs
    only once, runs at most once each time the whole goal runs, so it is
    replaced by its body.  Returns ``(goal, dynamic)``; ``dynamic`` says
    that a Python goal occurs, whose closure may hold those variables, so
    that the goal cannot be copied with new variables.
    """
    counts: dict[int, int] = {}
    stack: list[AnyGoal] = [goal]
    while stack:
        node = stack.pop()
        key = id(node)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > 1:
            continue
        if node.kind in (CONJ, DISJ):
            stack.extend(node.parts)
        elif node.kind == FRESH:
            stack.append(node.body)

    dynamic = False
    built: dict[int, Goal] = {}

    def rebuild(node: AnyGoal) -> Goal:
        nonlocal dynamic
        kind = node.kind
        if kind == PY:
            dynamic = True
            return node
        if kind in (CONJ, DISJ):
            key = id(node)
            if key in built:
                return built[key]
            parts = tuple(rebuild(part) for part in node.parts)
            if all(a is b for a, b in zip(parts, node.parts)):
                result = node
            else:
                result = type(node)(parts)
            built[key] = result
            return result
        if kind == FRESH:
            if node.dynamic:
                dynamic = True
            if counts[id(node)] == 1 and lo <= node.lo and node.hi <= hi:
                return rebuild(node.body)
        return node

    return rebuild(goal), dynamic


# ---------------------------------------------------------------- copying


class _Renaming:
    """Where copying a template sends each of its variables.

    Variable ``start + i`` goes to ``args[i]`` for the first ``len(args)``
    slots, and to a new variable ``base + i - len(args)`` after them.
    """

    __slots__ = ("start", "stop", "args", "base")

    def __init__(
        self, start: int, stop: int, args: tuple[Term, ...], base: int
    ) -> None:
        self.start = start
        self.stop = stop
        self.args = args
        self.base = base

    def var(self, var_id: int) -> Term:
        slot = var_id - self.start
        if slot < len(self.args):
            return self.args[slot]
        return ((self.base + slot - len(self.args)) << 2) | TAG_VAR

    def id(self, var_id: int) -> int:
        return self.base + (var_id - self.start) - len(self.args)


def rename_term(term: Term, renaming: _Renaming) -> Term:
    """Copy ``term``, renaming the template's variables; shares the rest."""
    start = renaming.start
    stop = renaming.stop
    if type(term) is int:
        if term & TAG_MASK == TAG_VAR and start <= term >> 2 < stop:
            return renaming.var(term >> 2)
        return term
    if not term.has_vars:
        return term

    out: list[Term] = []
    stack: list[tuple[bool, Any]] = [(False, term)]
    while stack:
        building, node = stack.pop()
        if building:
            count = len(node.args)
            args = tuple(out[len(out) - count:])
            del out[len(out) - count:]
            if all(a is b for a, b in zip(args, node.args)):
                out.append(node)
            else:
                has_vars = any(map(term_has_vars, args))
                out.append(Node(node.functor, args, has_vars))
            continue
        if type(node) is int:
            if node & TAG_MASK == TAG_VAR and start <= node >> 2 < stop:
                out.append(renaming.var(node >> 2))
            else:
                out.append(node)
            continue
        if not node.has_vars:
            out.append(node)
            continue
        stack.append((True, node))
        stack.extend((False, arg) for arg in reversed(node.args))
    return out[0]


def rename_goal(goal: AnyGoal, renaming: _Renaming) -> Goal:
    """Copy ``goal`` with the template's variables renamed."""
    kind = goal.kind
    if kind == EQ:
        return Eq(rename_term(goal.u, renaming), rename_term(goal.v, renaming))
    if kind in (CONJ, DISJ):
        return type(goal)(tuple(rename_goal(p, renaming) for p in goal.parts))
    if kind == CALL:
        args = tuple(rename_term(arg, renaming) for arg in goal.args)
        return Call(goal.rel, args)
    if kind == FACTS:
        args = tuple(rename_term(arg, renaming) for arg in goal.args)
        return FactsQuery(goal.table, args)
    if kind == FRESH:
        if renaming.start <= goal.lo and goal.hi <= renaming.stop:
            lo = renaming.id(goal.lo)
            hi = renaming.id(goal.hi)
        else:
            lo, hi = goal.lo, goal.hi
        body = rename_goal(goal.body, renaming)
        return Fresh(lo, hi, body, goal.fn, goal.arity, goal.dynamic)
    return goal


def run_fresh(goal: Fresh) -> Goal:
    """The body of a ``Fresh`` goal with new variables."""
    if goal.dynamic:
        lo = new_var_id()
        params = [Var() for _ in range(goal.arity)]
        body = _check_goal(goal.fn(*params), "the body of fresh()")
        hi = new_var_id()
        return compile_goal(body, lo, hi)[0]

    count = goal.hi - goal.lo
    renaming = _Renaming(goal.lo, goal.hi, (), reserve_var_ids(count))
    return rename_goal(goal.body, renaming)


# ---------------------------------------------------------------- relations


class _Placeholder(Var):
    """A variable standing for a relation's argument while it is traced.

    It records whether the relation's function looked at it in a way that
    depends on the argument's value: compared it with anything (another
    argument included), asked its truth, its hash (a dict or set lookup),
    its text (``str``, ``repr``, ``format``), its class (``isinstance``
    with a class other than ``Var``), or whether it is a variable
    (``is_var``).  Identity tests (``is None``), ``type(arg)``,
    ``isinstance(arg, Var)``, ``hasattr`` and ``callable`` cannot be seen;
    a relation that uses them must be declared ``dynamic=True``.
    """

    __slots__ = ("looked",)

    def __init__(self, var_id: int) -> None:
        self._id = var_id
        self._name = None
        self.looked = False

    def __eq__(self, other: object) -> bool:
        object.__setattr__(self, "looked", True)
        return Var.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        object.__setattr__(self, "looked", True)
        return Var.__ne__(self, other)

    def __hash__(self) -> int:
        object.__setattr__(self, "looked", True)
        return Var.__hash__(self)

    def __bool__(self) -> bool:
        object.__setattr__(self, "looked", True)
        return True

    def __str__(self) -> str:
        object.__setattr__(self, "looked", True)
        return Var.__repr__(self)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        object.__setattr__(self, "looked", True)
        return format(Var.__repr__(self), spec)

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            object.__setattr__(self, "looked", True)
        return object.__getattribute__(self, name)


UNKNOWN = 0
TEMPLATE = 1
DYNAMIC = 2


class Relation:
    """A relation: a Python function from terms to a goal, expanded lazily.

    Make one with :func:`relation`.  Calling it gives a goal and does not
    call the function, so a relation may call itself in its body.
    """

    def __init__(
        self, fn: GoalFn, name: str | None = None, dynamic: bool = False
    ) -> None:
        if not callable(fn):
            raise TypeError("relation() takes a function returning a goal")
        self.fn = fn
        self.name = cast(str, name or getattr(fn, "__name__", "relation"))
        self.arity = _arity(fn)
        self.mode = DYNAMIC if dynamic else UNKNOWN
        self.template: tuple[Goal, int, int] | None = None
        self.__doc__ = getattr(fn, "__doc__", None)
        self._lock = threading.RLock()
        self._tracing = False

    @property
    def dynamic(self) -> bool:
        """Whether each expansion calls the function (no template)."""
        if self.mode == UNKNOWN:
            self._trace()
        return self.mode == DYNAMIC

    def __call__(self, *args: object) -> Goal:
        if self.arity is not None and len(args) != self.arity:
            raise TypeError(
                f"relation {self.name} takes {self.arity} arguments, "
                f"got {len(args)}"
            )
        return Call(self, tuple(to_term(arg) for arg in args))

    def __repr__(self) -> str:
        return f"<relation {self.name}>"

    def _trace(self) -> None:
        """Call the function on placeholders; keep a template if it can be."""
        with self._lock:
            if self.mode != UNKNOWN:
                return
            if self._tracing:
                # The body asked about its own relation while traced: the
                # answer depends on it, so no template.
                self.mode = DYNAMIC
                return
            self._tracing = True
            try:
                self._trace_once()
            finally:
                self._tracing = False

    def _trace_once(self) -> None:
        count = self.arity or 0
        start = reserve_var_ids(count)
        params = [_Placeholder(start + i) for i in range(count)]

        try:
            goal = self.fn(*params)
        except Exception:
            self.mode = DYNAMIC
            return
        if self.mode != UNKNOWN:
            return
        stop = new_var_id()

        if self.arity is None or any(p.looked for p in params):
            self.mode = DYNAMIC
            return
        if not isinstance(goal, Goal):
            self.mode = DYNAMIC
            return
        body, dynamic = compile_goal(goal, start, stop)
        if dynamic:
            self.mode = DYNAMIC
            return
        self.template = (body, start, stop)
        self.mode = TEMPLATE

    def expand(self, args: tuple[Term, ...], root: HNode) -> Goal:
        """The goal of this relation applied to ``args`` in state ``root``."""
        if self.mode == UNKNOWN:
            self._trace()
        if self.mode == TEMPLATE:
            # A relation in TEMPLATE mode has its template.
            body, start, stop = cast("tuple[Goal, int, int]", self.template)
            count = stop - start - len(args)
            renaming = _Renaming(start, stop, args, reserve_var_ids(count))
            return rename_goal(body, renaming)

        values = [to_python(arg, root, False) for arg in args]
        lo = new_var_id()
        goal = self.fn(*values)
        if not isinstance(goal, Goal):
            raise TypeError(
                f"relation {self.name} returned {type(goal).__name__}, "
                "not a goal"
            )
        hi = new_var_id()
        return compile_goal(goal, lo, hi)[0]


@overload
def relation(
    fn: GoalFn, *, name: str | None = None, dynamic: bool = False
) -> Relation: ...


@overload
def relation(
    fn: None = None, *, name: str | None = None, dynamic: bool = False
) -> Callable[[GoalFn], Relation]: ...


def relation(
    fn: GoalFn | None = None,
    *,
    name: str | None = None,
    dynamic: bool = False,
) -> Relation | Callable[[GoalFn], Relation]:
    """Make a relation of a function that builds a goal from its arguments.

    Use it bare (``@relation``) or with options
    (``@relation(dynamic=True)``).  A relation may call itself: the call
    is expanded only when the search reaches it.

    The function is called once, on placeholder variables, and the goal it
    builds is reused as a template for every call.  So it must build its
    goal from its arguments without looking at their values.  Comparisons,
    truth tests, ``is_var``, ``isinstance``, ``str``, hashing and
    arithmetic on an argument are noticed, and such a relation is called
    afresh at every expansion, with its arguments' current values.
    ``arg is None``, ``type(arg)``, ``isinstance(arg, Var)``, ``hasattr``
    and ``callable`` cannot be noticed: declare a relation that uses them
    ``dynamic=True``.

    >>> from kando_parallel import var, run, conde, eq, fresh, cons
    >>> @relation
    ... def lasto(lst, x):
    ...     return conde(
    ...         [eq(lst, [x])],
    ...         [fresh(lambda h, t: conj(eq(lst, cons(h, t)), lasto(t, x)))],
    ...     )
    >>> q = var()
    >>> run(1, q, lasto([1, 2, 3], q))
    [3]
    """
    if fn is None:
        return lambda f: Relation(f, name=name, dynamic=dynamic)
    return Relation(fn, name=name, dynamic=dynamic)


# ---------------------------------------------------------------- facts


def _is_immediate(term: Term) -> bool:
    return type(term) is int


class Facts:
    """A table of ground facts, queried like a relation.

    Each column is indexed: a query uses the bound argument whose column
    has the fewest matching rows.  A query goal sees the facts present
    when the goal was made.

    >>> from kando_parallel import var, run
    >>> parent = Facts("parent", [("abe", "homer"), ("homer", "bart")])
    >>> q = var()
    >>> run(0, q, parent(q, "bart"))
    ['homer']
    """

    def __init__(
        self, name: str = "facts", rows: Iterable[Iterable[object]] = ()
    ) -> None:
        self.name = name
        self.arity: int | None = None
        self._rows: list[tuple[Term, ...]] = []
        self._snapshot: _FactTable | None = None
        self._lock = threading.Lock()
        self.extend(rows)

    def add(self, *row: object) -> None:
        """Add one fact."""
        terms = tuple(to_term(value) for value in row)
        if any(map(term_has_vars, terms)):
            raise ValueError(
                f"a fact must be ground (no logic variables): {row!r}"
            )
        with self._lock:
            if self.arity is None:
                self.arity = len(terms)
            elif len(terms) != self.arity:
                raise ValueError(
                    f"facts {self.name} have {self.arity} columns, "
                    f"this one has {len(terms)}"
                )
            self._rows.append(terms)
            self._snapshot = None

    def extend(self, rows: Iterable[Iterable[object]]) -> None:
        """Add many facts."""
        for row in rows:
            self.add(*row)

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, *args: object) -> Goal:
        if self.arity is not None and len(args) != self.arity:
            raise TypeError(
                f"facts {self.name} have {self.arity} columns, "
                f"got {len(args)} arguments"
            )
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None:
                snapshot = _FactTable(
                    self.name, tuple(self._rows), len(args)
                )
                self._snapshot = snapshot
        return FactsQuery(snapshot, tuple(to_term(a) for a in args))

    def __repr__(self) -> str:
        return f"<facts {self.name}: {len(self._rows)} rows>"


class _FactTable:
    """An immutable snapshot of facts with one index per column."""

    __slots__ = ("name", "rows", "index")

    def __init__(
        self, name: str, rows: tuple[tuple[Term, ...], ...], arity: int
    ) -> None:
        self.name = name
        self.rows = rows
        self.index: list[dict[int, list[int]]] = [
            {} for _ in range(arity)
        ]
        for number, row in enumerate(rows):
            for column, value in enumerate(row):
                if _is_immediate(value):
                    key = canonical(value)
                    self.index[column].setdefault(key, []).append(number)

    def candidates(
        self, args: tuple[Term, ...], root: HNode
    ) -> Sequence[int]:
        """The numbers of the rows that may match ``args`` in ``root``."""
        if not self.rows:
            return ()
        best: Sequence[int] | None = None
        for column, arg in enumerate(args):
            value = walk_term(arg, root)
            if type(value) is not int or value & TAG_MASK == TAG_VAR:
                continue
            rows = self.index[column].get(canonical(value), ())
            if best is None or len(rows) < len(best):
                best = rows
                if not best:
                    break
        if best is None:
            return range(len(self.rows))
        return best


# ---------------------------------------------------------------- search

ANSWER = 0
EXHAUSTED = 1
BUDGET = 2
CANCELLED = 3

_END = object()


class SearchCancelled(Exception):
    """The search was cancelled before it finished."""


class Search:
    """A running search for the answers of ``goal``, reified as ``query``.

    Iterate over it for answers.  It holds its pending tasks, so it can
    also be stepped with a budget, split to hand work to other workers,
    cancelled from another thread, and closed, which closes any Python
    goal it suspended.  One thread at a time may step a search.

    ``state``, a :class:`Substitution`, is the state the search starts
    from (the empty one by default).
    """

    ANSWER = ANSWER
    EXHAUSTED = EXHAUSTED
    BUDGET = BUDGET
    CANCELLED = CANCELLED

    def __init__(
        self,
        query: object,
        goal: Goal,
        occurs_check: bool = True,
        state: Substitution | None = None,
    ) -> None:
        if hasattr(self, "_tasks"):
            raise TypeError("a Search is initialised once")
        _check_goal(goal, "Search()")
        if state is not None and not isinstance(state, Substitution):
            raise TypeError(
                "Search(state=...) takes a Substitution, not "
                f"{type(state).__name__}"
            )
        self._query = to_term(query)
        self._occurs_check = bool(occurs_check)
        self._tasks: deque[Task] = deque()
        self._answer: HNode | None = None
        self._has_answer = False
        self._cancelled = False
        self._closed = False
        self._busy = threading.Lock()
        self.steps = 0
        body = compile_goal(goal, 0, 1 << 62)[0]
        root = EMPTY if state is None else state._root
        self._tasks.append((root, body, None, 0))

    def _sibling(self, tasks: Iterable[Task]) -> Search:
        other = Search.__new__(Search)
        other._query = self._query
        other._occurs_check = self._occurs_check
        other._tasks = deque(tasks)
        other._answer = None
        other._has_answer = False
        other._cancelled = False
        other._closed = False
        other._busy = threading.Lock()
        other.steps = 0
        return other

    @property
    def pending(self) -> int:
        """How many tasks wait in the queue."""
        return len(self._tasks)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        while True:
            status = self.step(1 << 16)
            if status == ANSWER:
                return self.answer()
            if status == EXHAUSTED:
                raise StopIteration
            if status == CANCELLED:
                if self._closed:
                    raise StopIteration
                raise SearchCancelled("the search was cancelled")

    def answer(self) -> Any:
        """The answer found by the last step that returned ANSWER."""
        if not self._has_answer:
            raise RuntimeError("no answer yet: step() first")
        # Set with _has_answer.
        root = cast("HNode", self._answer)
        if not self._occurs_check:
            var_id = find_cycle(self._query, root)
            if var_id is not None:
                raise CyclicTermError(
                    f"{Var._from_id(var_id)!r} is bound to a term that "
                    "contains it; reify needs a finite term (the occurs "
                    "check is off, so an answer may be cyclic)"
                )
        return to_python(self._query, root, True)

    def answer_substitution(self) -> Substitution:
        """The state of the last answer, as a :class:`Substitution`."""
        if not self._has_answer:
            raise RuntimeError("no answer yet: step() first")
        root = EMPTY if self._answer is None else self._answer
        state = Substitution._wrap(root)
        state._may_cycle = not self._occurs_check
        return state

    def split(self, count: int, pieces: int | None = None) -> list[Search]:
        """Move up to ``count`` waiting tasks into ``pieces`` new searches.

        The tasks are taken from the back of the queue, the ones that were
        suspended longest ago, and dealt round the new searches in turn,
        each keeping their order.  ``pieces`` defaults to ``count``: one
        task each.
        """
        if pieces is None:
            pieces = count
        if count < 0 or pieces < 1:
            raise ValueError(
                f"split() needs count >= 0 and pieces >= 1, not "
                f"{count} and {pieces}"
            )
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("cannot split a search while it runs")
        try:
            dealt: list[list[Task]] = []
            taken = 0
            while self._tasks and taken < count:
                if len(dealt) < pieces:
                    dealt.append([])
                dealt[taken % pieces].insert(0, self._tasks.pop())
                taken += 1
            return [self._sibling(tasks) for tasks in dealt]
        finally:
            self._busy.release()

    def cancel(self) -> None:
        """Make the search stop at its next task; safe from any thread."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` or :meth:`close` was called."""
        return self._cancelled

    def close(self) -> None:
        """Drop every pending task and close suspended Python goals.

        From another thread while the search runs, this cancels it; the
        running step then drops the tasks itself.
        """
        self._closed = True
        self._cancelled = True
        if not self._busy.acquire(blocking=False):
            return
        try:
            self._release_tasks()
        finally:
            self._busy.release()

    def _release_tasks(self) -> None:
        goal: AnyGoal
        while self._tasks:
            goal = self._tasks.pop()[1]
            if goal.kind == PYSTREAM:
                goal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def step(self, budget: int) -> int:
        """Run at most about ``budget`` goal steps.

        Returns ``Search.ANSWER`` (call :meth:`answer`),
        ``Search.EXHAUSTED``, ``Search.BUDGET`` or ``Search.CANCELLED``.
        """
        if budget < 1:
            raise ValueError(f"budget must be >= 1, not {budget}")
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "this search is being stepped by another thread"
            )
        try:
            status = self._run_steps(budget)
            if status == CANCELLED:
                self._release_tasks()
            return status
        finally:
            self._busy.release()

    def _run_steps(self, budget: int) -> int:
        tasks = self._tasks
        occurs_check = self._occurs_check
        spent = 0
        root: Any
        goal: AnyGoal
        cont: Any
        state: Any

        while True:
            if self._cancelled:
                self.steps += spent
                return CANCELLED
            if not tasks:
                self.steps += spent
                return EXHAUSTED
            if spent >= budget:
                self.steps += spent
                return BUDGET
            root, goal, cont, alt = tasks.popleft()

            while True:
                spent += 1
                kind = goal.kind
                if kind == EQ:
                    root = unify_terms(goal.u, goal.v, root, occurs_check)
                    if root is None:
                        break
                    goal = None
                elif kind == CONJ:
                    cont = (goal, 1, cont)
                    goal = goal.parts[0]
                    continue
                elif kind == DISJ:
                    parts = goal.parts
                    if alt + 1 < len(parts):
                        tasks.appendleft((root, goal, cont, alt + 1))
                    goal = parts[alt]
                    alt = 0
                    continue
                elif kind == CALL:
                    if alt == 0:
                        tasks.append((root, goal, cont, 1))
                        break
                    goal = goal.rel.expand(goal.args, root)
                    alt = 0
                    continue
                elif kind == FRESH:
                    goal = run_fresh(goal)
                    continue
                elif kind == FACTS:
                    rows = goal.table.candidates(goal.args, root)
                    if alt >= len(rows):
                        break
                    if alt + 1 < len(rows):
                        tasks.appendleft((root, goal, cont, alt + 1))
                    row = goal.table.rows[rows[alt]]
                    alt = 0
                    for arg, value in zip(goal.args, row):
                        root = unify_terms(arg, value, root, False)
                        if root is None:
                            break
                    if root is None:
                        break
                    goal = None
                elif kind == SUCCEED:
                    goal = None
                elif kind == FAIL:
                    break
                elif kind == PY:
                    state = Substitution._wrap(root)
                    state._may_cycle = not occurs_check
                    result = goal.fn(state)
                    if isinstance(result, Goal):
                        # A goal chosen by Python runs in place of this one.
                        goal = compile_goal(result, 0, 0)[0]
                        continue
                    goal = PyStream(iter(() if result is None else result))
                    continue
                elif kind == PYSTREAM:
                    state = next(goal.iterator, _END)
                    if state is _END:
                        break
                    tasks.append((root, goal, cont, 0))
                    if state is None:
                        break
                    if not isinstance(state, Substitution):
                        raise TypeError(
                            "a Python goal must yield Substitution objects "
                            f"(from unify) or None, not {type(state).__name__}"
                        )
                    root = state._root
                    goal = None

                if goal is None:
                    if cont is None:
                        self._answer = root
                        self._has_answer = True
                        self.steps += spent
                        return ANSWER
                    conj_goal, index, cont_next = cont
                    parts = conj_goal.parts
                    goal = parts[index]
                    if index + 1 < len(parts):
                        cont = (conj_goal, index + 1, cont_next)
                    else:
                        cont = cont_next
                    alt = 0

                if spent >= budget:
                    tasks.appendleft((root, goal, cont, alt))
                    self.steps += spent
                    return BUDGET


# ---------------------------------------------------------------- run


def check_count(n: SupportsIndex | None) -> int | None:
    """Validate ``run``'s count: ``None`` or 0 mean all answers."""
    if n is None:
        return None
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(
            f"run() takes a whole number of answers, not {n!r}; "
            "use 0 or None (or run_all) for all of them"
        )
    n = n.__index__()
    if n < 0:
        raise ValueError(f"run() cannot give {n} answers; use n >= 0")
    # No list holds more than sys.maxsize answers: a larger n means all.
    return None if n == 0 or n > sys.maxsize else n


def run(
    n: SupportsIndex | None,
    query: object,
    *goals: Goal,
    occurs_check: bool = True,
) -> list[Any]:
    """The first ``n`` answers (all if ``n`` is 0 or None), as a list.

    ``query`` is a variable or any term holding variables; each answer is
    its value in one solution of ``goals``, with unbound variables shown
    as ``_0``, ``_1``...  The search stops as soon as it has ``n``
    answers.

    >>> from kando_parallel import var, membero
    >>> q = var()
    >>> run(2, q, membero(q, ["a", "b", "c"]))
    ['a', 'b']
    """
    count = check_count(n)
    with Search(query, conj(*goals), occurs_check) as search:
        return list(itertools.islice(search, count))


def run_all(
    query: object, *goals: Goal, occurs_check: bool = True
) -> list[Any]:
    """Every answer; the same as ``run(0, query, *goals)``."""
    return run(None, query, *goals, occurs_check=occurs_check)


def run_iter(
    query: object, *goals: Goal, occurs_check: bool = True
) -> Generator[Any, None, None]:
    """A lazy iterator over the answers; close it to stop the search.

    >>> from kando_parallel import var, eq, disj
    >>> q = var()
    >>> answers = run_iter(q, disj(eq(q, 1), eq(q, 2)))
    >>> next(answers)
    1
    """
    search = Search(query, conj(*goals), occurs_check)
    try:
        yield from search
    finally:
        search.close()


__all__ = [
    "Facts",
    "Goal",
    "Relation",
    "Search",
    "SearchCancelled",
    "conde",
    "conj",
    "disj",
    "eq",
    "fail",
    "fresh",
    "pygoal",
    "relation",
    "run",
    "run_all",
    "run_iter",
    "succeed",
]
