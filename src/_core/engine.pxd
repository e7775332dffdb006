# Goals and the search loop, in C.
#
# A goal is an immutable GoalNode: a kind, the fields that kind uses, and
# `count` inline items after the header (child goals for CONJ and DISJ,
# argument terms for CALL and FACTS).  Goals form DAGs: a goal may be a
# part of many others.
#
# Ownership.  Every GoalNode, Cont and FactTable has an atomic reference
# count; a field that points to one owns a reference, and so do term and
# trie fields (see terms.pxd, subst.pxd).  A Task owns its trie, goal and
# continuation.  Relations (RelImpl) are never freed: a relation lives as
# long as the process, so goals point to it without counting.
#
# Python objects.  PY goals hold the function, PYSTREAM goals an iterator,
# dynamic FRESH goals the function that builds their body.  Releasing one
# of those goals takes the GIL for that moment; every other goal is
# released without it.
#
# Thread safety.  Goals, continuations, fact tables and tries never change
# after they are built, so any number of searches may share them from
# any number of threads.  A relation's template is published once, with
# an atomic store of its mode after its fields.  A Search is used by one
# thread at a time; its `cancel` flag may be set from any thread.

from libc.stdint cimport int64_t, uint32_t, uint64_t
from cpython.object cimport PyObject

from kando_parallel._core.atomics cimport kp_atomic_i64
from kando_parallel._core.subst cimport HNode
from kando_parallel._core.terms cimport term_t


cdef enum GoalKind:
    G_SUCCEED = 0
    G_FAIL = 1
    G_EQ = 2
    G_CONJ = 3
    G_DISJ = 4
    G_FRESH = 5
    G_CALL = 6
    G_FACTS = 7
    G_PY = 8
    G_PYSTREAM = 9


cdef enum RelationMode:
    MODE_UNKNOWN = 0
    MODE_TEMPLATE = 1
    MODE_DYNAMIC = 2


cdef struct FactTable:
    kp_atomic_i64 refcnt
    uint32_t arity
    uint32_t rows
    term_t *cells
    # Per column: an open-addressing table from a value's word to the run
    # of row numbers holding that value (slots of `capacity`, row numbers
    # grouped by value in `order`).
    uint64_t *keys
    uint32_t *starts
    uint32_t *counts
    uint32_t *order
    size_t capacity


cdef struct RelImpl:
    kp_atomic_i64 mode
    GoalNode *body
    int64_t start
    int64_t stop
    uint32_t params
    PyObject *owner


cdef struct GoalNode:
    kp_atomic_i64 refcnt
    int kind
    uint32_t count
    term_t u
    term_t v
    int64_t lo
    int64_t hi
    GoalNode *body
    RelImpl *rel
    FactTable *table
    PyObject *py
    uint32_t arity
    bint dynamic


cdef inline GoalNode **goal_parts(GoalNode *goal) noexcept nogil:
    return <GoalNode **>(goal + 1)


cdef inline term_t *goal_args(GoalNode *goal) noexcept nogil:
    return <term_t *>(goal + 1)


cdef struct Cont:
    kp_atomic_i64 refcnt
    GoalNode *conj
    uint32_t index
    Cont *next


cdef struct Task:
    HNode *root
    GoalNode *goal
    Cont *cont
    uint32_t alt


cdef struct TaskQueue:
    Task *items
    size_t head
    size_t size
    size_t capacity


cdef void goal_decref(GoalNode *goal) noexcept nogil


cdef class Goal:
    cdef GoalNode *node
    cdef readonly object label


cdef class Search:
    cdef TaskQueue tasks
    cdef term_t query
    cdef bint occurs_check
    cdef HNode *answer_root
    cdef readonly int64_t steps
    cdef bint has_answer
    cdef bint closed
    cdef object error
    cdef kp_atomic_i64 cancelled
    cdef kp_atomic_i64 busy

    cdef Search sibling(self)
    cdef HNode *answer_state(self) except? NULL
    cdef void release_tasks(self)
    cdef GoalNode *expand_call(self, GoalNode *call,
                               HNode *root) noexcept nogil
    cdef GoalNode *run_fresh(self, GoalNode *goal) noexcept nogil
    cdef int python_step(self, Task *task) noexcept nogil
    cdef int python_goal(self, Task *task) except -2
    cdef int run_steps(self, int64_t budget) noexcept nogil
