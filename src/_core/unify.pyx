# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, freethreading_compatible=True
"""Walking, unification and reification, in C.

* ``walk`` follows variable bindings until it reaches an unbound variable
  or a non-variable term: one trie lookup per link.
* ``unify_terms`` is iterative: a stack of term pairs still to be made
  equal, starting in an inline buffer.  Two words that are equal are
  equal terms (shared nodes, same variable, same atom), so shared
  subterms cost nothing.  The occurs check is on unless asked off; it
  skips every node that records no variable and visits each bound
  variable at most once, so it is linear in the size of what it visits.
  A variable bound to another variable binds the younger to the older.
* Reification rebuilds Python values with an explicit stack (terms.pyx,
  ``to_python``), numbering unbound variables ``_0``, ``_1``... in order
  of first appearance.

A trie built with the occurs check on is acyclic.  One built with it off,
or from a user's dict, may bind a variable to a term containing it;
``find_cycle`` detects that so that reification raises instead of
looping for ever.  None of this needs the GIL except building Python
objects, so unification runs in parallel on all cores.
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc

from kando_parallel._core.subst cimport (
    HNode,
    Substitution,
    as_substitution,
    hnode_decref,
    hnode_incref,
    hnode_insert_owned,
    hnode_lookup,
    hnode_resolve,
    substitution_from_root,
)
from kando_parallel._core.terms cimport (
    DICT,
    Node,
    WordStack,
    as_node,
    atoms_equal,
    free,
    is_node,
    term_is_var,
    malloc,
    node_args,
    stack_free,
    stack_init,
    stack_pop,
    stack_push,
    term_decref,
    term_t,
    to_python,
    to_term,
    var_from_id,
    var_id,
)


class CyclicTermError(ValueError):
    """A substitution binds a variable to a term that contains it."""


cdef term_t walk_term(term_t term, HNode *subst) noexcept nogil:
    cdef term_t bound

    while term_is_var(term):
        bound = hnode_lookup(subst, var_id(term))
        if bound == 0:
            return term
        term = bound
    return term


# ---------------------------------------------------------------- id sets

# An open-addressing set of nonzero 64-bit ids, for the occurs check and
# the cycle search.  It starts in an inline buffer and moves to the heap
# only when it grows past it; never copy one by value.
cdef enum:
    IDSET_INLINE = 32

cdef struct IdSet:
    uint64_t *slots
    size_t capacity
    size_t size
    uint64_t inline_slots[IDSET_INLINE]


cdef inline void idset_init(IdSet *ids) noexcept nogil:
    cdef int i

    for i in range(IDSET_INLINE):
        ids.inline_slots[i] = 0
    ids.slots = ids.inline_slots
    ids.capacity = IDSET_INLINE
    ids.size = 0


cdef inline void idset_free(IdSet *ids) noexcept nogil:
    if ids.slots != ids.inline_slots:
        free(ids.slots)


cdef inline size_t id_hash(uint64_t key) noexcept nogil:
    key ^= key >> 33
    key *= <uint64_t>0xff51afd7ed558ccd
    key ^= key >> 33
    return <size_t>key


cdef int idset_grow(IdSet *ids) noexcept nogil:
    cdef size_t capacity = 2 * ids.capacity
    cdef uint64_t *slots = <uint64_t *>malloc(capacity * sizeof(uint64_t))
    cdef uint64_t *old = ids.slots
    cdef size_t old_capacity = ids.capacity
    cdef size_t i
    cdef size_t j

    if slots == NULL:
        return -1
    for i in range(capacity):
        slots[i] = 0
    for i in range(old_capacity):
        if old[i] != 0:
            j = id_hash(old[i]) & (capacity - 1)
            while slots[j] != 0:
                j = (j + 1) & (capacity - 1)
            slots[j] = old[i]
    if old != ids.inline_slots:
        free(old)
    ids.slots = slots
    ids.capacity = capacity
    return 0


# 1 if added, 0 if it was there already, -1 when memory runs out.
cdef int idset_add(IdSet *ids, uint64_t key) noexcept nogil:
    cdef size_t j

    if 2 * (ids.size + 1) > ids.capacity and idset_grow(ids) < 0:
        return -1
    j = id_hash(key) & (ids.capacity - 1)
    while ids.slots[j] != 0:
        if ids.slots[j] == key:
            return 0
        j = (j + 1) & (ids.capacity - 1)
    ids.slots[j] = key
    ids.size += 1
    return 1


cdef bint idset_has(IdSet *ids, uint64_t key) noexcept nogil:
    cdef size_t j

    j = id_hash(key) & (ids.capacity - 1)
    while ids.slots[j] != 0:
        if ids.slots[j] == key:
            return True
        j = (j + 1) & (ids.capacity - 1)
    return False


cdef void idset_remove(IdSet *ids, uint64_t key) noexcept nogil:
    # Backward-shift deletion keeps every probe chain unbroken.
    cdef size_t mask = ids.capacity - 1
    cdef size_t hole
    cdef size_t j
    cdef size_t home

    hole = id_hash(key) & mask
    while ids.slots[hole] != key:
        if ids.slots[hole] == 0:
            return
        hole = (hole + 1) & mask
    ids.slots[hole] = 0
    ids.size -= 1
    j = (hole + 1) & mask
    while ids.slots[j] != 0:
        home = id_hash(ids.slots[j]) & mask
        if ((j - home) & mask) >= ((j - hole) & mask):
            ids.slots[hole] = ids.slots[j]
            ids.slots[j] = 0
            hole = j
        j = (j + 1) & mask


# ---------------------------------------------------------------- occurs

cdef int occurs(uint64_t var_id_, term_t term, HNode *subst) noexcept nogil:
    cdef WordStack pending
    cdef IdSet seen
    cdef term_t bound
    cdef Node *node
    cdef uint32_t i
    cdef int added
    cdef int found = 0

    idset_init(&seen)
    stack_init(&pending)
    if stack_push(&pending, term) < 0:
        return -1

    while pending.size and not found:
        term = stack_pop(&pending)
        while term_is_var(term):
            if var_id(term) == var_id_:
                found = 1
                break
            bound = hnode_lookup(subst, var_id(term))
            if bound == 0:
                break
            added = idset_add(&seen, var_id(term))
            if added < 0:
                found = -1
                break
            term = bound if added else 0
        if found or not is_node(term) or term == 0:
            continue
        node = as_node(term)
        if not node.flags & 1:
            continue
        for i in range(node.arity):
            if stack_push(&pending, node_args(node)[i]) < 0:
                found = -1
                break

    stack_free(&pending)
    idset_free(&seen)
    return found


# ---------------------------------------------------------------- unify

cdef int bind(HNode **subst, uint64_t var_id_, term_t value) noexcept nogil:
    # Replaces *subst, whose reference it consumes; nodes nobody else
    # holds are extended in place.
    cdef HNode *grown = hnode_insert_owned(subst[0], var_id_, value)

    subst[0] = grown
    if grown == NULL:
        return -1
    return 0


cdef int push_matched_keys(Node *a, Node *b,
                           WordStack *pending) noexcept nogil:
    # Push the value pairs of two dicts matched key by key: 1, or 0 when a
    # key of one is missing from the other, or -1 when memory runs out.
    # Keys are immediate words; dicts in the same order match position by
    # position, others by a search (dicts are records, usually small).
    cdef term_t *left = node_args(a)
    cdef term_t *right = node_args(b)
    cdef uint32_t i
    cdef uint32_t j

    for i in range(0, a.arity, 2):
        if atoms_equal(left[i], right[i]):
            j = i
        else:
            j = 0
            while j < b.arity and not atoms_equal(left[i], right[j]):
                j += 2
            if j >= b.arity:
                return 0
        if (stack_push(pending, left[i + 1]) < 0
                or stack_push(pending, right[j + 1]) < 0):
            return -1
    return 1


cdef int unify_terms(term_t u, term_t v, HNode *subst, bint occurs_check,
                     HNode **result) noexcept nogil:
    cdef int status

    result[0] = hnode_incref(subst)
    status = unify_owned(u, v, result, occurs_check)
    if status != 1:
        hnode_decref(result[0])
        result[0] = NULL
    return status


# Pairs of compound nodes that one unification has already taken apart.
# Terms made cyclic through bindings (with the occurs check off, or in a
# user's substitution) would be taken apart for ever; meeting a pair again
# means it is being unified already, so it is skipped, which is sound and
# makes the walk finite.  Watching starts only after CYCLE_WATCH_AFTER
# pairs, so ordinary unifications pay nothing.
cdef enum:
    CYCLE_WATCH_AFTER = 65536

cdef struct PairSet:
    uint64_t *slots          # 2 words a slot; an empty slot holds 0
    size_t capacity
    size_t size


cdef inline size_t pair_hash(uint64_t a, uint64_t b) noexcept nogil:
    return id_hash(a ^ (b * <uint64_t>0x9e3779b97f4a7c15))


cdef int pairset_grow(PairSet *pairs) noexcept nogil:
    cdef size_t capacity = 1024 if pairs.capacity == 0 else 2 * pairs.capacity
    cdef uint64_t *slots = <uint64_t *>calloc(2 * capacity, sizeof(uint64_t))
    cdef size_t i
    cdef size_t j

    if slots == NULL:
        return -1
    for i in range(pairs.capacity):
        if pairs.slots[2 * i] != 0:
            j = pair_hash(pairs.slots[2 * i], pairs.slots[2 * i + 1])
            j &= capacity - 1
            while slots[2 * j] != 0:
                j = (j + 1) & (capacity - 1)
            slots[2 * j] = pairs.slots[2 * i]
            slots[2 * j + 1] = pairs.slots[2 * i + 1]
    free(pairs.slots)
    pairs.slots = slots
    pairs.capacity = capacity
    return 0


# 1 if added, 0 if it was there already, -1 when memory runs out.
cdef int pairset_add(PairSet *pairs, uint64_t a, uint64_t b) noexcept nogil:
    cdef size_t j

    if 2 * (pairs.size + 1) > pairs.capacity and pairset_grow(pairs) < 0:
        return -1
    j = pair_hash(a, b) & (pairs.capacity - 1)
    while pairs.slots[2 * j] != 0:
        if pairs.slots[2 * j] == a and pairs.slots[2 * j + 1] == b:
            return 0
        j = (j + 1) & (pairs.capacity - 1)
    pairs.slots[2 * j] = a
    pairs.slots[2 * j + 1] = b
    pairs.size += 1
    return 1


cdef int unify_owned(term_t u, term_t v, HNode **root,
                     bint occurs_check) noexcept nogil:
    cdef WordStack pending
    cdef HNode *subst = root[0]
    cdef Node *a
    cdef Node *b
    cdef uint32_t i
    cdef int status = 1
    cdef size_t compounds = 0
    cdef PairSet seen_pairs

    seen_pairs.slots = NULL
    seen_pairs.capacity = 0
    seen_pairs.size = 0
    stack_init(&pending)
    if stack_push(&pending, u) < 0 or stack_push(&pending, v) < 0:
        status = -1

    while pending.size and status == 1:
        v = walk_term(stack_pop(&pending), subst)
        u = walk_term(stack_pop(&pending), subst)
        if u == v:
            continue

        if term_is_var(u) and term_is_var(v):
            if var_id(u) > var_id(v):
                status = bind(&subst, var_id(u), v) or 1
            else:
                status = bind(&subst, var_id(v), u) or 1
            continue
        if term_is_var(u) or term_is_var(v):
            if term_is_var(v):
                u, v = v, u
            if occurs_check and is_node(v):
                status = occurs(var_id(u), v, subst)
                if status != 0:
                    status = -1 if status < 0 else 0
                    break
            status = bind(&subst, var_id(u), v) or 1
            continue

        if not (is_node(u) and is_node(v)):
            if not (is_node(u) or is_node(v)) and atoms_equal(u, v):
                continue
            status = 0
            break
        a = as_node(u)
        b = as_node(v)
        if a.functor != b.functor or a.arity != b.arity:
            status = 0
            break
        compounds += 1
        if compounds > CYCLE_WATCH_AFTER:
            status = pairset_add(&seen_pairs, <uint64_t>a, <uint64_t>b)
            if status == 0:
                status = 1
                continue
            if status < 0:
                break
        if a.functor == DICT:
            status = push_matched_keys(a, b, &pending)
            continue
        for i in range(a.arity - 1, -1, -1):
            if (stack_push(&pending, node_args(a)[i]) < 0
                    or stack_push(&pending, node_args(b)[i]) < 0):
                status = -1
                break

    stack_free(&pending)
    free(seen_pairs.slots)
    root[0] = subst
    return status


# ---------------------------------------------------------------- cycles

cdef int64_t find_cycle(term_t term, HNode *subst) noexcept nogil:
    # Depth-first over the bindings reachable from `term`.  A variable is
    # open while the terms reachable from its binding are searched; an
    # exit frame (the id with the top bit set) closes it again.
    cdef WordStack pending
    cdef IdSet open_ids
    cdef IdSet done
    cdef uint64_t word
    cdef uint64_t id_
    cdef term_t bound
    cdef Node *node
    cdef uint32_t i
    cdef int64_t result = 0
    cdef uint64_t EXIT = (<uint64_t>1) << 63

    idset_init(&open_ids)
    idset_init(&done)
    stack_init(&pending)
    if stack_push(&pending, term) < 0:
        return -1

    while pending.size and result == 0:
        word = stack_pop(&pending)
        if word & EXIT:
            id_ = word & ~EXIT
            idset_remove(&open_ids, id_)
            if idset_add(&done, id_) < 0:
                result = -1
            continue
        if term_is_var(word):
            id_ = var_id(word)
            if idset_has(&open_ids, id_):
                result = <int64_t>id_
                break
            if idset_has(&done, id_):
                continue
            bound = hnode_lookup(subst, id_)
            if bound == 0:
                continue
            if (idset_add(&open_ids, id_) < 0
                    or stack_push(&pending, id_ | EXIT) < 0
                    or stack_push(&pending, bound) < 0):
                result = -1
            continue
        if not is_node(word):
            continue
        node = as_node(word)
        if not node.flags & 1:
            continue
        for i in range(node.arity):
            if stack_push(&pending, node_args(node)[i]) < 0:
                result = -1
                break

    stack_free(&pending)
    idset_free(&open_ids)
    idset_free(&done)
    return result


cdef object reify_term(term_t term, HNode *subst, bint may_cycle):
    cdef int64_t cyclic

    if may_cycle:
        cyclic = find_cycle(term, subst)
        if cyclic < 0:
            raise MemoryError()
        if cyclic > 0:
            raise CyclicTermError(
                f"{var_from_id(cyclic)!r} is bound to a term that contains "
                "it; reify needs a finite term"
            )
    return to_python(term, hnode_resolve, subst, True, None)


# ---------------------------------------------------------------- Python

def walk(u, s=None):
    """Follow the bindings of ``s`` from ``u``; the value it ends at.

    >>> from kando_parallel import var, unify
    >>> x, y = var("x"), var("y")
    >>> walk(x, unify(x, (1, y)))
    (1, ~y)
    """
    cdef Substitution subst = as_substitution(s)
    cdef term_t term = to_term(u)

    try:
        return to_python(walk_term(term, subst.root), NULL, NULL, False, None)
    finally:
        term_decref(term)


def unify(u, v, s=None, *, occurs_check=True):
    """Unify ``u`` and ``v`` under ``s``: the extended substitution, or None.

    ``s`` may be ``None`` (no bindings), a :class:`Substitution` or a dict
    of variables to values.  The occurs check is on unless
    ``occurs_check=False``: a variable never unifies with a term that
    contains it.

    >>> from kando_parallel import var
    >>> x = var("x")
    >>> unify((x, 2), (1, 2))[x]
    1
    >>> unify(x, (1, x)) is None
    True
    """
    cdef Substitution subst = as_substitution(s)
    cdef bint check = bool(occurs_check)
    cdef term_t a = to_term(u)
    cdef term_t b
    cdef HNode *result = NULL
    cdef int status

    try:
        b = to_term(v)
    except BaseException:
        term_decref(a)
        raise
    if is_node(a) and is_node(b):
        # Two compound terms may take long enough to pay for the switch.
        with nogil:
            status = unify_terms(a, b, subst.root, check, &result)
    else:
        status = unify_terms(a, b, subst.root, check, &result)
    term_decref(a)
    term_decref(b)

    if status < 0:
        raise MemoryError()
    if status == 0:
        return None
    return substitution_from_root(result, subst.may_cycle or not check)


def reify(u, s=None):
    """The value of ``u`` under ``s``, unbound variables named ``_0``, ...

    Raises ``CyclicTermError`` if ``s`` binds a variable reachable from
    ``u`` to a term containing that variable.

    >>> from kando_parallel import var
    >>> x, y = var(), var()
    >>> reify((x, y, x), unify(y, [1, 2]))
    (_0, [1, 2], _0)
    """
    cdef Substitution subst = as_substitution(s)
    cdef term_t term = to_term(u)

    try:
        return reify_term(term, subst.root, subst.may_cycle)
    finally:
        term_decref(term)


__all__ = ["CyclicTermError", "reify", "unify", "walk"]
