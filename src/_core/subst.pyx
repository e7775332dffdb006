# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, freethreading_compatible=True
"""Substitutions: persistent maps from variable ids to terms, in C.

A substitution is a hash array mapped trie in the CHAMP layout, keyed by
variable id.  Each node has two 32-bit maps: ``datamap`` marks the slots
that hold a key and its term inline, ``nodemap`` the slots that hold a
child node; the inline pairs come first, then the children, each group in
slot order.  The slot of a key at depth d is bits 5d..5d+4 of the id
itself: ids are unique, so they need no hashing, and two keys always part
before the bits run out.  Consecutive ids part in the first level, so the
trie stays shallow: depth log32(n) + 1 for n bindings made in one search.

Adding a binding copies the path from the root to one node, O(log32 n)
time and space, and leaves the old trie valid: branches of a search share
everything they did not change, and threads share tries with no lock
because nodes never change after they are built.

Invariant: a node is never empty, except that the empty trie is NULL.
"""

from collections.abc import ItemsView, KeysView, Mapping, ValuesView

from libc.stdint cimport int64_t, uint32_t, uint64_t

from kando_parallel._core.atomics cimport (
    kp_atomic_fetch_add,
    kp_atomic_load,
)
from kando_parallel._core.terms cimport (
    Var,
    free,
    malloc,
    realloc,
    term_decref,
    term_incref,
    term_t,
    to_python,
    to_term,
    var_from_id,
)


cdef extern from *:
    """
    static inline int kp_popcount32(uint32_t x)
    {
    #if (defined(__GNUC__) || defined(__clang__)) \
        && (defined(__POPCNT__) || defined(__aarch64__))
        return __builtin_popcount(x);
    #else
        /* Without a popcount instruction the builtin becomes a libgcc
           call; this is the same count in a dozen inline operations. */
        x = x - ((x >> 1) & 0x55555555u);
        x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
        x = (x + (x >> 4)) & 0x0F0F0F0Fu;
        return (int)((x * 0x01010101u) >> 24);
    #endif
    }
    """
    int kp_popcount32(uint32_t x) noexcept nogil


cdef enum:
    BITS = 5
    MASK = 31


cdef inline uint64_t *slots_of(HNode *node) noexcept nogil:
    return <uint64_t *>(node + 1)


cdef inline HNode *child_at(HNode *node, int index) noexcept nogil:
    cdef int data = 2 * kp_popcount32(node.datamap)

    return <HNode *>slots_of(node)[data + index]


cdef inline uint32_t bit_of(uint64_t key, int shift) noexcept nogil:
    return (<uint32_t>1) << ((key >> shift) & MASK)


cdef HNode *hnode_alloc(uint32_t datamap, uint32_t nodemap) noexcept nogil:
    cdef size_t words = (2 * kp_popcount32(datamap)
                         + kp_popcount32(nodemap))
    cdef HNode *node = <HNode *>malloc(
        sizeof(HNode) + words * sizeof(uint64_t)
    )

    if node == NULL:
        return NULL
    node.refcnt = 1
    node.datamap = datamap
    node.nodemap = nodemap
    return node


cdef HNode *hnode_incref(HNode *node) noexcept nogil:
    if node != NULL:
        kp_atomic_fetch_add(&node.refcnt, 1)
    return node


cdef void hnode_decref(HNode *node) noexcept nogil:
    cdef int data
    cdef int children
    cdef int i
    cdef uint64_t *slots

    if node == NULL or kp_atomic_fetch_add(&node.refcnt, -1) != 1:
        return

    slots = slots_of(node)
    data = kp_popcount32(node.datamap)
    children = kp_popcount32(node.nodemap)
    for i in range(data):
        term_decref(slots[2 * i + 1])
    for i in range(children):
        hnode_decref(<HNode *>slots[2 * data + i])
    free(node)


cdef term_t hnode_lookup(HNode *node, uint64_t key) noexcept nogil:
    cdef int shift = 0
    cdef uint32_t bit
    cdef int index
    cdef uint64_t *slots

    while node != NULL:
        bit = bit_of(key, shift)
        if node.datamap & bit:
            index = 2 * kp_popcount32(node.datamap & (bit - 1))
            slots = slots_of(node)
            if slots[index] == key:
                return slots[index + 1]
            return 0
        if node.nodemap & bit:
            node = child_at(node, kp_popcount32(node.nodemap & (bit - 1)))
            shift += BITS
            continue
        return 0
    return 0


cdef term_t hnode_resolve(void *env, uint64_t key) noexcept nogil:
    return hnode_lookup(<HNode *>env, key)


cdef HNode *hnode_pair(uint64_t key1, term_t value1, uint64_t key2,
                       term_t value2, int shift) noexcept nogil:
    # A node holding two keys that agree on every bit below `shift`;
    # takes a new reference to each value.
    cdef uint32_t bit1 = bit_of(key1, shift)
    cdef uint32_t bit2 = bit_of(key2, shift)
    cdef HNode *node
    cdef HNode *child
    cdef uint64_t *slots

    if bit1 == bit2:
        child = hnode_pair(key1, value1, key2, value2, shift + BITS)
        if child == NULL:
            return NULL
        node = hnode_alloc(0, bit1)
        if node == NULL:
            hnode_decref(child)
            return NULL
        slots_of(node)[0] = <uint64_t>child
        return node

    node = hnode_alloc(bit1 | bit2, 0)
    if node == NULL:
        return NULL
    slots = slots_of(node)
    if bit1 > bit2:
        key1, value1, key2, value2 = key2, value2, key1, value1
    slots[0] = key1
    slots[1] = term_incref(value1)
    slots[2] = key2
    slots[3] = term_incref(value2)
    return node


cdef void share_slots(HNode *node) noexcept nogil:
    # Take a reference to every term and child of a freshly copied node.
    cdef uint64_t *slots = slots_of(node)
    cdef int data = kp_popcount32(node.datamap)
    cdef int children = kp_popcount32(node.nodemap)
    cdef int i

    for i in range(data):
        term_incref(slots[2 * i + 1])
    for i in range(children):
        hnode_incref(<HNode *>slots[2 * data + i])


cdef HNode *insert_at(HNode *node, uint64_t key, term_t value,
                      int shift) noexcept nogil:
    cdef uint32_t bit = bit_of(key, shift)
    cdef uint64_t *old = slots_of(node)
    cdef int data = kp_popcount32(node.datamap)
    cdef int children = kp_popcount32(node.nodemap)
    cdef int index
    cdef int position
    cdef int i
    cdef HNode *result
    cdef HNode *child
    cdef uint64_t *new

    if node.datamap & bit:
        index = kp_popcount32(node.datamap & (bit - 1))
        if old[2 * index] == key:
            # Rebind: the same shape with one term replaced.
            result = hnode_alloc(node.datamap, node.nodemap)
            if result == NULL:
                return NULL
            new = slots_of(result)
            for i in range(2 * data + children):
                new[i] = old[i]
            new[2 * index + 1] = value
            share_slots(result)
            return result

        # Two keys in one slot: they move down into a new child.
        child = hnode_pair(old[2 * index], old[2 * index + 1], key, value,
                           shift + BITS)
        if child == NULL:
            return NULL
        result = hnode_alloc(node.datamap ^ bit, node.nodemap | bit)
        if result == NULL:
            hnode_decref(child)
            return NULL
        new = slots_of(result)
        for i in range(2 * index):
            new[i] = old[i]
        for i in range(2 * index + 2, 2 * data):
            new[i - 2] = old[i]
        position = kp_popcount32(node.nodemap & (bit - 1))
        for i in range(position):
            new[2 * data - 2 + i] = old[2 * data + i]
        for i in range(position, children):
            new[2 * data - 1 + i] = old[2 * data + i]
        new[2 * data - 2 + position] = 0
        share_slots(result)
        new[2 * data - 2 + position] = <uint64_t>child
        return result

    if node.nodemap & bit:
        position = kp_popcount32(node.nodemap & (bit - 1))
        child = insert_at(<HNode *>old[2 * data + position], key, value,
                          shift + BITS)
        if child == NULL:
            return NULL
        result = hnode_alloc(node.datamap, node.nodemap)
        if result == NULL:
            hnode_decref(child)
            return NULL
        new = slots_of(result)
        for i in range(2 * data + children):
            new[i] = old[i]
        new[2 * data + position] = 0
        share_slots(result)
        new[2 * data + position] = <uint64_t>child
        return result

    # A free slot: the key goes in inline.
    index = kp_popcount32(node.datamap & (bit - 1))
    result = hnode_alloc(node.datamap | bit, node.nodemap)
    if result == NULL:
        return NULL
    new = slots_of(result)
    for i in range(2 * index):
        new[i] = old[i]
    new[2 * index] = key
    new[2 * index + 1] = value
    for i in range(2 * index, 2 * data + children):
        new[i + 2] = old[i]
    share_slots(result)
    return result


cdef HNode *hnode_insert(HNode *root, uint64_t key,
                         term_t value) noexcept nogil:
    cdef HNode *node

    if root != NULL:
        return insert_at(root, key, value, 0)

    node = hnode_alloc(bit_of(key, 0), 0)
    if node == NULL:
        return NULL
    slots_of(node)[0] = key
    slots_of(node)[1] = term_incref(value)
    return node


cdef HNode *own_at(HNode *node, uint64_t key, term_t value,
                   int shift) noexcept nogil:
    # Insert into a node that only the caller references, reusing it;
    # consumes the caller's reference and returns the node that replaces
    # it (the same one, or a moved or copied one), or NULL when memory
    # runs out.  Below a shared node the path is copied as usual.
    cdef uint32_t bit = bit_of(key, shift)
    cdef int data = kp_popcount32(node.datamap)
    cdef int children = kp_popcount32(node.nodemap)
    cdef uint64_t *slots = slots_of(node)
    cdef HNode *child
    cdef HNode *grown
    cdef int index
    cdef int position
    cdef int i

    if kp_atomic_load(&node.refcnt) != 1:
        grown = insert_at(node, key, value, shift)
        hnode_decref(node)
        return grown

    if node.datamap & bit:
        index = kp_popcount32(node.datamap & (bit - 1))
        if slots[2 * index] == key:
            term_decref(slots[2 * index + 1])
            slots[2 * index + 1] = term_incref(value)
            return node
        # Two keys in one slot move down into a new child; the node loses
        # an inline pair and gains a child pointer, one word less.
        child = hnode_pair(slots[2 * index], slots[2 * index + 1], key,
                           value, shift + BITS)
        if child == NULL:
            hnode_decref(node)
            return NULL
        term_decref(slots[2 * index + 1])
        position = kp_popcount32(node.nodemap & (bit - 1))
        for i in range(2 * index, 2 * data - 2):
            slots[i] = slots[i + 2]
        # Every move is to the left, so go left to right.
        for i in range(position):
            slots[2 * data - 2 + i] = slots[2 * data + i]
        for i in range(position, children):
            slots[2 * data - 1 + i] = slots[2 * data + i]
        slots[2 * data - 2 + position] = <uint64_t>child
        node.datamap ^= bit
        node.nodemap |= bit
        return node

    if node.nodemap & bit:
        position = kp_popcount32(node.nodemap & (bit - 1))
        child = own_at(<HNode *>slots[2 * data + position], key, value,
                       shift + BITS)
        if child == NULL:
            slots[2 * data + position] = 0
            hnode_decref(node)
            return NULL
        slots[2 * data + position] = <uint64_t>child
        return node

    # A free slot: two more words, so the node may move.
    grown = <HNode *>realloc(
        node, sizeof(HNode) + (2 * data + 2 + children) * sizeof(uint64_t)
    )
    if grown == NULL:
        hnode_decref(node)
        return NULL
    slots = slots_of(grown)
    index = kp_popcount32(grown.datamap & (bit - 1))
    for i in range(2 * data + children - 1, 2 * index - 1, -1):
        slots[i + 2] = slots[i]
    slots[2 * index] = key
    slots[2 * index + 1] = term_incref(value)
    grown.datamap |= bit
    return grown


cdef HNode *hnode_insert_owned(HNode *root, uint64_t key,
                               term_t value) noexcept nogil:
    if root == NULL:
        return hnode_insert(NULL, key, value)
    return own_at(root, key, value, 0)


cdef list trie_items(HNode *root):
    # Every (id, term) pair of the trie, in trie order.
    cdef list result = []
    cdef list pending = []
    cdef HNode *node
    cdef uint64_t *slots
    cdef int data
    cdef int children
    cdef int i

    if root != NULL:
        pending.append(<size_t>root)
    while pending:
        node = <HNode *><size_t>pending.pop()
        slots = slots_of(node)
        data = kp_popcount32(node.datamap)
        children = kp_popcount32(node.nodemap)
        for i in range(data):
            result.append((slots[2 * i], slots[2 * i + 1]))
        for i in range(children):
            pending.append(<size_t>slots[2 * data + i])
    return result


cdef class Substitution:
    """An immutable mapping from logic variables to the terms bound to them.

    ``unify`` returns one, or ``None`` when unification fails.  A
    substitution is always true in a boolean context, even when empty,
    because an empty substitution is a success, not a failure.

    >>> from kando_parallel import unify, var
    >>> x = var("x")
    >>> s = unify(x, 1)
    >>> s[x], len(s), bool(unify(2, 2)), unify(1, 2) is None
    (1, 1, True, True)
    """

    def __cinit__(self):
        self.root = NULL
        self.may_cycle = False
        self.size = -1

    def __init__(self, bindings=None):
        cdef HNode *root = NULL
        cdef HNode *grown
        cdef term_t term

        if self.root != NULL or self.size >= 0:
            raise TypeError("a Substitution is immutable")
        if bindings is None:
            self.size = 0
            return
        if isinstance(bindings, Substitution):
            self.root = hnode_incref((<Substitution>bindings).root)
            self.may_cycle = (<Substitution>bindings).may_cycle
            return

        pairs = bindings.items() if isinstance(bindings, Mapping) else bindings
        links = {}
        try:
            for key, value in pairs:
                if not isinstance(key, Var):
                    raise TypeError(
                        "a substitution maps logic variables to terms; "
                        f"got a key of type {type(key).__name__}"
                    )
                if isinstance(value, Var):
                    links[(<Var>key).id] = (key, (<Var>value).id)
                term = to_term(value)
                grown = hnode_insert(root, <uint64_t>(<Var>key).id, term)
                term_decref(term)
                if grown == NULL:
                    raise MemoryError()
                hnode_decref(root)
                root = grown
            refuse_variable_cycle(links)
        except BaseException:
            hnode_decref(root)
            raise
        self.root = root
        # A user's bindings may be cyclic; reify checks before it walks.
        self.may_cycle = True

    def __dealloc__(self):
        hnode_decref(self.root)

    def __getitem__(self, key):
        cdef term_t term

        if isinstance(key, Var):
            term = hnode_lookup(self.root, <uint64_t>(<Var>key).id)
            if term != 0:
                return to_python(term, NULL, NULL, False, None)
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key):
        return isinstance(key, Var) and hnode_lookup(
            self.root, <uint64_t>(<Var>key).id
        ) != 0

    def __iter__(self):
        for var_id, _ in trie_items(self.root):
            yield var_from_id(<int64_t>var_id)

    # The views of a Mapping, as the pure twin inherits them.
    def keys(self):
        return KeysView(self)

    def values(self):
        return ValuesView(self)

    def items(self):
        return ItemsView(self)

    def __len__(self):
        if self.size < 0:
            self.size = len(trie_items(self.root))
        return self.size

    def __bool__(self):
        return True

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __ne__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) != dict(other.items())

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"Substitution({{{inner}}})"

    def __reduce__(self):
        raise TypeError("substitutions hold process-local variable ids")


Mapping.register(Substitution)


cdef Substitution substitution_from_root(HNode *root, bint may_cycle):
    cdef Substitution result = Substitution.__new__(Substitution)

    result.root = root
    result.may_cycle = may_cycle
    return result


def refuse_variable_cycle(links):
    """Raise ValueError if variable-to-variable bindings go round a circle.

    ``links`` maps a variable's id to ``(variable, id of the variable it
    is bound to)``.  A walk along such a circle would never end.
    """
    finished = set()
    for start in links:
        path = []
        on_path = set()
        node = start
        while node in links and node not in finished:
            if node in on_path:
                circle = path[path.index(node):] + [node]
                shown = " -> ".join(repr(links[n][0]) for n in circle)
                raise ValueError(
                    "the substitution binds a variable to itself: " + shown
                )
            on_path.add(node)
            path.append(node)
            node = links[node][1]
        finished.update(path)


cdef Substitution as_substitution(object value):
    if value is None:
        return Substitution()
    if isinstance(value, Substitution):
        return value
    if isinstance(value, Mapping):
        return Substitution(value)
    raise TypeError(
        "expected a Substitution or a dict of variables to terms, not "
        f"{type(value).__name__}"
    )


__all__ = ["Substitution"]
