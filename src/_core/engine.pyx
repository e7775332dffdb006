# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, freethreading_compatible=True
"""Goals and the search loop, in C.

Goals are immutable data (engine.pxd): EQ, CONJ, DISJ, FRESH, CALL (a
relation applied to argument terms), FACTS (a query of a fact table), PY
(a goal written in Python) and PYSTREAM (the rest of a PY goal's answers).
Building one never runs the search.

Relations.  Calling a relation gives a CALL goal; the function runs later.
The first expansion calls it once with placeholder variables, and the
goal it returns becomes a template: each later expansion copies the
template in C, with the arguments in place of the placeholders and new
variables in place of the ones the body made.  Copying shares every
subterm and subgoal that holds none of those variables.  A function that
looks at its arguments' values cannot be a template; the placeholders
notice most such looks, and those relations (and ``dynamic=True`` ones)
are called with the GIL at every expansion.

Search.  A task is a trie, the goal to run, the continuation (a linked
list of conjunction positions still to run) and the index of the next
alternative of a choice.  Tasks wait in a ring-buffer deque.  The running
task goes depth first: at a choice it takes one alternative and pushes
the rest of the choice to the front, as one task; at a relation call it
is suspended to the back.  Between suspensions a task runs finitely many
steps, so every task gets its turn: the search is complete.

The loop runs without the GIL.  It takes the GIL only to call Python:
tracing or expanding a dynamic relation, a PY goal, a dynamic fresh.
Invariant of the loop: the running task and every queued task own their
references; a task leaves the loop only by being queued, released or
turned into an answer.  Cost per step: a few pointer moves, plus one trie
path copy per binding and one template copy per relation call.
"""

import inspect
import itertools
import sys
import threading

from cpython.exc cimport PyErr_CheckSignals
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memset

from kando_parallel._core.atomics cimport (
    kp_atomic_cas,
    kp_atomic_fetch_add,
    kp_atomic_load,
    kp_atomic_store,
)
from kando_parallel._core.subst cimport (
    HNode,
    Substitution,
    hnode_decref,
    hnode_incref,
    hnode_resolve,
    substitution_from_root,
)
from kando_parallel._core.terms cimport (
    NODE_HAS_VARS,
    TAG_MASK,
    Node,
    Var,
    WordStack,
    as_node,
    canonical,
    free,
    has_vars,
    is_node,
    malloc,
    node_args,
    node_new,
    node_seal,
    realloc,
    reserve_var_ids,
    set_var_id,
    stack_free,
    stack_init,
    stack_pop,
    stack_push,
    term_decref,
    term_incref,
    term_is_var,
    term_t,
    to_python,
    to_term,
    var_id,
    var_term,
)
from kando_parallel._core.unify cimport reify_term, unify_owned, walk_term

from kando_parallel._core.unify import CyclicTermError


cdef enum:
    ST_ANSWER = 0
    ST_EXHAUSTED = 1
    ST_BUDGET = 2
    ST_CANCELLED = 3
    ST_ERROR = 4


class SearchCancelled(Exception):
    """The search was cancelled before it finished."""


# ================================================================ goals

cdef GoalNode *goal_alloc(int kind, uint32_t count) noexcept nogil:
    cdef GoalNode *goal = <GoalNode *>malloc(
        sizeof(GoalNode) + count * sizeof(uint64_t)
    )

    if goal == NULL:
        return NULL
    memset(goal, 0, sizeof(GoalNode))
    goal.refcnt = 1
    goal.kind = kind
    goal.count = count
    return goal


cdef inline GoalNode *goal_incref(GoalNode *goal) noexcept nogil:
    if goal != NULL:
        kp_atomic_fetch_add(&goal.refcnt, 1)
    return goal


cdef inline void release_child(GoalNode *child,
                               GoalNode **pending) noexcept nogil:
    if child != NULL and kp_atomic_fetch_add(&child.refcnt, -1) == 1:
        child.refcnt = <int64_t><size_t>pending[0]
        pending[0] = child


cdef void goal_decref(GoalNode *goal) noexcept nogil:
    # Goals whose count reached zero wait in a list threaded through their
    # count fields, so releasing a deep goal does not recurse.
    cdef GoalNode *pending
    cdef uint32_t i

    if goal == NULL or kp_atomic_fetch_add(&goal.refcnt, -1) != 1:
        return
    goal.refcnt = 0
    pending = goal
    while pending != NULL:
        goal = pending
        pending = <GoalNode *><size_t>goal.refcnt
        if goal.kind == G_EQ:
            term_decref(goal.u)
            term_decref(goal.v)
        elif goal.kind == G_CONJ or goal.kind == G_DISJ:
            for i in range(goal.count):
                release_child(goal_parts(goal)[i], &pending)
        elif goal.kind == G_FRESH:
            release_child(goal.body, &pending)
        elif goal.kind == G_CALL or goal.kind == G_FACTS:
            for i in range(goal.count):
                term_decref(goal_args(goal)[i])
            if goal.table != NULL:
                table_decref(goal.table)
        if goal.py != NULL:
            with gil:
                Py_DECREF(<object>goal.py)
        free(goal)


# ================================================================ facts

cdef inline size_t word_hash(uint64_t word) noexcept nogil:
    word ^= word >> 31
    word *= <uint64_t>0x9e3779b97f4a7c15
    word ^= word >> 29
    return <size_t>word


cdef void table_decref(FactTable *table) noexcept nogil:
    cdef size_t i

    if table == NULL or kp_atomic_fetch_add(&table.refcnt, -1) != 1:
        return
    if table.cells != NULL:
        for i in range(<size_t>table.rows * table.arity):
            term_decref(table.cells[i])
    free(table.cells)
    free(table.keys)
    free(table.starts)
    free(table.counts)
    free(table.order)
    free(table)


cdef FactTable *table_new(list rows, uint32_t arity) except NULL:
    # Convert the rows and index every column whose values are immediate
    # words (atoms, small integers): a compound value is never found by a
    # lookup, which is right, since it cannot equal an immediate.
    cdef FactTable *table = <FactTable *>malloc(sizeof(FactTable))
    cdef uint32_t count = <uint32_t>len(rows)
    cdef size_t capacity = 4
    cdef size_t column
    cdef size_t row
    cdef size_t slot
    cdef size_t filled
    cdef term_t word

    if table == NULL:
        raise MemoryError()
    memset(table, 0, sizeof(FactTable))
    table.refcnt = 1
    table.arity = arity
    table.rows = count
    try:
        while capacity < 2 * <size_t>count:
            capacity *= 2
        table.capacity = capacity
        table.cells = <term_t *>malloc(
            (count * <size_t>arity + 1) * sizeof(term_t)
        )
        table.keys = <uint64_t *>malloc(
            (capacity * arity + 1) * sizeof(uint64_t)
        )
        table.starts = <uint32_t *>malloc(
            (capacity * arity + 1) * sizeof(uint32_t)
        )
        table.counts = <uint32_t *>malloc(
            (capacity * arity + 1) * sizeof(uint32_t)
        )
        table.order = <uint32_t *>malloc(
            (count * <size_t>arity + 1) * sizeof(uint32_t)
        )
        if (table.cells == NULL or table.keys == NULL
                or table.starts == NULL or table.counts == NULL
                or table.order == NULL):
            raise MemoryError()
        memset(table.cells, 0, count * <size_t>arity * sizeof(term_t))
        memset(table.keys, 0, capacity * arity * sizeof(uint64_t))

        for row in range(count):
            values = rows[row]
            for column in range(arity):
                table.cells[row * arity + column] = to_term(values[column])

        for column in range(arity):
            groups = {}
            for row in range(count):
                word = table.cells[row * arity + column]
                if not is_node(word):
                    groups.setdefault(canonical(word), []).append(row)
            filled = 0
            for key, members in groups.items():
                slot = word_hash(key) & (capacity - 1)
                while table.keys[column * capacity + slot] != 0:
                    slot = (slot + 1) & (capacity - 1)
                table.keys[column * capacity + slot] = key
                table.starts[column * capacity + slot] = (
                    <uint32_t>(column * count + filled)
                )
                table.counts[column * capacity + slot] = len(members)
                for row in members:
                    table.order[column * count + filled] = row
                    filled += 1
    except BaseException:
        table_decref(table)
        raise
    return table


cdef uint32_t table_candidates(FactTable *table, term_t *args, HNode *root,
                               uint32_t **rows) noexcept nogil:
    # The rows that may match: the shortest run among the bound columns,
    # or every row (*rows = NULL) when no column is bound.
    cdef uint32_t best = table.rows
    cdef uint32_t column
    cdef size_t slot
    cdef size_t mask = table.capacity - 1
    cdef uint64_t *keys
    cdef term_t word

    rows[0] = NULL
    if table.rows == 0:
        return 0
    for column in range(table.arity):
        word = walk_term(args[column], root)
        if is_node(word) or term_is_var(word):
            continue
        word = canonical(word)
        keys = table.keys + column * table.capacity
        slot = word_hash(word) & mask
        while keys[slot] != 0 and keys[slot] != word:
            slot = (slot + 1) & mask
        if keys[slot] == 0:
            return 0
        if table.counts[column * table.capacity + slot] < best or (
                rows[0] == NULL):
            best = table.counts[column * table.capacity + slot]
            rows[0] = table.order + table.starts[
                column * table.capacity + slot
            ]
    return best


cdef class _FactSnapshot:
    """An immutable fact table in C, shared by the goals that query it."""

    cdef FactTable *table

    def __dealloc__(self):
        table_decref(self.table)


cdef class Facts:
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

    cdef readonly str name
    cdef readonly object arity
    cdef list _rows
    cdef _FactSnapshot _snapshot
    cdef object _lock

    def __init__(self, name="facts", rows=()):
        self.name = name
        self.arity = None
        self._rows = []
        self._snapshot = None
        self._lock = threading.Lock()
        self.extend(rows)

    def add(self, *row):
        """Add one fact."""
        cdef term_t term

        for value in row:
            term = to_term(value)
            ground = not has_vars(term)
            term_decref(term)
            if not ground:
                raise ValueError(
                    f"a fact must be ground (no logic variables): {row!r}"
                )
        with self._lock:
            if self.arity is None:
                self.arity = len(row)
            elif len(row) != self.arity:
                raise ValueError(
                    f"facts {self.name} have {self.arity} columns, "
                    f"this one has {len(row)}"
                )
            self._rows.append(tuple(row))
            self._snapshot = None

    def extend(self, rows):
        """Add many facts."""
        for row in rows:
            self.add(*row)

    def __len__(self):
        return len(self._rows)

    def __call__(self, *args):
        cdef GoalNode *goal
        cdef uint32_t i = 0

        if self.arity is not None and len(args) != self.arity:
            raise TypeError(
                f"facts {self.name} have {self.arity} columns, "
                f"got {len(args)} arguments"
            )
        # The snapshot is made, and swapped for a new one after an add,
        # under the table's lock, so a query on another thread always
        # holds a whole snapshot.
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None:
                snapshot = _FactSnapshot.__new__(_FactSnapshot)
                (<_FactSnapshot>snapshot).table = table_new(
                    list(self._rows), len(args)
                )
                self._snapshot = snapshot

        goal = goal_alloc(G_FACTS, len(args))
        if goal == NULL:
            raise MemoryError()
        goal.table = (<_FactSnapshot>snapshot).table
        kp_atomic_fetch_add(&goal.table.refcnt, 1)
        goal.py = NULL
        try:
            for i in range(len(args)):
                goal_args(goal)[i] = to_term(args[i])
        except BaseException:
            goal.count = i
            goal_decref(goal)
            raise
        result = wrap_goal(goal)
        (<Goal>result).label = self.name
        return result

    def __repr__(self):
        return f"<facts {self.name}: {len(self._rows)} rows>"


cdef int unify_row(GoalNode *goal, uint32_t row, Task *task) noexcept nogil:
    # Unify the arguments with one row; 1, 0 or -1 as unify_terms.
    cdef FactTable *table = goal.table
    cdef uint32_t column
    cdef int status

    for column in range(table.arity):
        status = unify_owned(goal_args(goal)[column],
                             table.cells[row * table.arity + column],
                             &task.root, False)
        if status != 1:
            return status
    return 1


# ================================================================ copying

# Where copying a template sends its variables: variable start + i goes to
# args[i] for i < nargs, and to the new variable base + i - nargs after.
cdef struct Renaming:
    int64_t start
    int64_t stop
    term_t *args
    uint32_t nargs
    int64_t base


cdef inline term_t rename_var(term_t term, Renaming *renaming) noexcept nogil:
    # A new reference to what the variable `term` becomes.
    cdef int64_t id_ = <int64_t>var_id(term)
    cdef int64_t slot

    if id_ < renaming.start or id_ >= renaming.stop:
        return term
    slot = id_ - renaming.start
    if slot < renaming.nargs:
        return term_incref(renaming.args[slot])
    return var_term(<uint64_t>(renaming.base + slot - renaming.nargs))


cdef enum:
    EXIT_NODE = 4


cdef term_t rename_term(term_t term, Renaming *renaming) noexcept nogil:
    # A new reference to the copy of `term`, or 0 when memory runs out.
    # Post-order with two stacks; a node none of whose arguments changed
    # is shared instead of copied.
    cdef WordStack frames
    cdef WordStack out
    cdef uint64_t word
    cdef Node *node
    cdef Node *copy
    cdef uint32_t i
    cdef uint32_t arity
    cdef bint changed
    cdef bint failed = False

    if not is_node(term):
        if term_is_var(term):
            return rename_var(term, renaming)
        return term
    if not has_vars(term):
        return term_incref(term)

    stack_init(&frames)
    stack_init(&out)
    if stack_push(&frames, term) < 0:
        return 0
    while frames.size and not failed:
        word = stack_pop(&frames)
        if (word & TAG_MASK) == 0 and (word & EXIT_NODE):
            node = as_node(word & ~(<uint64_t>EXIT_NODE))
            arity = node.arity
            changed = False
            for i in range(arity):
                if out.items[out.size - arity + i] != node_args(node)[i]:
                    changed = True
                    break
            if not changed:
                for i in range(arity):
                    term_decref(stack_pop(&out))
                out.items[out.size] = term_incref(<term_t>node)
                out.size += 1
                continue
            copy = node_new(node.functor, arity)
            if copy == NULL:
                failed = True
                break
            out.size -= arity
            for i in range(arity):
                node_args(copy)[i] = out.items[out.size + i]
            out.items[out.size] = node_seal(copy)
            out.size += 1
            continue

        if not is_node(word):
            if term_is_var(word):
                word = rename_var(word, renaming)
            failed = stack_push(&out, word) < 0
            continue
        if not has_vars(word):
            failed = stack_push(&out, term_incref(word)) < 0
            continue
        node = as_node(word)
        failed = stack_push(&frames, word | EXIT_NODE) < 0
        i = node.arity
        while i > 0 and not failed:
            i -= 1
            failed = stack_push(&frames, node_args(node)[i]) < 0

    if failed:
        while out.size:
            term_decref(stack_pop(&out))
        term = 0
    else:
        term = out.items[0]
    stack_free(&frames)
    stack_free(&out)
    return term


cdef GoalNode *rename_leaf(GoalNode *goal, Renaming *renaming) noexcept nogil:
    # A new reference to the copy of a goal without subgoals.
    cdef GoalNode *copy
    cdef term_t a
    cdef term_t b
    cdef uint32_t i
    cdef bint changed = False

    if goal.kind == G_EQ:
        a = rename_term(goal.u, renaming)
        if a == 0:
            return NULL
        b = rename_term(goal.v, renaming)
        if b == 0:
            term_decref(a)
            return NULL
        if a == goal.u and b == goal.v:
            term_decref(a)
            term_decref(b)
            return goal_incref(goal)
        copy = goal_alloc(G_EQ, 0)
        if copy == NULL:
            term_decref(a)
            term_decref(b)
            return NULL
        copy.u = a
        copy.v = b
        return copy

    if goal.kind == G_CALL or goal.kind == G_FACTS:
        copy = goal_alloc(goal.kind, goal.count)
        if copy == NULL:
            return NULL
        copy.rel = goal.rel
        copy.table = goal.table
        if copy.table != NULL:
            kp_atomic_fetch_add(&copy.table.refcnt, 1)
        for i in range(goal.count):
            a = rename_term(goal_args(goal)[i], renaming)
            if a == 0:
                copy.count = i
                goal_decref(copy)
                return NULL
            goal_args(copy)[i] = a
            changed = changed or a != goal_args(goal)[i]
        if not changed:
            goal_decref(copy)
            return goal_incref(goal)
        return copy

    return goal_incref(goal)


cdef enum:
    EXIT_GOAL = 1


cdef GoalNode *rename_goal(GoalNode *goal, Renaming *renaming) noexcept nogil:
    # A new reference to the copy of `goal`, or NULL when memory runs out.
    # Iterative post-order, like rename_term.
    cdef WordStack frames
    cdef WordStack out
    cdef uint64_t word
    cdef GoalNode *g
    cdef GoalNode *copy
    cdef GoalNode *child
    cdef uint32_t i
    cdef uint32_t n
    cdef bint changed
    cdef bint failed = False

    stack_init(&frames)
    stack_init(&out)
    if stack_push(&frames, <uint64_t>goal) < 0:
        return NULL
    while frames.size and not failed:
        word = stack_pop(&frames)
        g = <GoalNode *>(word & ~(<uint64_t>EXIT_GOAL))

        if word & EXIT_GOAL:
            n = g.count if g.kind != G_FRESH else 1
            changed = False
            for i in range(n):
                child = <GoalNode *>out.items[out.size - n + i]
                if g.kind == G_FRESH:
                    changed = child != g.body
                else:
                    changed = changed or child != goal_parts(g)[i]
            if (not changed and not (g.kind == G_FRESH
                                     and renaming.start <= g.lo
                                     and g.hi <= renaming.stop)):
                for i in range(n):
                    goal_decref(<GoalNode *>stack_pop(&out))
                out.items[out.size] = <uint64_t>goal_incref(g)
                out.size += 1
                continue
            copy = goal_alloc(g.kind, g.count)
            if copy == NULL:
                failed = True
                break
            out.size -= n
            if g.kind == G_FRESH:
                copy.body = <GoalNode *>out.items[out.size]
                copy.lo = g.lo
                copy.hi = g.hi
                copy.arity = g.arity
                copy.dynamic = g.dynamic
                if renaming.start <= g.lo and g.hi <= renaming.stop:
                    copy.lo = (renaming.base + g.lo - renaming.start
                               - renaming.nargs)
                    copy.hi = (renaming.base + g.hi - renaming.start
                               - renaming.nargs)
            else:
                for i in range(n):
                    goal_parts(copy)[i] = <GoalNode *>out.items[out.size + i]
            out.items[out.size] = <uint64_t>copy
            out.size += 1
            continue

        if g.kind == G_CONJ or g.kind == G_DISJ:
            failed = stack_push(&frames, word | EXIT_GOAL) < 0
            i = g.count
            while i > 0 and not failed:
                i -= 1
                failed = stack_push(&frames,
                                    <uint64_t>goal_parts(g)[i]) < 0
            continue
        if g.kind == G_FRESH:
            failed = (stack_push(&frames, word | EXIT_GOAL) < 0
                      or stack_push(&frames, <uint64_t>g.body) < 0)
            continue

        copy = rename_leaf(g, renaming)
        failed = copy == NULL or stack_push(&out, <uint64_t>copy) < 0

    if failed:
        while out.size:
            goal_decref(<GoalNode *>stack_pop(&out))
        copy = NULL
    else:
        copy = <GoalNode *>out.items[0]
    stack_free(&frames)
    stack_free(&out)
    return copy


cdef GoalNode *instantiate(GoalNode *body, int64_t start, int64_t stop,
                           term_t *args, uint32_t nargs) noexcept nogil:
    cdef Renaming renaming
    cdef int64_t locals_ = stop - start - nargs

    renaming.start = start
    renaming.stop = stop
    renaming.args = args
    renaming.nargs = nargs
    renaming.base = <int64_t>reserve_var_ids(
        <uint64_t>(locals_ if locals_ > 0 else 0)
    )
    return rename_goal(body, &renaming)


# ================================================================ compile

cdef GoalNode *build_goal(int kind, list parts) except NULL:
    # A CONJ or DISJ of `parts` (owned pointers, as ints), whose
    # references it takes over.
    cdef GoalNode *goal = goal_alloc(kind, len(parts))
    cdef Py_ssize_t i

    if goal == NULL:
        for part in parts:
            goal_decref(<GoalNode *><size_t>part)
        raise MemoryError()
    for i in range(len(parts)):
        goal_parts(goal)[i] = <GoalNode *><size_t>parts[i]
    return goal


cdef GoalNode *compile_goal(GoalNode *root, int64_t lo, int64_t hi,
                            bint *dynamic) except NULL:
    # Prepare a goal built with variables lo <= id < hi for the search:
    # a FRESH inside whose variables lie in that range and which occurs
    # once runs at most once each time the whole goal runs, so it becomes
    # its body; nested CONJ and DISJ are flattened.  *dynamic is set when
    # a PY goal or a dynamic FRESH occurs: Python closures may hold those
    # variables, so the result cannot be copied with new ones.
    cdef dict counts = {}
    cdef dict built = {}
    cdef list stack = [<size_t>root]
    cdef list frames
    cdef list out = []
    cdef list parts
    cdef GoalNode *g
    cdef GoalNode *part
    cdef size_t key
    cdef uint32_t i
    cdef bint same

    dynamic[0] = False
    while stack:
        key = stack.pop()
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > 1:
            continue
        g = <GoalNode *>key
        if g.kind == G_CONJ or g.kind == G_DISJ:
            for i in range(g.count):
                stack.append(<size_t>goal_parts(g)[i])
        elif g.kind == G_FRESH:
            stack.append(<size_t>g.body)

    frames = [(<size_t>root, False)]
    try:
        while frames:
            key, leaving = frames.pop()
            g = <GoalNode *>key
            if not leaving:
                if key in built:
                    out.append(<size_t>goal_incref(
                        <GoalNode *><size_t>built[key]))
                    continue
                if g.kind == G_PY:
                    dynamic[0] = True
                if g.kind == G_FRESH:
                    if g.dynamic:
                        dynamic[0] = True
                    if counts[key] == 1 and lo <= g.lo and g.hi <= hi:
                        frames.append((<size_t>g.body, False))
                        continue
                if g.kind == G_CONJ or g.kind == G_DISJ:
                    frames.append((key, True))
                    for i in range(g.count - 1, -1, -1):
                        frames.append((<size_t>goal_parts(g)[i], False))
                    continue
                out.append(<size_t>goal_incref(g))
                continue

            # Leaving a CONJ or DISJ: its compiled parts are on `out`.
            start = len(out) - g.count
            compiled = out[start:]
            del out[start:]
            parts = []
            same = True
            for i in range(g.count):
                part = <GoalNode *><size_t>compiled[i]
                same = same and part == goal_parts(g)[i]
                if part.kind == g.kind:
                    same = False
                    for j in range(part.count):
                        parts.append(<size_t>goal_incref(goal_parts(part)[j]))
                    goal_decref(part)
                else:
                    parts.append(<size_t>part)
            if same:
                for part_key in parts:
                    goal_decref(<GoalNode *><size_t>part_key)
                result = <size_t>goal_incref(g)
            else:
                result = <size_t>build_goal(g.kind, parts)
            if counts[key] > 1:
                built[key] = <size_t>goal_incref(<GoalNode *><size_t>result)
            out.append(result)
    except BaseException:
        for key in out:
            goal_decref(<GoalNode *><size_t>key)
        raise
    finally:
        for key in built.values():
            goal_decref(<GoalNode *><size_t>key)
    return <GoalNode *><size_t>out[0]


# ================================================================ Python

cdef class Goal:
    """A goal: a description of a search, run by :func:`run`.

    Goals combine with ``&`` (conjunction) and ``|`` (disjunction).
    """

    def __dealloc__(self):
        goal_decref(self.node)

    def __and__(self, other):
        return conj(self, other)

    def __or__(self, other):
        return disj(self, other)

    def __bool__(self):
        raise TypeError(
            "a goal has no truth value; combine goals with conj/& and "
            "disj/|, and run them with run()"
        )

    def __repr__(self):
        return describe(self.node, self.label, 0)


cdef str show_term(term_t term):
    return repr(to_python(term, NULL, NULL, False, None))


cdef str describe(GoalNode *goal, object label, int depth):
    cdef uint32_t i

    if depth > 20:
        return "..."
    if goal.kind == G_SUCCEED:
        return "succeed"
    if goal.kind == G_FAIL:
        return "fail"
    if goal.kind == G_EQ:
        return f"eq({show_term(goal.u)}, {show_term(goal.v)})"
    if goal.kind == G_CONJ or goal.kind == G_DISJ:
        name = "conj" if goal.kind == G_CONJ else "disj"
        inner = ", ".join(
            describe(goal_parts(goal)[i], None, depth + 1)
            for i in range(goal.count)
        )
        return f"{name}({inner})"
    if goal.kind == G_FRESH:
        return f"fresh({describe(goal.body, None, depth + 1)})"
    if goal.kind == G_CALL or goal.kind == G_FACTS:
        if goal.kind == G_CALL:
            label = (<Relation>goal.rel.owner).name
        shown = ", ".join(
            show_term(goal_args(goal)[i]) for i in range(goal.count)
        )
        return f"{label or 'facts'}({shown})"
    if goal.kind == G_PY:
        return f"pygoal({<object>goal.py!r})"
    return "<python stream>"


cdef Goal wrap_goal(GoalNode *goal):
    # Takes over the reference to `goal`.
    cdef Goal result = Goal.__new__(Goal)

    result.node = goal
    return result


cdef GoalNode *new_simple(int kind) except NULL:
    cdef GoalNode *goal = goal_alloc(kind, 0)

    if goal == NULL:
        raise MemoryError()
    return goal


succeed = wrap_goal(new_simple(G_SUCCEED))
fail = wrap_goal(new_simple(G_FAIL))


cdef GoalNode *check_goal(object goal, str where) except NULL:
    if not isinstance(goal, Goal):
        raise TypeError(
            f"{where} takes goals, not {type(goal).__name__} ({goal!r})"
        )
    return (<Goal>goal).node


def eq(u, v):
    """The goal that ``u`` and ``v`` unify.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> run(1, q, eq(q, (1, 2)))
    [(1, 2)]
    """
    cdef term_t a = to_term(u)
    cdef term_t b
    cdef GoalNode *goal

    try:
        b = to_term(v)
    except BaseException:
        term_decref(a)
        raise
    goal = goal_alloc(G_EQ, 0)
    if goal == NULL:
        term_decref(a)
        term_decref(b)
        raise MemoryError()
    goal.u = a
    goal.v = b
    return wrap_goal(goal)


cdef object combine(int kind, tuple goals, str where):
    # Flatten parts of the same kind, drop neutral goals, and keep a lone
    # remaining goal as the very object it was.
    cdef list owned = []
    cdef object lone = None
    cdef GoalNode *node
    cdef uint32_t i
    cdef int neutral = G_SUCCEED if kind == G_CONJ else G_FAIL

    for goal in goals:
        check_goal(goal, where)
    for goal in goals:
        node = (<Goal>goal).node
        if node.kind == kind:
            for i in range(node.count):
                owned.append(<size_t>goal_incref(goal_parts(node)[i]))
            lone = None
        elif node.kind != neutral:
            owned.append(<size_t>goal_incref(node))
            lone = goal
    if not owned:
        return succeed if kind == G_CONJ else fail
    if len(owned) == 1 and lone is not None:
        goal_decref(<GoalNode *><size_t>owned[0])
        return lone
    if len(owned) == 1:
        return wrap_goal(<GoalNode *><size_t>owned[0])
    return wrap_goal(build_goal(kind, owned))


def conj(*goals):
    """The goal that every goal of ``goals`` holds (in one state)."""
    return combine(G_CONJ, goals, "conj()")


def disj(*goals):
    """The goal that at least one goal of ``goals`` holds."""
    return combine(G_DISJ, goals, "disj()")


def conde(*clauses):
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


def _arity(fn):
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


def _param_names(fn, count):
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    names += [None] * count
    return names[:count]


cdef GoalNode *fresh_body(object fn, Py_ssize_t count, list names,
                          int64_t *lo, int64_t *hi,
                          bint *dynamic) except NULL:
    # Call fn with `count` new variables; the compiled body it returns.
    lo[0] = <int64_t>reserve_var_ids(0)
    params = [Var(name) for name in names]
    body = fn(*params)
    node = check_goal(body, f"the body of fresh({fn!r})")
    hi[0] = <int64_t>reserve_var_ids(0)
    return compile_goal(node, lo[0], hi[0], dynamic)


def fresh(count_or_fn, fn=None):
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
    cdef int64_t lo
    cdef int64_t hi
    cdef bint dynamic
    cdef GoalNode *body
    cdef GoalNode *goal

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

    body = fresh_body(fn, count, _param_names(fn, count), &lo, &hi, &dynamic)
    goal = goal_alloc(G_FRESH, 0)
    if goal == NULL:
        goal_decref(body)
        raise MemoryError()
    goal.body = body
    goal.lo = lo
    goal.hi = hi
    goal.arity = count
    goal.dynamic = dynamic
    if dynamic:
        Py_INCREF(fn)
        goal.py = <PyObject *>fn
    return wrap_goal(goal)


def pygoal(fn):
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
    cdef GoalNode *goal

    if not callable(fn):
        raise TypeError("pygoal() takes a function of a substitution")
    goal = new_simple(G_PY)
    Py_INCREF(fn)
    goal.py = <PyObject *>fn
    return wrap_goal(goal)


# ================================================================ relations

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

    def __eq__(self, other):
        object.__setattr__(self, "looked", True)
        return Var.__eq__(self, other)

    def __ne__(self, other):
        object.__setattr__(self, "looked", True)
        return Var.__ne__(self, other)

    def __hash__(self):
        object.__setattr__(self, "looked", True)
        return Var.__hash__(self)

    def __bool__(self):
        object.__setattr__(self, "looked", True)
        return True

    def __str__(self):
        object.__setattr__(self, "looked", True)
        return Var.__repr__(self)

    __repr__ = __str__

    def __format__(self, spec):
        object.__setattr__(self, "looked", True)
        return format(Var.__repr__(self), spec)

    def __getattribute__(self, name):
        if name == "__class__":
            object.__setattr__(self, "looked", True)
        return object.__getattribute__(self, name)


cdef object make_placeholder(int64_t var_id_):
    placeholder = _Placeholder.__new__(_Placeholder)
    set_var_id(<Var>placeholder, var_id_)
    object.__setattr__(placeholder, "looked", False)
    return placeholder


cdef class Relation:
    """A relation: a Python function from terms to a goal, expanded lazily.

    Make one with :func:`relation`.  Calling it gives a goal and does not
    call the function, so a relation may call itself in its body.  A
    relation lives as long as the process.
    """

    cdef RelImpl *impl
    cdef readonly object fn
    cdef readonly str name
    cdef readonly object arity
    cdef object lock
    cdef bint tracing
    cdef dict __dict__

    def __init__(self, fn, name=None, dynamic=False):
        if not callable(fn):
            raise TypeError("relation() takes a function returning a goal")
        if self.impl != NULL:
            raise TypeError("a relation is initialised once")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "relation")
        self.arity = _arity(fn)
        self.lock = threading.RLock()
        self.__doc__ = getattr(fn, "__doc__", None)
        self.impl = <RelImpl *>malloc(sizeof(RelImpl))
        if self.impl == NULL:
            raise MemoryError()
        memset(self.impl, 0, sizeof(RelImpl))
        self.impl.mode = MODE_DYNAMIC if dynamic else MODE_UNKNOWN
        self.impl.owner = <PyObject *>self
        # Goals point to impl, and impl back to this object, without
        # counting: the relation must outlive every goal, so it never dies.
        Py_INCREF(self)

    @property
    def dynamic(self):
        """Whether each expansion calls the function (no template)."""
        if kp_atomic_load(&self.impl.mode) == MODE_UNKNOWN:
            self.trace()
        return kp_atomic_load(&self.impl.mode) == MODE_DYNAMIC

    def __call__(self, *args):
        cdef GoalNode *goal
        cdef uint32_t i = 0

        if self.arity is not None and len(args) != self.arity:
            raise TypeError(
                f"relation {self.name} takes {self.arity} arguments, "
                f"got {len(args)}"
            )
        goal = goal_alloc(G_CALL, len(args))
        if goal == NULL:
            raise MemoryError()
        goal.rel = self.impl
        try:
            for i in range(len(args)):
                goal_args(goal)[i] = to_term(args[i])
        except BaseException:
            goal.count = i
            goal_decref(goal)
            raise
        return wrap_goal(goal)

    def __repr__(self):
        return f"<relation {self.name}>"

    cdef int trace(self) except -1:
        # Call the function on placeholders; keep a template if it can be.
        cdef int64_t start
        cdef int64_t stop
        cdef bint dynamic
        cdef GoalNode *body
        cdef Py_ssize_t count

        with self.lock:
            if kp_atomic_load(&self.impl.mode) != MODE_UNKNOWN:
                return 0
            if self.tracing:
                # The body asked about its own relation while traced:
                # the answer depends on it, so no template.
                kp_atomic_store(&self.impl.mode, MODE_DYNAMIC)
                return 0
            if self.arity is None:
                kp_atomic_store(&self.impl.mode, MODE_DYNAMIC)
                return 0

            count = self.arity
            start = <int64_t>reserve_var_ids(count)
            params = [make_placeholder(start + i) for i in range(count)]
            self.tracing = True
            try:
                goal = self.fn(*params)
            except Exception:
                kp_atomic_store(&self.impl.mode, MODE_DYNAMIC)
                return 0
            finally:
                self.tracing = False
            if kp_atomic_load(&self.impl.mode) != MODE_UNKNOWN:
                return 0
            stop = <int64_t>reserve_var_ids(0)
            looked = False
            for param in params:
                looked = looked or object.__getattribute__(param, "looked")
            if looked or not isinstance(goal, Goal):
                kp_atomic_store(&self.impl.mode, MODE_DYNAMIC)
                return 0

            body = compile_goal((<Goal>goal).node, start, stop, &dynamic)
            if dynamic:
                goal_decref(body)
                kp_atomic_store(&self.impl.mode, MODE_DYNAMIC)
                return 0
            self.impl.body = body
            self.impl.start = start
            self.impl.stop = stop
            self.impl.params = <uint32_t>count
            kp_atomic_store(&self.impl.mode, MODE_TEMPLATE)
        return 0

    cdef GoalNode *expand_python(self, GoalNode *call,
                                 HNode *root) except NULL:
        # Call the function with the current values of the arguments.
        cdef int64_t lo
        cdef int64_t hi
        cdef bint dynamic
        cdef uint32_t i

        values = [
            to_python(goal_args(call)[i], hnode_resolve, root, False, None)
            for i in range(call.count)
        ]
        lo = <int64_t>reserve_var_ids(0)
        goal = self.fn(*values)
        if not isinstance(goal, Goal):
            raise TypeError(
                f"relation {self.name} returned {type(goal).__name__}, "
                "not a goal"
            )
        hi = <int64_t>reserve_var_ids(0)
        return compile_goal((<Goal>goal).node, lo, hi, &dynamic)


def relation(fn=None, *, name=None, dynamic=False):
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


# ================================================================ search

cdef Cont *cont_new(GoalNode *conj_goal, uint32_t index,
                    Cont *next_cont) noexcept nogil:
    # Takes a new reference to conj_goal and the caller's to next_cont.
    cdef Cont *cell = <Cont *>malloc(sizeof(Cont))

    if cell == NULL:
        return NULL
    cell.refcnt = 1
    cell.conj = goal_incref(conj_goal)
    cell.index = index
    cell.next = next_cont
    return cell


cdef inline Cont *cont_incref(Cont *cell) noexcept nogil:
    if cell != NULL:
        kp_atomic_fetch_add(&cell.refcnt, 1)
    return cell


cdef void cont_decref(Cont *cell) noexcept nogil:
    cdef Cont *next_cell

    while cell != NULL and kp_atomic_fetch_add(&cell.refcnt, -1) == 1:
        next_cell = cell.next
        goal_decref(cell.conj)
        free(cell)
        cell = next_cell


cdef inline void task_release(Task *task) noexcept nogil:
    hnode_decref(task.root)
    goal_decref(task.goal)
    cont_decref(task.cont)
    task.root = NULL
    task.goal = NULL
    task.cont = NULL


cdef int queue_grow(TaskQueue *queue) noexcept nogil:
    cdef size_t capacity = 16 if queue.capacity == 0 else 2 * queue.capacity
    cdef Task *items = <Task *>malloc(capacity * sizeof(Task))
    cdef size_t i

    if items == NULL:
        return -1
    for i in range(queue.size):
        items[i] = queue.items[(queue.head + i) % queue.capacity]
    free(queue.items)
    queue.items = items
    queue.head = 0
    queue.capacity = capacity
    return 0


# The queue functions move a task in or out: its references go with it.
cdef int queue_push_back(TaskQueue *queue, Task *task) noexcept nogil:
    if queue.size == queue.capacity and queue_grow(queue) < 0:
        return -1
    queue.items[(queue.head + queue.size) % queue.capacity] = task[0]
    queue.size += 1
    return 0


cdef int queue_push_front(TaskQueue *queue, Task *task) noexcept nogil:
    if queue.size == queue.capacity and queue_grow(queue) < 0:
        return -1
    queue.head = (queue.head + queue.capacity - 1) % queue.capacity
    queue.items[queue.head] = task[0]
    queue.size += 1
    return 0


cdef bint queue_pop_front(TaskQueue *queue, Task *task) noexcept nogil:
    if queue.size == 0:
        return False
    task[0] = queue.items[queue.head]
    queue.head = (queue.head + 1) % queue.capacity
    queue.size -= 1
    return True


cdef bint queue_pop_back(TaskQueue *queue, Task *task) noexcept nogil:
    if queue.size == 0:
        return False
    queue.size -= 1
    task[0] = queue.items[(queue.head + queue.size) % queue.capacity]
    return True


cdef inline int push_copy(TaskQueue *queue, Task *task, uint32_t alt,
                          bint front) noexcept nogil:
    # Queue a second task sharing `task`'s state, with alternative `alt`.
    cdef Task copy

    copy.root = hnode_incref(task.root)
    copy.goal = goal_incref(task.goal)
    copy.cont = cont_incref(task.cont)
    copy.alt = alt
    if (queue_push_front(queue, &copy) if front
            else queue_push_back(queue, &copy)) < 0:
        task_release(&copy)
        return -1
    return 0


_END = object()


cdef class Search:
    """A running search for the answers of ``goal``, reified as ``query``.

    Iterate over it for answers.  It holds its pending tasks, so it can
    also be stepped with a budget, split to hand work to other workers,
    cancelled from another thread, and closed, which closes any Python
    goal it suspended.  One thread at a time may step a search.

    ``state``, a :class:`Substitution`, is the state the search starts
    from (the empty one by default).
    """

    ANSWER = ST_ANSWER
    EXHAUSTED = ST_EXHAUSTED
    BUDGET = ST_BUDGET
    CANCELLED = ST_CANCELLED

    def __cinit__(self):
        memset(&self.tasks, 0, sizeof(TaskQueue))
        self.query = 0
        self.answer_root = NULL
        self.steps = 0
        self.error = None
        self.has_answer = False
        self.closed = False
        self.cancelled = 0
        self.busy = 0

    def __init__(self, query, goal, occurs_check=True, state=None):
        cdef GoalNode *node = check_goal(goal, "Search()")
        cdef bint dynamic
        cdef Task task

        if self.query != 0:
            raise TypeError("a Search is initialised once")
        if state is not None and not isinstance(state, Substitution):
            raise TypeError(
                "Search(state=...) takes a Substitution, not "
                f"{type(state).__name__}"
            )
        self.query = to_term(query)
        self.occurs_check = bool(occurs_check)
        task.goal = compile_goal(node, 0, <int64_t>1 << 62, &dynamic)
        task.root = NULL
        if state is not None:
            task.root = hnode_incref((<Substitution>state).root)
        task.cont = NULL
        task.alt = 0
        if queue_push_back(&self.tasks, &task) < 0:
            task_release(&task)
            raise MemoryError()

    def __dealloc__(self):
        cdef Task task

        while queue_pop_back(&self.tasks, &task):
            close_stream(task.goal)
            task_release(&task)
        free(self.tasks.items)
        term_decref(self.query)
        hnode_decref(self.answer_root)

    cdef Search sibling(self):
        cdef Search other = Search.__new__(Search)

        other.query = term_incref(self.query)
        other.occurs_check = self.occurs_check
        return other

    @property
    def pending(self):
        """How many tasks wait in the queue."""
        return self.tasks.size

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            status = self.step(1 << 16)
            if status == ST_ANSWER:
                return self.answer()
            if status == ST_EXHAUSTED:
                raise StopIteration
            if status == ST_CANCELLED:
                if self.closed:
                    raise StopIteration
                raise SearchCancelled("the search was cancelled")
            PyErr_CheckSignals()

    def step(self, int64_t budget):
        """Run at most about ``budget`` goal steps.

        Returns ``Search.ANSWER`` (call :meth:`answer`),
        ``Search.EXHAUSTED``, ``Search.BUDGET`` or ``Search.CANCELLED``.
        """
        cdef int64_t idle = 0
        cdef int status

        if budget < 1:
            raise ValueError(f"budget must be >= 1, not {budget}")
        if not kp_atomic_cas(&self.busy, &idle, 1):
            raise RuntimeError(
                "this search is being stepped by another thread"
            )
        try:
            with nogil:
                status = self.run_steps(budget)
            if status == ST_ERROR:
                error = self.error
                self.error = None
                if error is None:
                    raise MemoryError("out of memory in the search")
                raise error
            if status == ST_CANCELLED:
                self.release_tasks()
            return status
        finally:
            kp_atomic_store(&self.busy, 0)

    def answer(self):
        """The answer found by the last step that returned ANSWER."""
        cdef HNode *root = self.answer_state()

        try:
            return reify_term(self.query, root, not self.occurs_check)
        except CyclicTermError as exc:
            raise CyclicTermError(
                f"{exc} (the occurs check is off, so an answer may be "
                "cyclic)"
            ) from None
        finally:
            hnode_decref(root)

    def answer_substitution(self):
        """The state of the last answer, as a :class:`Substitution`."""
        return substitution_from_root(self.answer_state(),
                                      not self.occurs_check)

    cdef HNode *answer_state(self) except? NULL:
        # A new reference to the last answer's trie, taken while no step
        # runs: a running step may replace (and free) it.
        cdef int64_t idle = 0
        cdef HNode *root

        if not kp_atomic_cas(&self.busy, &idle, 1):
            raise RuntimeError(
                "cannot read the answer while another thread steps the "
                "search"
            )
        root = hnode_incref(self.answer_root)
        has_answer = self.has_answer
        kp_atomic_store(&self.busy, 0)
        if not has_answer:
            raise RuntimeError("no answer yet: step() first")
        return root

    def split(self, count, pieces=None):
        """Move up to ``count`` waiting tasks into ``pieces`` new searches.

        The tasks are taken from the back of the queue, the ones that were
        suspended longest ago, and dealt round the new searches in turn,
        each keeping their order.  ``pieces`` defaults to ``count``: one
        task each.
        """
        cdef Task task
        cdef Search other
        cdef int64_t idle = 0
        cdef Py_ssize_t dealt = 0

        if pieces is None:
            pieces = count
        if count < 0 or pieces < 1:
            raise ValueError(
                f"split() needs count >= 0 and pieces >= 1, not "
                f"{count} and {pieces}"
            )
        if not kp_atomic_cas(&self.busy, &idle, 1):
            raise RuntimeError("cannot split a search while it runs")
        taken = []
        try:
            while dealt < count and queue_pop_back(&self.tasks, &task):
                if len(taken) < pieces:
                    taken.append(self.sibling())
                other = <Search>taken[dealt % pieces]
                dealt += 1
                if queue_push_front(&other.tasks, &task) < 0:
                    task_release(&task)
                    raise MemoryError()
        finally:
            kp_atomic_store(&self.busy, 0)
        return taken

    def cancel(self):
        """Make the search stop at its next task; safe from any thread."""
        kp_atomic_store(&self.cancelled, 1)

    @property
    def cancelled(self):
        """Whether :meth:`cancel` or :meth:`close` was called."""
        return kp_atomic_load(&self.cancelled) != 0

    def close(self):
        """Drop every pending task and close suspended Python goals.

        From another thread while the search runs, this cancels it; the
        running step then drops the tasks itself.
        """
        cdef int64_t idle = 0

        self.closed = True
        kp_atomic_store(&self.cancelled, 1)
        if not kp_atomic_cas(&self.busy, &idle, 1):
            return
        try:
            self.release_tasks()
        finally:
            kp_atomic_store(&self.busy, 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    cdef void release_tasks(self):
        cdef Task task

        while queue_pop_back(&self.tasks, &task):
            close_stream(task.goal)
            task_release(&task)

    # ------------------------------------------------------------ loop

    cdef GoalNode *expand_call(self, GoalNode *call,
                               HNode *root) noexcept nogil:
        cdef RelImpl *rel = call.rel

        if kp_atomic_load(&rel.mode) == MODE_TEMPLATE:
            return instantiate(rel.body, rel.start, rel.stop,
                               goal_args(call), call.count)
        with gil:
            try:
                owner = <Relation>rel.owner
                if kp_atomic_load(&rel.mode) == MODE_UNKNOWN:
                    owner.trace()
                if kp_atomic_load(&rel.mode) == MODE_TEMPLATE:
                    return instantiate(rel.body, rel.start, rel.stop,
                                       goal_args(call), call.count)
                return owner.expand_python(call, root)
            except BaseException as exc:
                self.error = exc
                return NULL

    cdef GoalNode *run_fresh(self, GoalNode *goal) noexcept nogil:
        cdef int64_t lo
        cdef int64_t hi
        cdef bint dynamic

        if not goal.dynamic:
            return instantiate(goal.body, goal.lo, goal.hi, NULL, 0)
        with gil:
            try:
                fn = <object>goal.py
                names = [None] * goal.arity
                return fresh_body(fn, goal.arity, names, &lo, &hi, &dynamic)
            except BaseException as exc:
                self.error = exc
                return NULL

    cdef int python_step(self, Task *task) noexcept nogil:
        # 1: the goal succeeded in task.root; 0: the task is finished;
        # 2: the task's goal was replaced; -1: an exception is stored.
        with gil:
            try:
                return self.python_goal(task)
            except BaseException as exc:
                self.error = exc
                return -1

    cdef int python_goal(self, Task *task) except -2:
        cdef GoalNode *goal = task.goal
        cdef GoalNode *stream
        cdef bint dynamic

        if goal.kind == G_PY:
            state = substitution_from_root(hnode_incref(task.root),
                                           not self.occurs_check)
            result = (<object>goal.py)(state)
            if isinstance(result, Goal):
                # A goal chosen by Python runs in place of this one.
                task.goal = compile_goal((<Goal>result).node, 0, 0,
                                         &dynamic)
                goal_decref(goal)
                return 2
            iterator = iter(() if result is None else result)
            stream = new_simple(G_PYSTREAM)
            Py_INCREF(iterator)
            stream.py = <PyObject *>iterator
            goal_decref(goal)
            task.goal = stream
            return 2

        state = next(<object>goal.py, _END)
        if state is _END:
            task_release(task)
            return 0
        if push_copy(&self.tasks, task, 0, False) < 0:
            raise MemoryError()
        if state is None:
            task_release(task)
            return 0
        if not isinstance(state, Substitution):
            raise TypeError(
                "a Python goal must yield Substitution objects "
                f"(from unify) or None, not {type(state).__name__}"
            )
        hnode_decref(task.root)
        task.root = hnode_incref((<Substitution>state).root)
        return 1

    cdef int run_steps(self, int64_t budget) noexcept nogil:
        cdef Task task
        cdef GoalNode *goal
        cdef GoalNode *next_goal
        cdef Cont *cell
        cdef Cont *next_cell
        cdef uint32_t *rows
        cdef uint32_t count
        cdef int64_t spent = 0
        cdef int status
        cdef int result = ST_EXHAUSTED
        cdef bint done = False
        cdef bint succeeded

        while not done:
            if kp_atomic_load(&self.cancelled):
                result = ST_CANCELLED
                break
            if self.tasks.size == 0:
                result = ST_EXHAUSTED
                break
            if spent >= budget:
                result = ST_BUDGET
                break
            queue_pop_front(&self.tasks, &task)

            while True:
                spent += 1
                goal = task.goal
                succeeded = False

                if goal.kind == G_EQ:
                    # The task owns its trie: where no other task shares
                    # it, the bindings go in place.
                    status = unify_owned(goal.u, goal.v, &task.root,
                                         self.occurs_check)
                    if status != 1:
                        task_release(&task)
                        if status < 0:
                            result = ST_ERROR
                            done = True
                        break
                    succeeded = True

                elif goal.kind == G_CONJ:
                    cell = cont_new(goal, 1, task.cont)
                    if cell == NULL:
                        task_release(&task)
                        result = ST_ERROR
                        done = True
                        break
                    task.cont = cell
                    task.goal = goal_incref(goal_parts(goal)[0])
                    goal_decref(goal)
                    continue

                elif goal.kind == G_DISJ:
                    if task.alt + 1 < goal.count:
                        if push_copy(&self.tasks, &task, task.alt + 1,
                                     True) < 0:
                            task_release(&task)
                            result = ST_ERROR
                            done = True
                            break
                    task.goal = goal_incref(goal_parts(goal)[task.alt])
                    goal_decref(goal)
                    task.alt = 0
                    continue

                elif goal.kind == G_CALL:
                    if task.alt == 0:
                        # Suspend: the call is expanded when its turn
                        # comes round again.
                        task.alt = 1
                        if queue_push_back(&self.tasks, &task) < 0:
                            task_release(&task)
                            result = ST_ERROR
                            done = True
                        break
                    next_goal = self.expand_call(goal, task.root)
                    if next_goal == NULL:
                        task_release(&task)
                        result = ST_ERROR
                        done = True
                        break
                    task.goal = next_goal
                    task.alt = 0
                    goal_decref(goal)
                    continue

                elif goal.kind == G_FRESH:
                    next_goal = self.run_fresh(goal)
                    if next_goal == NULL:
                        task_release(&task)
                        result = ST_ERROR
                        done = True
                        break
                    task.goal = next_goal
                    goal_decref(goal)
                    continue

                elif goal.kind == G_FACTS:
                    count = table_candidates(goal.table, goal_args(goal),
                                             task.root, &rows)
                    if task.alt >= count:
                        task_release(&task)
                        break
                    if task.alt + 1 < count:
                        if push_copy(&self.tasks, &task, task.alt + 1,
                                     True) < 0:
                            task_release(&task)
                            result = ST_ERROR
                            done = True
                            break
                    status = unify_row(
                        goal, rows[task.alt] if rows != NULL else task.alt,
                        &task)
                    task.alt = 0
                    if status != 1:
                        task_release(&task)
                        if status < 0:
                            result = ST_ERROR
                            done = True
                        break
                    succeeded = True

                elif goal.kind == G_SUCCEED:
                    succeeded = True

                elif goal.kind == G_FAIL:
                    task_release(&task)
                    break

                else:
                    status = self.python_step(&task)
                    if status < 0:
                        task_release(&task)
                        result = ST_ERROR
                        done = True
                        break
                    if status == 0:
                        break
                    if status == 2:
                        continue
                    succeeded = True

                if succeeded:
                    if task.cont == NULL:
                        hnode_decref(self.answer_root)
                        self.answer_root = task.root
                        self.has_answer = True
                        task.root = NULL
                        task_release(&task)
                        result = ST_ANSWER
                        done = True
                        break
                    cell = task.cont
                    next_goal = goal_incref(
                        goal_parts(cell.conj)[cell.index]
                    )
                    if cell.index + 1 < cell.conj.count:
                        next_cell = cont_new(cell.conj, cell.index + 1,
                                             cont_incref(cell.next))
                        if next_cell == NULL:
                            goal_decref(next_goal)
                            task_release(&task)
                            result = ST_ERROR
                            done = True
                            break
                    else:
                        next_cell = cont_incref(cell.next)
                    cont_decref(cell)
                    goal_decref(task.goal)
                    task.goal = next_goal
                    task.cont = next_cell
                    task.alt = 0

                if spent >= budget:
                    if queue_push_front(&self.tasks, &task) < 0:
                        task_release(&task)
                        result = ST_ERROR
                    else:
                        result = ST_BUDGET
                    done = True
                    break

        self.steps += spent
        return result


cdef void close_stream(GoalNode *goal) noexcept:
    # Close a suspended Python goal's iterator, reporting (not raising)
    # what its close() raises: this runs while tasks are being dropped.
    if goal == NULL or goal.kind != G_PYSTREAM:
        return
    closer = getattr(<object>goal.py, "close", None)
    if closer is None:
        return
    try:
        closer()
    except BaseException as exc:
        import sys

        sys.unraisablehook(_unraisable(exc, closer))


def _unraisable(exc, obj):
    import types

    return types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__,
        err_msg="Exception ignored while closing a Python goal",
        object=obj,
    )


# ================================================================ run

def check_count(n):
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


def run(n, query, *goals, occurs_check=True):
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


def run_all(query, *goals, occurs_check=True):
    """Every answer; the same as ``run(0, query, *goals)``."""
    return run(None, query, *goals, occurs_check=occurs_check)


def run_iter(query, *goals, occurs_check=True):
    """A lazy iterator over the answers; close it to stop the search.

    >>> from kando_parallel import var, eq, disj
    >>> q = var()
    >>> answers = run_iter(q, disj(eq(q, 1), eq(q, 2)))
    >>> next(answers)
    1
    """
    search = Search(query, conj(*goals), occurs_check)
    return _answers(search)


def _answers(search):
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
