"""Substitutions: persistent maps from variable ids to terms.

The pure-Python twin of ``kando_parallel._core.subst``.

A substitution is a hash array mapped trie in the CHAMP layout, keyed by
variable id.  Each node has two 32-bit maps: ``datamap`` marks the slots
that hold a key and its value inline, ``nodemap`` the slots that hold a
child node.  The slot of a key at depth ``d`` is bits ``5d .. 5d+4`` of
the id itself: ids are unique integers, so they need no hashing and two
keys always part before the bits run out (13 levels cover 64 bits).
Consecutive ids part in the first level, so the trie stays shallow.

Adding a binding copies the path from the root to one node: O(log32 n)
time and space, and the old substitution stays valid and unchanged.
Branches of the search share everything they did not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from kando_parallel._pure.terms import Var, from_term, to_term

if TYPE_CHECKING:
    from kando_parallel._pure.terms import Term

BITS = 5
MASK = (1 << BITS) - 1


class HNode:
    """One trie node: ``slots`` holds the inline pairs, then the children.

    A pair is a key (a variable id) and its term; the slots are typed Any
    because their type depends on their position.
    """

    __slots__ = ("datamap", "nodemap", "slots")

    def __init__(
        self, datamap: int, nodemap: int, slots: tuple[Any, ...]
    ) -> None:
        self.datamap = datamap
        self.nodemap = nodemap
        self.slots = slots


EMPTY = HNode(0, 0, ())


def lookup(node: HNode, key: int) -> Term | None:
    """Return the term bound to ``key``, or ``None`` when it is unbound."""
    shift = 0
    while True:
        bit = 1 << ((key >> shift) & MASK)
        if node.datamap & bit:
            index = 2 * (node.datamap & (bit - 1)).bit_count()
            if node.slots[index] == key:
                term: Term = node.slots[index + 1]
                return term
            return None
        if node.nodemap & bit:
            data = 2 * node.datamap.bit_count()
            index = data + (node.nodemap & (bit - 1)).bit_count()
            node = node.slots[index]
            shift += BITS
            continue
        return None


def insert(
    node: HNode, key: int, value: Term, shift: int = 0
) -> tuple[HNode, bool]:
    """Return a trie like ``node`` but with ``key`` bound to ``value``.

    Returns ``(new_node, added)``, where ``added`` says whether the key was
    new (rather than rebound).
    """
    bit = 1 << ((key >> shift) & MASK)
    slots = node.slots

    if node.datamap & bit:
        index = 2 * (node.datamap & (bit - 1)).bit_count()
        if slots[index] == key:
            changed = slots[:index + 1] + (value,) + slots[index + 2:]
            return HNode(node.datamap, node.nodemap, changed), False
        child = _pair(
            slots[index], slots[index + 1], key, value, shift + BITS
        )
        without = slots[:index] + slots[index + 2:]
        data = 2 * (node.datamap.bit_count() - 1)
        position = data + (node.nodemap & (bit - 1)).bit_count()
        changed = without[:position] + (child,) + without[position:]
        return HNode(node.datamap ^ bit, node.nodemap | bit, changed), True

    if node.nodemap & bit:
        data = 2 * node.datamap.bit_count()
        position = data + (node.nodemap & (bit - 1)).bit_count()
        child, added = insert(slots[position], key, value, shift + BITS)
        changed = slots[:position] + (child,) + slots[position + 1:]
        return HNode(node.datamap, node.nodemap, changed), added

    index = 2 * (node.datamap & (bit - 1)).bit_count()
    changed = slots[:index] + (key, value) + slots[index:]
    return HNode(node.datamap | bit, node.nodemap, changed), True


def _pair(
    key1: int, value1: Term, key2: int, value2: Term, shift: int
) -> HNode:
    """A node holding two keys that agree on every bit below ``shift``."""
    bit1 = 1 << ((key1 >> shift) & MASK)
    bit2 = 1 << ((key2 >> shift) & MASK)
    if bit1 == bit2:
        child = _pair(key1, value1, key2, value2, shift + BITS)
        return HNode(0, bit1, (child,))
    if bit1 < bit2:
        return HNode(bit1 | bit2, 0, (key1, value1, key2, value2))
    return HNode(bit1 | bit2, 0, (key2, value2, key1, value1))


def items(node: HNode) -> Iterator[tuple[int, Term]]:
    """Yield every ``(key, term)`` pair of the trie, in trie order."""
    stack = [node]
    while stack:
        node = stack.pop()
        data = 2 * node.datamap.bit_count()
        for index in range(0, data, 2):
            yield node.slots[index], node.slots[index + 1]
        stack.extend(node.slots[data:])


class Substitution(Mapping[Var, object]):
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

    __slots__ = ("_root", "_size", "_may_cycle")

    def __init__(
        self,
        bindings: (
            Mapping[Var, object] | Iterable[tuple[Var, object]] | None
        ) = None,
    ) -> None:
        if hasattr(self, "_root"):
            raise TypeError("a Substitution is immutable")
        self._root = EMPTY
        self._size: int | None = 0
        self._may_cycle = False
        if bindings is None:
            return

        if isinstance(bindings, Substitution):
            self._root = bindings._root
            self._size = bindings._size
            self._may_cycle = bindings._may_cycle
            return
        pairs = bindings.items() if isinstance(bindings, Mapping) else bindings
        root = EMPTY
        links: dict[int, tuple[Var, int]] = {}
        for key, value in pairs:
            if not isinstance(key, Var):
                raise TypeError(
                    "a substitution maps logic variables to terms; "
                    f"got a key of type {type(key).__name__}"
                )
            if isinstance(value, Var):
                links[key.id] = (key, value.id)
            root = insert(root, key.id, to_term(value))[0]
        refuse_variable_cycle(links)
        self._root = root
        self._size = None
        # A user's bindings may be cyclic; reify checks before it walks.
        self._may_cycle = True

    @classmethod
    def _wrap(cls, root: HNode) -> Substitution:
        self = cls.__new__(cls)
        self._root = root
        self._size = None
        self._may_cycle = False
        return self

    def __getitem__(self, key: Var) -> object:
        if isinstance(key, Var):
            term = lookup(self._root, key.id)
            if term is not None:
                return from_term(term)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, Var) and lookup(self._root, key.id) is not None

    def __iter__(self) -> Iterator[Var]:
        for var_id, _ in items(self._root):
            yield Var._from_id(var_id)

    def __len__(self) -> int:
        if self._size is None:
            self._size = sum(1 for _ in items(self._root))
        return self._size

    def __bool__(self) -> Literal[True]:
        return True

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"Substitution({{{inner}}})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("substitutions hold process-local variable ids")


def refuse_variable_cycle(links: dict[int, tuple[Var, int]]) -> None:
    """Raise ValueError if variable-to-variable bindings go round a circle.

    ``links`` maps a variable's id to ``(variable, id of the variable it
    is bound to)``.  A walk along such a circle would never end.
    """
    finished: set[int] = set()
    for start in links:
        path: list[int] = []
        on_path: set[int] = set()
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


def as_substitution(value: object) -> Substitution:
    """Accept ``None``, a Substitution or a mapping of variables to terms."""
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
