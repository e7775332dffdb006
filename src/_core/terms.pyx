# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, freethreading_compatible=True
"""Terms: logic variables, atoms, pairs and compound terms, in C.

Every term is one 64-bit word (see terms.pxd for the tags).  Variables,
small integers and atoms are immediate; a compound term is a Node holding
its functor and arguments inline, with an atomic reference count and a
flag saying whether a variable occurs in it.  A pair is a node of functor
CONS; a Python list is a chain of pairs ending in the empty list; a tuple
or namedtuple is a node whose functor is the atom of its type; a dict is a
node of functor DICT holding its keys and values, key by key, in the
dict's order (unification matches keys by equality, not position).

Atoms are interned in an append-only table: by type and value for
hashable objects, by identity for the rest, so ``1``, ``1.0`` and ``True``
are three atoms.  An atom word names a slot holding one object; equal
values of one type share a class (the slot of the first of them), and
two atoms are equal when their classes are.  Values that are equal but
look different (``0.0`` and ``-0.0``) get a slot each, so that an answer
gives back what went in.  The table keeps a strong reference to each
object for the life of the process; its slots sit in fixed chunks that
never move, so reading an atom needs no lock.

Variable ids come from one atomic counter, so they are never reused and a
block of consecutive ids can be reserved in one step (templates use that).

Converting Python values to terms and back is iterative, so the depth of
a term is limited by memory, not by the C stack or the recursion limit.
Cost: one allocation per compound node; one dict lookup per atom.
"""

import threading
import weakref
from decimal import Decimal

cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memset

from kando_parallel._core.atomics cimport (
    kp_atomic_fetch_add,
    kp_atomic_load,
    kp_atomic_store,
)


# ------------------------------------------------------------------ nodes

cdef Node *node_new(term_t functor, uint32_t arity) noexcept nogil:
    cdef Node *node = <Node *>malloc(
        sizeof(Node) + arity * sizeof(term_t)
    )

    if node == NULL:
        return NULL
    node.refcnt = 1
    node.arity = arity
    node.flags = 0
    node.functor = functor
    return node


cdef term_t node_seal(Node *node) noexcept nogil:
    cdef term_t *args = node_args(node)
    cdef uint32_t i

    for i in range(node.arity):
        if has_vars(args[i]):
            node.flags |= NODE_HAS_VARS
            break
    return <term_t>node


cdef void node_free(Node *node) noexcept nogil:
    # The nodes waiting to be freed form a list threaded through their
    # count fields, which nobody reads once the count has reached zero.
    cdef Node *pending = node
    cdef Node *child
    cdef term_t *args
    cdef uint32_t i

    node.refcnt = 0
    while pending != NULL:
        node = pending
        pending = <Node *><size_t>node.refcnt
        args = node_args(node)
        for i in range(node.arity):
            if is_node(args[i]):
                child = as_node(args[i])
                if kp_atomic_fetch_add(&child.refcnt, -1) == 1:
                    child.refcnt = <int64_t><size_t>pending
                    pending = child
        free(node)


# ------------------------------------------------------------------ ids

cdef kp_atomic_i64 _next_var_id = 1


cdef uint64_t new_var_id() noexcept nogil:
    return <uint64_t>kp_atomic_fetch_add(&_next_var_id, 1)


cdef uint64_t reserve_var_ids(uint64_t count) noexcept nogil:
    return <uint64_t>kp_atomic_fetch_add(&_next_var_id, <int64_t>count)


# ------------------------------------------------------------------ atoms

cdef enum:
    CHUNK_BITS = 12
    CHUNK_SIZE = 4096
    MAX_CHUNKS = 65536

cdef PyObject **_chunks[MAX_CHUNKS]
cdef int64_t *_class_chunks[MAX_CHUNKS]
cdef kp_atomic_i64 _atom_count = 0

_atom_lock = threading.Lock()
_by_str = {}
_by_slot = {}
_by_class = {}
_by_identity = {}


cdef int _append_atom(object obj, int64_t klass) except -1:
    # Called with _atom_lock held.  Fills the slot before publishing the
    # count, so a reader never sees a slot that is not there yet.
    cdef int64_t index = kp_atomic_load(&_atom_count)
    cdef size_t chunk = <size_t>(index >> CHUNK_BITS)
    cdef PyObject **slots
    cdef int64_t *classes

    if chunk >= MAX_CHUNKS:
        raise MemoryError("the atom table is full (268 million atoms)")
    if _chunks[chunk] == NULL:
        slots = <PyObject **>malloc(CHUNK_SIZE * sizeof(PyObject *))
        classes = <int64_t *>malloc(CHUNK_SIZE * sizeof(int64_t))
        if slots == NULL or classes == NULL:
            free(slots)
            free(classes)
            raise MemoryError()
        memset(slots, 0, CHUNK_SIZE * sizeof(PyObject *))
        memset(classes, 0, CHUNK_SIZE * sizeof(int64_t))
        _class_chunks[chunk] = classes
        _chunks[chunk] = slots

    Py_INCREF(obj)
    _chunks[chunk][index & (CHUNK_SIZE - 1)] = <PyObject *>obj
    _class_chunks[chunk][index & (CHUNK_SIZE - 1)] = (
        index if klass < 0 else klass
    )
    kp_atomic_store(&_atom_count, index + 1)
    return 0


def atom_keys(obj):
    """The interning keys of ``obj``: ``(slot_key, class_key)``.

    Equal values of one type are one *class* and unify; a *slot* keeps
    each representation apart, so that an answer gives back ``-0.0`` for
    ``-0.0`` and ``Decimal("1.00")`` for ``Decimal("1.00")`` although they
    unify with ``0.0`` and ``Decimal("1.0")``.  A NaN is its own class, as
    in Prolog: it unifies with a NaN of the same bits.  Raises TypeError
    for an unhashable object (interned by identity).
    """
    kind = type(obj)
    if kind is float:
        slot = (float, obj.hex())
        return slot, (slot if obj != obj else (float, obj))
    if kind is complex:
        slot = (complex, obj.real.hex(), obj.imag.hex())
        return slot, (slot if obj != obj else (complex, obj))
    if kind is Decimal:
        slot = (Decimal, obj.as_tuple())
        return slot, (slot if obj.is_nan() else (Decimal, obj))
    key = (kind, obj)
    hash(key)
    return key, key


cdef int64_t _add_atom(object obj, object slot_key,
                       object class_key, dict table) except -1:
    # Called with _atom_lock held; the slot of obj.
    cdef int64_t index
    cdef int64_t klass = -1

    found = table.get(slot_key)
    if found is not None:
        return found
    index = kp_atomic_load(&_atom_count)
    if table is _by_slot and class_key is not slot_key:
        klass = _by_class.setdefault(class_key, index)
    _append_atom(obj, klass)
    table[slot_key] = index
    return index


cdef term_t intern_atom(object obj) except 0:
    cdef object slot_key
    cdef object class_key
    cdef dict table
    cdef object index

    if type(obj) is str:
        table = _by_str
        slot_key = class_key = obj
    else:
        table = _by_slot
        try:
            slot_key, class_key = atom_keys(obj)
        except TypeError:
            table = _by_identity
            slot_key = class_key = id(obj)
    index = table.get(slot_key)
    if index is not None:
        return atom_term(<uint64_t>index)

    with _atom_lock:
        index = _add_atom(obj, slot_key, class_key, table)
    return atom_term(<uint64_t>index)


cdef PyObject *atom_object(term_t atom) noexcept nogil:
    cdef uint64_t index = atom >> 2

    return _chunks[index >> CHUNK_BITS][index & (CHUNK_SIZE - 1)]


cdef term_t canonical(term_t word) noexcept nogil:
    cdef uint64_t index

    if (word & TAG_MASK) != TAG_ATOM:
        return word
    index = word >> 2
    return atom_term(<uint64_t>_class_chunks[index >> CHUNK_BITS][
        index & (CHUNK_SIZE - 1)
    ])


cdef bint atoms_equal(term_t a, term_t b) noexcept nogil:
    if a == b:
        return True
    if (a & TAG_MASK) != TAG_ATOM or (b & TAG_MASK) != TAG_ATOM:
        return False
    return canonical(a) == canonical(b)


def _init_atoms():
    # Slot 0 is the empty list and slot 1 the pair functor; neither
    # object is ever handed out, the words are recognised first.  Slot 2
    # is dict, the functor of dict terms (DICT in terms.pxd).
    if kp_atomic_load(&_atom_count) == 0:
        with _atom_lock:
            _append_atom(None, -1)
            _append_atom(None, -1)
            _add_atom(dict, (type, dict), (type, dict), _by_slot)


_init_atoms()


# ------------------------------------------------------------------ Python


_named_vars = weakref.WeakValueDictionary()


cdef class Var:
    """A logic variable.

    A name is only a label for printing: every call of :func:`var` makes a
    new variable, and two variables are the same exactly when they are the
    same variable, whatever their names.

    >>> x, y = var("x"), var("x")
    >>> x == y, x == x
    (False, True)
    """

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"a variable's name must be a str, not {type(name).__name__}"
            )
        self.id = <int64_t>new_var_id()
        self.name = name
        if name is not None:
            _named_vars[self.id] = self

    def __eq__(self, other):
        if isinstance(other, Var):
            return self.id == (<Var>other).id
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Var):
            return self.id != (<Var>other).id
        return NotImplemented

    def __hash__(self):
        return hash((Var, self.id))

    def __repr__(self):
        if self.name is not None:
            return f"~{self.name}"
        return f"~_{self.id}"

    def __reduce__(self):
        raise TypeError(
            "logic variables cannot be pickled: a variable's identity is "
            "its id in this process"
        )


cdef Var var_from_id(int64_t var_id):
    cdef Var known = _named_vars.get(var_id)
    cdef Var fresh_var

    if known is not None:
        return known
    fresh_var = Var.__new__(Var)
    fresh_var.id = var_id
    fresh_var.name = None
    return fresh_var


cdef void set_var_id(Var var, int64_t var_id) noexcept:
    var.id = var_id


def var(name=None):
    """Make a new logic variable, optionally named for display."""
    return Var(name)


def vars(count):
    """Make ``count`` new logic variables, as a list."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(
            f"vars() takes an int count, not {type(count).__name__}"
        )
    if count < 0:
        raise ValueError(f"vars() count must be >= 0, not {count}")
    return [Var() for _ in range(count)]


def is_var(obj):
    """Return whether ``obj`` is a logic variable."""
    # Asking the class lets a relation's traced placeholder notice the
    # question (see ``relation``); isinstance alone would not ask it.
    return isinstance(obj, Var) and issubclass(obj.__class__, Var)


cdef class Unbound:
    """A variable left unbound in a reified answer, printed ``_0``, ``_1``.

    Answers number their unbound variables from 0 in the order they first
    appear; two ``Unbound`` are equal when their numbers are.
    """

    def __init__(self, Py_ssize_t index):
        self.index = index

    def __eq__(self, other):
        if isinstance(other, Unbound):
            return self.index == (<Unbound>other).index
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Unbound):
            return self.index != (<Unbound>other).index
        return NotImplemented

    def __hash__(self):
        return hash((Unbound, self.index))

    def __repr__(self):
        return f"_{self.index}"

    def __reduce__(self):
        return (Unbound, (self.index,))


# Freeing a long chain of pairs frees each tail from its head's
# deallocator; the trashcan turns that recursion into a loop.
@cython.trashcan(True)
cdef class Cons:
    """A pair: the head of a list and its tail.

    Use :func:`cons` to build one: it gives a Python list when the tail is a
    list.  A ``Cons`` is what an answer holds for a partial list, one whose
    tail is unbound or not a list, and it prints like a Lisp pair.

    >>> cons(3, cons(4, Unbound(0)))
    (3 4 . _0)
    >>> cons(1, [2, 3])
    [1, 2, 3]
    """

    def __init__(self, head, tail):
        if self.ready:
            raise TypeError("a Cons is immutable")
        self.head = head
        self.tail = tail
        self.ready = True

    def _spine(self):
        cdef list items = []
        cdef object node = self

        while isinstance(node, Cons):
            items.append((<Cons>node).head)
            node = (<Cons>node).tail
        return items, node

    def __eq__(self, other):
        if not isinstance(other, (Cons, list)):
            return NotImplemented

        mine, my_end = self._spine()
        if isinstance(other, Cons):
            theirs, their_end = other._spine()
        else:
            theirs, their_end = list(other), []
        if isinstance(my_end, list):
            mine, my_end = mine + my_end, []
        if isinstance(their_end, list):
            theirs, their_end = theirs + their_end, []

        return mine == theirs and my_end == their_end

    def __ne__(self, other):
        equal = self.__eq__(other)
        if equal is NotImplemented:
            return equal
        return not equal

    def __hash__(self):
        items, end = self._spine()
        if isinstance(end, list):
            raise TypeError("unhashable: a Cons that ends in a list")
        return hash((Cons, tuple(items), end))

    def __repr__(self):
        items, end = self._spine()
        inner = " ".join(repr(item) for item in items)
        if isinstance(end, list):
            return "(" + " ".join([inner] + [repr(i) for i in end]) + ")"
        return f"({inner} . {end!r})"

    def __reduce__(self):
        return (Cons, (self.head, self.tail))


def cons(head, tail):
    """Make the pair of ``head`` and ``tail``; a list when tail is a list."""
    if type(tail) is list:
        return [head, *tail]
    return Cons(head, tail)


# ------------------------------------------------------------ to terms

_namedtuple_types = {}


cdef bint _is_namedtuple_type(type kind):
    cached = _namedtuple_types.get(kind)
    if cached is None:
        cached = (
            issubclass(kind, tuple)
            and hasattr(kind, "_make")
            and hasattr(kind, "_fields")
        )
        _namedtuple_types[kind] = cached
    return cached


def key_holds_variable(key):
    """Whether a dict key is or holds (in tuples or frozensets) a variable."""
    pending = [key]
    while pending:
        item = pending.pop()
        if isinstance(item, Var):
            return True
        if isinstance(item, (tuple, frozenset)):
            pending.extend(item)
    return False


cdef term_t _dict_key_term(object key) except 0:
    if isinstance(key, Var) or (
        isinstance(key, (tuple, frozenset)) and key_holds_variable(key)
    ):
        raise TypeError(
            "a logic variable cannot be a dict key or part of one: dicts "
            "unify key by key, and keys are matched by equality"
        )
    if type(key) is int and KP_INT_MIN <= key <= KP_INT_MAX:
        return int_term(key)
    return intern_atom(key)


# Frames of the conversion, two words each on one stack: a value frame is
# (object pointer, FRAME_VALUE); a word frame is (word, FRAME_WORD); a
# build frame is (functor, FRAME_BUILD + arity).
cdef enum:
    FRAME_VALUE = 0
    FRAME_WORD = 1
    FRAME_BUILD = 2


cdef int _push_frame(WordStack *frames, uint64_t first,
                     uint64_t second) except -1:
    if stack_push(frames, first) < 0 or stack_push(frames, second) < 0:
        raise MemoryError()
    return 0


cdef int _push_items(WordStack *frames, object items) except -1:
    cdef Py_ssize_t i

    for i in range(len(items) - 1, -1, -1):
        _push_frame(frames, <uint64_t><PyObject *>items[i], FRAME_VALUE)
    return 0


cdef int _push_list(WordStack *frames, tuple items, bint has_end,
                    object end, list keep) except -1:
    # Items first to last, then the end (the empty list unless has_end),
    # then one CONS build per item, which folds the chain from its end.
    cdef Py_ssize_t i

    for i in range(len(items)):
        _push_frame(frames, CONS, FRAME_BUILD + 2)
    if not has_end:
        _push_frame(frames, NIL, FRAME_WORD)
    else:
        keep.append(end)
        _push_frame(frames, <uint64_t><PyObject *>end, FRAME_VALUE)
    _push_items(frames, items)
    return 0


cdef term_t _immediate(object value) except? 0:
    # The word of a value that needs no frames, or 0 if it needs some.
    cdef type kind = type(value)

    if kind is Var:
        return var_term(<uint64_t>(<Var>value).id)
    if kind is int:
        if KP_INT_MIN <= value <= KP_INT_MAX:
            return int_term(value)
        return intern_atom(value)
    if kind is str:
        return intern_atom(value)
    if kind is list or kind is tuple or kind is dict or kind is Cons:
        return 0
    if isinstance(value, Var):
        return var_term(<uint64_t>(<Var>value).id)
    if issubclass(kind, tuple) and _is_namedtuple_type(kind):
        return 0
    return intern_atom(value)


cdef int _convert_value(object value, WordStack *frames,
                        WordStack *out, list keep) except -1:
    cdef type kind
    cdef term_t word = _immediate(value)
    cdef list pairs

    if word != 0:
        if stack_push(out, word) < 0:
            raise MemoryError()
        return 0

    kind = type(value)
    if kind is list:
        items = tuple(value)
        keep.append(items)
        _push_list(frames, items, False, None, keep)
    elif kind is Cons:
        spine, end = value._spine()
        if isinstance(end, list):
            items = tuple(spine + end)
            keep.append(items)
            _push_list(frames, items, False, None, keep)
        else:
            items = tuple(spine)
            keep.append(items)
            _push_list(frames, items, True, end, keep)
    elif kind is dict:
        # Insertion order is kept; unification matches keys by equality.
        pairs = [(_dict_key_term(k), v) for k, v in value.items()]
        keep.append(pairs)
        _push_frame(frames, DICT, FRAME_BUILD + 2 * len(pairs))
        for key_word, item in reversed(pairs):
            _push_frame(frames, <uint64_t><PyObject *>item, FRAME_VALUE)
            _push_frame(frames, <uint64_t>key_word, FRAME_WORD)
    else:
        _push_frame(frames, intern_atom(kind), FRAME_BUILD + len(value))
        _push_items(frames, value)
    return 0


cdef int _build(WordStack *out, term_t functor, uint32_t arity) except -1:
    cdef Node *node = node_new(functor, arity)
    cdef term_t *args
    cdef uint32_t i

    if node == NULL:
        raise MemoryError()
    args = node_args(node)
    out.size -= arity
    for i in range(arity):
        args[i] = out.items[out.size + i]
    out.items[out.size] = node_seal(node)
    out.size += 1
    return 0


cdef term_t to_term(object obj) except 0:
    cdef WordStack frames
    cdef WordStack out
    cdef list keep = [obj]
    cdef uint64_t first
    cdef uint64_t second
    cdef term_t result = _immediate(obj)

    if result != 0:
        return result

    stack_init(&frames)
    stack_init(&out)
    try:
        _convert_value(obj, &frames, &out, keep)
        while frames.size:
            second = stack_pop(&frames)
            first = stack_pop(&frames)
            if second == FRAME_VALUE:
                _convert_value(<object><PyObject *>first, &frames, &out,
                               keep)
            elif second == FRAME_WORD:
                if stack_push(&out, first) < 0:
                    raise MemoryError()
            else:
                _build(&out, first, <uint32_t>(second - FRAME_BUILD))
        result = out.items[0]
        out.size = 0
        return result
    finally:
        while out.size:
            term_decref(stack_pop(&out))
        stack_free(&frames)
        stack_free(&out)


# ------------------------------------------------------------ to Python

# Frames of to_python, two words each: (term, OUT_TERM),
# (functor, OUT_BUILD + arity), (count, OUT_LIST or OUT_LIST_END),
# (var id, OUT_MEMO).
cdef enum:
    OUT_TERM = 0
    OUT_MEMO = 1
    OUT_LIST = 2
    OUT_LIST_END = 3
    OUT_BUILD = 4


cdef inline term_t _walk(term_t term, resolve_fn resolve,
                         void *env) noexcept nogil:
    cdef term_t bound

    if resolve == NULL:
        return term
    while term_is_var(term):
        bound = resolve(env, var_id(term))
        if bound == 0:
            return term
        term = bound
    return term


cdef object _immediate_value(term_t word):
    cdef uint64_t tag = word & TAG_MASK

    if tag == TAG_INT:
        return int_value(word)
    if word == NIL:
        return []
    return <object>atom_object(word)


cdef object _unbound_value(int64_t var_id, bint name_unbound, dict names):
    if not name_unbound:
        return var_from_id(var_id)
    name = names.get(var_id)
    if name is None:
        name = Unbound(len(names))
        names[var_id] = name
    return name


cdef int _push_list_out(WordStack *frames, term_t term,
                        resolve_fn resolve, void *env) except -1:
    # Push the frames that rebuild the list starting at `term`, following
    # bound tails: from the bottom, the list build, the end (unless it is
    # the empty list), then the heads with the first one on top.
    cdef uint64_t count = 0
    cdef uint64_t k
    cdef size_t base
    cdef term_t cell = term
    cdef term_t tail

    while True:
        count += 1
        tail = _walk(node_args(as_node(cell))[1], resolve, env)
        if is_node(tail) and as_node(tail).functor == CONS:
            cell = tail
            continue
        break

    if tail == NIL:
        _push_frame(frames, count, OUT_LIST)
    else:
        _push_frame(frames, count, OUT_LIST_END)
        _push_frame(frames, tail, OUT_TERM)

    base = frames.size
    for k in range(count):
        _push_frame(frames, 0, OUT_TERM)
    cell = term
    for k in range(count):
        frames.items[base + 2 * (count - 1 - k)] = node_args(
            as_node(cell)
        )[0]
        if k + 1 < count:
            cell = _walk(node_args(as_node(cell))[1], resolve, env)
    return 0


cdef object _build_compound(list out, term_t functor, Py_ssize_t count):
    cdef Py_ssize_t start = len(out) - count
    cdef list args = out[start:]
    cdef object kind = <object>atom_object(functor)

    del out[start:]
    if kind is tuple:
        return tuple(args)
    if kind is dict:
        return dict(zip(args[0::2], args[1::2]))
    return kind._make(args)


cdef object _build_list(list out, Py_ssize_t count, bint has_end):
    cdef object end = out.pop() if has_end else None
    cdef Py_ssize_t start = len(out) - count
    cdef list items = out[start:]
    cdef object value

    del out[start:]
    if not has_end:
        return items
    value = end
    for item in reversed(items):
        value = Cons(item, value)
    return value


cdef object to_python(term_t term, resolve_fn resolve, void *env,
                      bint name_unbound, dict names):
    cdef WordStack frames
    cdef list out = []
    cdef dict memo = {}
    cdef uint64_t first
    cdef uint64_t second
    cdef term_t bound
    cdef int64_t id_

    if names is None:
        names = {}
    stack_init(&frames)
    try:
        _push_frame(&frames, term, OUT_TERM)
        while frames.size:
            second = stack_pop(&frames)
            first = stack_pop(&frames)
            if second >= OUT_BUILD:
                out.append(
                    _build_compound(out, first,
                                    <Py_ssize_t>(second - OUT_BUILD))
                )
                continue
            if second == OUT_LIST or second == OUT_LIST_END:
                out.append(_build_list(out, <Py_ssize_t>first,
                                       second == OUT_LIST_END))
                continue
            if second == OUT_MEMO:
                memo[<int64_t>first] = out[len(out) - 1]
                continue

            term = first
            if term_is_var(term):
                id_ = <int64_t>var_id(term)
                if id_ in memo:
                    out.append(memo[id_])
                    continue
                bound = 0
                if resolve != NULL:
                    bound = resolve(env, <uint64_t>id_)
                if bound == 0:
                    out.append(_unbound_value(id_, name_unbound, names))
                    continue
                _push_frame(&frames, <uint64_t>id_, OUT_MEMO)
                _push_frame(&frames, bound, OUT_TERM)
                continue
            if not is_node(term):
                out.append(_immediate_value(term))
                continue
            if as_node(term).functor == CONS:
                _push_list_out(&frames, term, resolve, env)
                continue
            _push_frame(&frames, as_node(term).functor,
                        OUT_BUILD + as_node(term).arity)
            for i in range(<Py_ssize_t>as_node(term).arity - 1, -1, -1):
                _push_frame(&frames, node_args(as_node(term))[i], OUT_TERM)
    finally:
        stack_free(&frames)
    return out[0]


INT_MIN = KP_INT_MIN
INT_MAX = KP_INT_MAX

__all__ = ["Cons", "Unbound", "Var", "cons", "is_var", "var", "vars"]
