# Terms in C: the representation every other core module works on.
#
# A term is a 64-bit word, term_t.  Its low two bits are a tag:
#   TAG_NODE  the word is a pointer to a Node (a compound term);
#   TAG_VAR   the rest is a variable id;
#   TAG_INT   the rest is a 62-bit signed integer;
#   TAG_ATOM  the rest is a slot of the atom table (0: the empty list);
#             two atom words are equal terms when atoms_equal() says so.
# The word 0 is never a term; functions that return a term use it for
# "none" (not found, or an error).
#
# Ownership.  Immediate words own nothing.  A node word owns one count of
# the node's reference count: a function that stores a term increfs it,
# one that drops a stored term decrefs it.  Functions named *_new return a
# new reference; every other function returns borrowed words unless its
# comment says otherwise.  A node is immutable once built, and its count
# is atomic, so nodes are shared between threads with no lock.  Freeing is
# iterative: dropping the last reference to a term a million levels deep
# does not recurse.
#
# Thread safety.  Everything declared nogil here may run on any thread at
# once.  Interning atoms and converting Python values need the GIL (or, on
# a free-threaded build, an attached thread state) and take the module's
# atom lock themselves.

from libc.stdint cimport int64_t, uint32_t, uint64_t
from cpython.object cimport PyObject


from kando_parallel._core.atomics cimport (
    kp_atomic_fetch_add,
    kp_atomic_i64,
)


ctypedef uint64_t term_t

cdef enum:
    TAG_NODE = 0
    TAG_VAR = 1
    TAG_INT = 2
    TAG_ATOM = 3
    TAG_MASK = 3
    NODE_HAS_VARS = 1

# The atoms every table starts with: the empty list, the functor of a
# pair and the functor of a dict (the atom of the type dict).  Their words
# are (index << 2) | TAG_ATOM.
cdef enum:
    NIL = 3
    CONS = 7
    DICT = 11

# The range of integers stored in the word itself; others are atoms.
cdef extern from *:
    """
    #define KP_INT_MIN (-(((int64_t)1) << 61))
    #define KP_INT_MAX ((((int64_t)1) << 61) - 1)
    """
    const int64_t KP_INT_MIN
    const int64_t KP_INT_MAX


# A compound term: functor word, arity, then the arguments, inline.
cdef struct Node:
    kp_atomic_i64 refcnt
    uint32_t arity
    uint32_t flags
    term_t functor


cdef inline term_t *node_args(Node *node) noexcept nogil:
    return <term_t *>(node + 1)


cdef inline bint is_node(term_t t) noexcept nogil:
    return (t & TAG_MASK) == TAG_NODE


cdef inline bint term_is_var(term_t t) noexcept nogil:
    return (t & TAG_MASK) == TAG_VAR


cdef inline Node *as_node(term_t t) noexcept nogil:
    return <Node *>t


cdef inline uint64_t var_id(term_t t) noexcept nogil:
    return t >> 2


cdef inline term_t var_term(uint64_t var_id) noexcept nogil:
    return (var_id << 2) | TAG_VAR


cdef inline term_t int_term(int64_t value) noexcept nogil:
    return (<uint64_t>value << 2) | TAG_INT


cdef inline int64_t int_value(term_t t) noexcept nogil:
    return (<int64_t>t) >> 2


cdef inline term_t atom_term(uint64_t index) noexcept nogil:
    return (index << 2) | TAG_ATOM


cdef inline bint has_vars(term_t t) noexcept nogil:
    if is_node(t):
        return (as_node(t).flags & NODE_HAS_VARS) != 0
    return term_is_var(t)


cdef inline term_t term_incref(term_t t) noexcept nogil:
    if is_node(t):
        kp_atomic_fetch_add(&as_node(t).refcnt, 1)
    return t


cdef void node_free(Node *node) noexcept nogil

cdef inline void term_decref(term_t t) noexcept nogil:
    if is_node(t) and t != 0:
        if kp_atomic_fetch_add(&as_node(t).refcnt, -1) == 1:
            node_free(as_node(t))


# A node with room for `arity` arguments and one reference, or NULL when
# memory runs out.  The caller stores owned words in node_args() and then
# calls node_seal(), which records whether a variable occurs in it.
cdef Node *node_new(term_t functor, uint32_t arity) noexcept nogil
cdef term_t node_seal(Node *node) noexcept nogil

# Variable ids: process-wide, never reused.  reserve_var_ids(n) hands out
# n consecutive ids and returns the first.
cdef uint64_t new_var_id() noexcept nogil
cdef uint64_t reserve_var_ids(uint64_t count) noexcept nogil

# The atom table.  atom_object() returns a borrowed reference that lives
# as long as the process.
cdef term_t intern_atom(object obj) except 0
cdef PyObject *atom_object(term_t atom) noexcept nogil

# Atoms that are equal values of one type share a class.  canonical()
# maps an atom word to its class's word (other words to themselves);
# atoms_equal() says whether two immediate words are equal terms.
cdef term_t canonical(term_t word) noexcept nogil
cdef bint atoms_equal(term_t a, term_t b) noexcept nogil

# Python values to terms (a new reference, 0 with an exception set).
cdef term_t to_term(object obj) except 0

cdef class Var:
    cdef readonly int64_t id
    cdef readonly object name
    cdef object __weakref__

cdef Var var_from_id(int64_t var_id)
cdef void set_var_id(Var var, int64_t var_id) noexcept

cdef class Unbound:
    cdef readonly Py_ssize_t index

cdef class Cons:
    cdef readonly object head
    cdef readonly object tail
    cdef bint ready

# Terms back to Python values.  `resolve` (may be NULL) gives the term a
# variable is bound to, or 0 when it is unbound; to_python follows those
# bindings.  Unbound variables become Unbound objects numbered through
# `names` (a dict of variable id to Unbound, shared by calls that number
# together) when name_unbound is true, and Var objects otherwise.
ctypedef term_t (*resolve_fn)(void *env, uint64_t var_id) noexcept nogil

cdef object to_python(term_t term, resolve_fn resolve, void *env,
                      bint name_unbound, dict names)


# A growable stack of 64-bit words (terms, ids or pointers), starting in
# an inline buffer so that shallow work never calls malloc.  Never copy
# one by value: `items` may point into the struct itself.
cdef extern from "stdlib.h" nogil:
    void *malloc(size_t size)
    void *realloc(void *ptr, size_t size)
    void free(void *ptr)

cdef extern from "string.h" nogil:
    void *memcpy(void *dest, const void *src, size_t n)

cdef enum:
    STACK_INLINE = 32

cdef struct WordStack:
    uint64_t *items
    size_t size
    size_t capacity
    uint64_t inline_items[STACK_INLINE]


cdef inline void stack_init(WordStack *stack) noexcept nogil:
    stack.items = stack.inline_items
    stack.size = 0
    stack.capacity = STACK_INLINE


cdef inline int stack_grow(WordStack *stack) noexcept nogil:
    cdef size_t capacity = stack.capacity * 2
    cdef uint64_t *items

    if stack.items == stack.inline_items:
        items = <uint64_t *>malloc(capacity * sizeof(uint64_t))
        if items != NULL:
            memcpy(items, stack.items, stack.size * sizeof(uint64_t))
    else:
        items = <uint64_t *>realloc(stack.items,
                                    capacity * sizeof(uint64_t))
    if items == NULL:
        return -1

    stack.items = items
    stack.capacity = capacity
    return 0


# 0 on success, -1 when memory runs out (the stack is unchanged).
cdef inline int stack_push(WordStack *stack, uint64_t word) noexcept nogil:
    if stack.size == stack.capacity and stack_grow(stack) < 0:
        return -1
    stack.items[stack.size] = word
    stack.size += 1
    return 0


cdef inline uint64_t stack_pop(WordStack *stack) noexcept nogil:
    stack.size -= 1
    return stack.items[stack.size]


cdef inline void stack_free(WordStack *stack) noexcept nogil:
    if stack.items != stack.inline_items:
        free(stack.items)
    stack.items = stack.inline_items
    stack.size = 0
    stack.capacity = STACK_INLINE
