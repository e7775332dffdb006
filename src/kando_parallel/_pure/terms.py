"""Terms: logic variables, atoms, pairs and compound terms.

The pure-Python twin of ``kando_parallel._core.terms``; the names and the
behaviour are the same, and so is the representation, spelled in Python:

* A term is either an *immediate* word or a compound ``Node``.  A word is
  an int whose low two bits are a tag: ``TAG_VAR`` (the rest is a variable
  id), ``TAG_INT`` (a 62-bit signed integer) or ``TAG_ATOM`` (an index into
  the atom table).  Index 0 of the atom table is the empty list.
* A ``Node`` has a functor word and a tuple of argument terms.  A pair is a
  node whose functor is ``CONS``; a Python list is a chain of pairs that
  ends in the empty list.  A tuple or namedtuple is a node whose functor is
  the atom of its type; a dict is a node whose functor is ``DICT`` (the
  atom of ``dict``) and whose arguments are its keys and values, key by
  key, in the dict's order; unification matches keys by equality.
  Every node records whether a variable occurs in it, so the occurs
  check and copying skip ground subterms.
* Atoms are interned: by type and value for hashable objects, by identity
  for the rest.  ``1``, ``1.0`` and ``True`` are three different atoms.
  Each atom word names a *slot* holding one object; equal values of one
  type share a *class*, and two atoms are equal when their classes are.
  Values that are equal but look different (``0.0`` and ``-0.0``,
  ``Decimal("1.0")`` and ``Decimal("1.00")``) get a slot each, so an
  answer gives back what went in.  The table only grows: an atom lives as
  long as the process.
* Variable ids come from one process-wide counter and are never reused, so
  two variables are the same variable exactly when their ids are equal.

Conversion in both directions is iterative: no recursion limit applies to
the depth of a term.
"""

from __future__ import annotations

import decimal
import itertools
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from typing_extensions import TypeAlias, TypeIs

    # A term: an immediate word (an int) or a compound Node.  The code
    # tells them apart with ``type(term) is int`` (and flags computed from
    # it), which mypy cannot use to narrow the other case to Node, so a
    # term is Any to the type checker; the name says what it holds.
    Term: TypeAlias = Any

    # A frame of to_term's stack: see the comment there.
    _Frame: TypeAlias = tuple[Any, ...]

TAG_VAR = 1
TAG_INT = 2
TAG_ATOM = 3
TAG_MASK = 3

INT_MIN = -(1 << 61)
INT_MAX = (1 << 61) - 1

NIL = (0 << 2) | TAG_ATOM
CONS = (1 << 2) | TAG_ATOM
DICT = (2 << 2) | TAG_ATOM

_atoms: list[Any] = [[], None, dict]
_atom_classes = [0, 1, 2]
_atom_by_str: dict[str, int] = {}
_atom_by_slot: dict[object, int] = {(type, dict): 2}
_atom_by_class: dict[object, int] = {}
_atom_by_identity: dict[int, int] = {}
_atom_lock = threading.Lock()

_var_ids = itertools.count(1)
_var_block_lock = threading.Lock()
_named_vars: weakref.WeakValueDictionary[int, Var] = (
    weakref.WeakValueDictionary()
)


def new_var_id() -> int:
    """Return a variable id never handed out before."""
    return next(_var_ids)


def reserve_var_ids(count: int) -> int:
    """Reserve ``count`` consecutive fresh ids and return the first."""
    global _var_ids

    with _var_block_lock:
        first = next(_var_ids)
        _var_ids = itertools.count(first + count)
    return first


def var_word(var_id: int) -> int:
    return (var_id << 2) | TAG_VAR


class Var:
    """A logic variable.

    A name is only a label for printing: every call of :func:`var` makes a
    new variable, and two variables are the same exactly when they are the
    same variable, whatever their names.

    >>> x, y = var("x"), var("x")
    >>> x == y, x == x
    (False, True)
    """

    __slots__ = ("_id", "_name", "__weakref__")

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"a variable's name must be a str, not {type(name).__name__}"
            )
        self._id = new_var_id()
        self._name = name
        if name is not None:
            _named_vars[self._id] = self

    @classmethod
    def _from_id(cls, var_id: int) -> Var:
        known = _named_vars.get(var_id)
        if known is not None:
            return known
        self = cls.__new__(cls)
        self._id = var_id
        self._name = None
        return self

    @property
    def id(self) -> int:
        """The variable's process-wide unique id."""
        return self._id

    @property
    def name(self) -> str | None:
        """The display name given at creation, or ``None``."""
        return self._name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Var):
            return self._id == other._id
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Var):
            return self._id != other._id
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Var, self._id))

    def __repr__(self) -> str:
        if self._name is not None:
            return f"~{self._name}"
        return f"~_{self._id}"

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "logic variables cannot be pickled: a variable's identity is "
            "its id in this process"
        )


def var(name: str | None = None) -> Var:
    """Make a new logic variable, optionally named for display."""
    return Var(name)


def vars(count: int) -> list[Var]:  # noqa: A001 - miniKanren's name
    """Make ``count`` new logic variables, as a list."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(
            f"vars() takes an int count, not {type(count).__name__}"
        )
    if count < 0:
        raise ValueError(f"vars() count must be >= 0, not {count}")
    return [Var() for _ in range(count)]


def is_var(obj: object) -> TypeIs[Var]:
    """Return whether ``obj`` is a logic variable."""
    # Asking the class lets a relation's traced placeholder notice the
    # question (see ``relation``); isinstance alone would not ask it.
    return isinstance(obj, Var) and issubclass(obj.__class__, Var)


class Unbound:
    """A variable left unbound in a reified answer, printed ``_0``, ``_1``.

    Answers number their unbound variables from 0 in the order they first
    appear; two ``Unbound`` are equal when their numbers are.
    """

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Unbound):
            return self.index == other.index
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Unbound):
            return self.index != other.index
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Unbound, self.index))

    def __repr__(self) -> str:
        return f"_{self.index}"

    def __reduce__(self) -> tuple[type[Unbound], tuple[int]]:
        return (Unbound, (self.index,))


class Cons:
    """A pair: the head of a list and its tail.

    Use :func:`cons` to build one: it gives a Python list when the tail is a
    list.  A ``Cons`` is what an answer holds for a partial list, one whose
    tail is unbound or not a list, and it prints like a Lisp pair.

    >>> cons(3, cons(4, Unbound(0)))
    (3 4 . _0)
    >>> cons(1, [2, 3])
    [1, 2, 3]
    """

    __slots__ = ("_head", "_tail")

    def __init__(self, head: Any, tail: Any) -> None:
        if hasattr(self, "_head"):
            raise TypeError("a Cons is immutable")
        self._head = head
        self._tail = tail

    @property
    def head(self) -> Any:
        """The first element."""
        return self._head

    @property
    def tail(self) -> Any:
        """The rest: a list, another Cons, or anything else."""
        return self._tail

    def _spine(self) -> tuple[list[Any], Any]:
        items = []
        node: Any = self
        while isinstance(node, Cons):
            items.append(node.head)
            node = node.tail
        return items, node

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Cons, list)):
            return NotImplemented

        mine, my_end = self._spine()
        theirs: list[Any]
        if isinstance(other, Cons):
            theirs, their_end = other._spine()
        else:
            theirs, their_end = list(other), []
        if isinstance(my_end, list):
            mine, my_end = mine + my_end, []
        if isinstance(their_end, list):
            theirs, their_end = theirs + their_end, []

        return mine == theirs and my_end == their_end

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        if equal is NotImplemented:
            return NotImplemented
        return not equal

    def __hash__(self) -> int:
        items, end = self._spine()
        if isinstance(end, list):
            raise TypeError("unhashable: a Cons that ends in a list")
        return hash((Cons, tuple(items), end))

    def __repr__(self) -> str:
        items, end = self._spine()
        inner = " ".join(repr(item) for item in items)
        if isinstance(end, list):
            return "(" + " ".join([inner] + [repr(i) for i in end]) + ")"
        return f"({inner} . {end!r})"

    def __reduce__(self) -> tuple[type[Cons], tuple[Any, Any]]:
        return (Cons, (self.head, self.tail))


def cons(head: object, tail: object) -> Cons | list[Any]:
    """Make the pair of ``head`` and ``tail``; a list when tail is a list."""
    if type(tail) is list:
        return [head, *tail]
    return Cons(head, tail)


class Node:
    """A compound term: a functor word and a tuple of argument terms."""

    __slots__ = ("functor", "args", "has_vars")

    def __init__(
        self, functor: int, args: tuple[Term, ...], has_vars: bool
    ) -> None:
        self.functor = functor
        self.args = args
        self.has_vars = has_vars

    def __repr__(self) -> str:
        return f"Node({self.functor!r}, {self.args!r})"


def make_node(functor: int, args: tuple[Term, ...]) -> Node:
    """Build a node, computing whether a variable occurs in ``args``."""
    for arg in args:
        if type(arg) is int:
            if arg & TAG_MASK == TAG_VAR:
                return Node(functor, args, True)
        elif arg.has_vars:
            return Node(functor, args, True)
    return Node(functor, args, False)


def term_has_vars(term: Term) -> bool:
    if type(term) is int:
        return term & TAG_MASK == TAG_VAR
    node: Node = term
    return node.has_vars


def atom_keys(obj: Any) -> tuple[object, object]:
    """The interning keys of ``obj``: ``(slot_key, class_key)``.

    Equal values of one type are one *class* and unify; a *slot* keeps
    each representation apart, so that an answer gives back ``-0.0`` for
    ``-0.0`` and ``Decimal("1.00")`` for ``Decimal("1.00")`` although they
    unify with ``0.0`` and ``Decimal("1.0")``.  A NaN is its own class, as
    in Prolog: it unifies with a NaN of the same bits.  Raises TypeError
    for an unhashable object (interned by identity).
    """
    slot: tuple[object, ...]
    kind = type(obj)
    if kind is float:
        slot = (float, obj.hex())
        return slot, (slot if obj != obj else (float, obj))
    if kind is complex:
        slot = (complex, obj.real.hex(), obj.imag.hex())
        return slot, (slot if obj != obj else (complex, obj))
    if kind is decimal.Decimal:
        slot = (decimal.Decimal, obj.as_tuple())
        return slot, (slot if obj.is_nan() else (decimal.Decimal, obj))
    key = (kind, obj)
    hash(key)
    return key, key


def intern_atom(obj: object) -> int:
    """Return the atom word of ``obj``, interning it on first sight."""
    slot_key: object
    class_key: object
    if type(obj) is str:
        index = _atom_by_str.get(obj)
        if index is not None:
            return (index << 2) | TAG_ATOM
        slot_key = class_key = None
    else:
        try:
            slot_key, class_key = atom_keys(obj)
            index = _atom_by_slot.get(slot_key)
        except TypeError:
            slot_key = class_key = id(obj)
            index = _atom_by_identity.get(slot_key)
        if index is not None:
            return (index << 2) | TAG_ATOM

    with _atom_lock:
        return (_add_atom(obj, slot_key, class_key) << 2) | TAG_ATOM


def _add_atom(obj: object, slot_key: Any, class_key: object) -> int:
    # Called with _atom_lock held; returns the slot of obj.
    table: dict[Any, int]
    if slot_key is None:
        table = _atom_by_str
        slot_key = class_key = obj
    elif isinstance(slot_key, int):
        table = _atom_by_identity
    else:
        table = _atom_by_slot
    index = table.get(slot_key)
    if index is not None:
        return index

    index = len(_atoms)
    if table is _atom_by_slot and class_key is not slot_key:
        klass = _atom_by_class.setdefault(class_key, index)
    else:
        klass = index
    _atoms.append(obj)
    _atom_classes.append(klass)
    table[slot_key] = index
    return index


def atom_value(word: int) -> Any:
    """Return the object interned as atom ``word``."""
    return _atoms[word >> 2]


def atom_class(word: int) -> int:
    """The class of atom ``word``: equal atoms have equal classes."""
    return _atom_classes[word >> 2]


def canonical(word: int) -> int:
    """The word that stands for every word equal to ``word``."""
    if word & TAG_MASK == TAG_ATOM:
        return (_atom_classes[word >> 2] << 2) | TAG_ATOM
    return word


def atoms_equal(a: int, b: int) -> bool:
    """Whether two immediate words are equal terms."""
    if a == b:
        return True
    return (
        a & TAG_MASK == TAG_ATOM
        and b & TAG_MASK == TAG_ATOM
        and _atom_classes[a >> 2] == _atom_classes[b >> 2]
    )


def _is_namedtuple_type(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_make") and hasattr(
        cls, "_fields"
    )


def key_holds_variable(key: object) -> bool:
    """Whether a dict key is or holds (in tuples or frozensets) a variable."""
    pending: list[object] = [key]
    while pending:
        item = pending.pop()
        if isinstance(item, Var):
            return True
        if isinstance(item, (tuple, frozenset)):
            pending.extend(item)
    return False


def _dict_key_word(key: object) -> int:
    if isinstance(key, Var) or (
        isinstance(key, (tuple, frozenset)) and key_holds_variable(key)
    ):
        raise TypeError(
            "a logic variable cannot be a dict key or part of one: dicts "
            "unify key by key, and keys are matched by equality"
        )
    if type(key) is int and INT_MIN <= key <= INT_MAX:
        return (key << 2) | TAG_INT
    return intern_atom(key)


_BUILD = 0
_VALUE = 1
_WORD = 2


def to_term(obj: object) -> Term:
    """Convert a Python value to a term (iteratively, any depth)."""
    result: list[Term] = []
    # Frames are (_VALUE, obj), (_WORD, word) or (_BUILD, functor, count);
    # a build frame pops its arguments off ``result`` and pushes the node.
    stack: list[_Frame] = [(_VALUE, obj)]
    while stack:
        frame = stack.pop()
        if frame[0] == _BUILD:
            _, functor, count = frame
            args = tuple(result[len(result) - count:])
            del result[len(result) - count:]
            result.append(make_node(functor, args))
            continue
        if frame[0] == _WORD:
            result.append(frame[1])
            continue

        value = frame[1]
        kind = type(value)
        if kind is Var:
            result.append((value._id << 2) | TAG_VAR)
        elif kind is int:
            if INT_MIN <= value <= INT_MAX:
                result.append((value << 2) | TAG_INT)
            else:
                result.append(intern_atom(value))
        elif kind is list:
            _push_list(stack, value, (_WORD, NIL))
        elif kind is Cons:
            items, end = value._spine()
            if isinstance(end, list):
                _push_list(stack, items + end, (_WORD, NIL))
            else:
                _push_list(stack, items, (_VALUE, end))
        elif kind is tuple or _is_namedtuple_type(kind):
            stack.append((_BUILD, intern_atom(kind), len(value)))
            stack.extend((_VALUE, item) for item in reversed(value))
        elif kind is dict:
            # Insertion order is kept; unification matches keys by
            # equality, not position.
            pairs = [(_dict_key_word(k), v) for k, v in value.items()]
            stack.append((_BUILD, DICT, 2 * len(pairs)))
            for key_word, item in reversed(pairs):
                stack.append((_VALUE, item))
                stack.append((_WORD, key_word))
        elif isinstance(value, Var):
            result.append((value._id << 2) | TAG_VAR)
        else:
            result.append(intern_atom(value))
    return result[0]


def _push_list(
    stack: list[_Frame], items: Sequence[Any], end_frame: _Frame
) -> None:
    """Push the frames that build the cons chain of ``items``.

    They run in this order: each item, first to last, then the end of the
    chain, then one pair build per item, which folds the chain from its
    end.
    """
    stack.extend((_BUILD, CONS, 2) for _ in items)
    stack.append(end_frame)
    stack.extend((_VALUE, item) for item in reversed(items))


def from_term(term: Term) -> Any:
    """Convert a term back to Python without walking: variables stay."""
    from kando_parallel._pure.unify import to_python

    return to_python(term, None, False)


__all__ = ["Cons", "Unbound", "Var", "cons", "is_var", "var", "vars"]
