"""Walking, unification and reification.

The pure-Python twin of ``kando_parallel._core.unify``.

* ``walk_term`` follows variable bindings until it reaches an unbound
  variable or a non-variable term.
* ``unify_terms`` is iterative: a stack of term pairs still to be made
  equal.  The occurs check is on unless asked off; it skips every subterm
  that records no variable, and visits each bound variable once.
* ``to_python`` rebuilds Python values from a term under a substitution,
  with an explicit stack.  Unbound variables become ``Unbound(i)``,
  numbered in order of first appearance, or stay variables.  The value of
  a variable that is not a list tail is built once and reused wherever the
  variable occurs again, so shared subterms cannot blow up exponentially.

A substitution made with the occurs check on never binds a variable to a
term that contains it.  One made with it off, or from a user's dict, may;
``find_cycle`` finds such a binding so that reification raises instead of
looping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kando_parallel._pure.subst import (
    HNode,
    EMPTY,
    Substitution,
    as_substitution,
    insert,
    lookup,
)
from kando_parallel._pure.terms import (
    CONS,
    DICT,
    NIL,
    TAG_ATOM,
    TAG_INT,
    TAG_MASK,
    TAG_VAR,
    Cons,
    Unbound,
    Var,
    atom_value,
    atoms_equal,
    from_term,
    to_term,
)

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

    from kando_parallel._pure.terms import Node, Term

    # A frame of to_python's stack: see the comment there.
    _Frame: TypeAlias = tuple[Any, ...]

class CyclicTermError(ValueError):
    """A substitution binds a variable to a term that contains it."""


def walk_term(term: Term, root: HNode) -> Term:
    """Follow bindings from ``term`` to an unbound variable or a value."""
    while type(term) is int and term & TAG_MASK == TAG_VAR:
        bound = lookup(root, term >> 2)
        if bound is None:
            return term
        term = bound
    return term


def occurs(var_id: int, term: Term, root: HNode) -> bool:
    """Return whether variable ``var_id`` occurs in ``term`` under root."""
    seen: set[int] = set()
    stack: list[Term | None] = [term]
    while stack:
        term = stack.pop()
        while type(term) is int and term & TAG_MASK == TAG_VAR:
            if term >> 2 == var_id:
                return True
            if term in seen:
                term = None
                break
            seen.add(term)
            bound = lookup(root, term >> 2)
            if bound is None:
                term = None
                break
            term = bound
        if term is None or type(term) is int:
            continue
        if term.has_vars:
            stack.extend(term.args)
    return False


CYCLE_WATCH_AFTER = 65536


def unify_terms(
    u: Term, v: Term, root: HNode, occurs_check: bool = True
) -> HNode | None:
    """Unify two terms under ``root``; the new root, or ``None``."""
    stack = [(u, v)]
    # As in the compiled core: after CYCLE_WATCH_AFTER pairs of compound
    # terms, a pair met again is being unified already and is skipped, so
    # terms made cyclic through bindings cannot keep the loop going.
    compounds = 0
    seen_pairs: set[tuple[int, int]] = set()
    while stack:
        u, v = stack.pop()
        u = walk_term(u, root)
        v = walk_term(v, root)
        if u is v:
            continue

        u_int = type(u) is int
        v_int = type(v) is int
        if u_int and v_int and u == v:
            continue
        if u_int and u & TAG_MASK == TAG_VAR:
            if occurs_check and not v_int and occurs(u >> 2, v, root):
                return None
            root = insert(root, u >> 2, v)[0]
            continue
        if v_int and v & TAG_MASK == TAG_VAR:
            if occurs_check and not u_int and occurs(v >> 2, u, root):
                return None
            root = insert(root, v >> 2, u)[0]
            continue
        if u_int or v_int:
            if u_int and v_int and atoms_equal(u, v):
                continue
            return None

        if u.functor != v.functor or len(u.args) != len(v.args):
            return None
        compounds += 1
        if compounds > CYCLE_WATCH_AFTER:
            pair = (id(u), id(v))
            if pair in seen_pairs:
                continue
            seen_pairs.add(pair)
        if u.functor == DICT:
            pairs = _match_keys(u.args, v.args)
            if pairs is None:
                return None
            stack.extend(pairs)
            continue
        stack.extend(zip(reversed(u.args), reversed(v.args)))
    return root


def _match_keys(
    left: tuple[Term, ...], right: tuple[Term, ...]
) -> list[tuple[Term, Term]] | None:
    """The value pairs of two dicts' arguments, matched key by key.

    ``None`` when a key of one is missing from the other.  Keys are
    immediate words; dicts with the same order match position by
    position, others by a search.
    """
    pairs: list[tuple[Term, Term]] = []
    for i in range(0, len(left), 2):
        key = left[i]
        if atoms_equal(key, right[i]):
            j = i
        else:
            for j in range(0, len(right), 2):
                if atoms_equal(key, right[j]):
                    break
            else:
                return None
        pairs.append((left[i + 1], right[j + 1]))
    return pairs


def find_cycle(term: Term, root: HNode) -> int | None:
    """Return the id of a variable bound to a term containing itself.

    Only bindings reachable from ``term`` count.  ``None`` when there is
    no cycle.  A depth-first search with an explicit stack: a variable is
    *open* while the terms reachable from its binding are being searched.
    """
    done = set()
    open_ = set()
    stack = [(False, term)]
    while stack:
        leaving, item = stack.pop()
        if leaving:
            open_.discard(item)
            done.add(item)
            continue

        term = item
        if type(term) is int:
            if term & TAG_MASK != TAG_VAR:
                continue
            var_id = term >> 2
            if var_id in open_:
                return var_id
            if var_id in done:
                continue
            bound = lookup(root, var_id)
            if bound is None:
                done.add(var_id)
                continue
            open_.add(var_id)
            stack.append((True, var_id))
            stack.append((False, bound))
        elif term.has_vars:
            stack.extend((False, arg) for arg in term.args)
    return None


_TERM = 0
_BUILD = 1
_LIST = 2
_MEMO = 3


def to_python(
    term: Term,
    root: HNode | None,
    name_unbound: bool,
    names: dict[int, Unbound] | None = None,
) -> Any:
    """Rebuild the Python value of ``term`` under the trie ``root``.

    ``root`` may be ``None`` for no bindings.  Unbound variables become
    ``Unbound`` objects when ``name_unbound`` is true, else ``Var``s.
    ``names`` maps variable ids to the ``Unbound`` already given to them;
    pass one dict to several calls to number across them.
    """
    if root is None:
        root = EMPTY
    if names is None:
        names = {}
    memo: dict[int, Any] = {}
    out: list[Any] = []
    # Frames: (_TERM, term); (_BUILD, functor, count) pops count values;
    # (_LIST, count, has_end) pops count heads and, if has_end, the end;
    # (_MEMO, var_id) records the value just built for that variable.
    stack: list[_Frame] = [(_TERM, term)]
    while stack:
        frame = stack.pop()
        kind = frame[0]
        if kind == _BUILD:
            _build_compound(out, frame[1], frame[2])
            continue
        if kind == _LIST:
            _build_list(out, frame[1], frame[2])
            continue
        if kind == _MEMO:
            memo[frame[1]] = out[-1]
            continue

        term = frame[1]
        if type(term) is int and term & TAG_MASK == TAG_VAR:
            var_id = term >> 2
            if var_id in memo:
                out.append(memo[var_id])
                continue
            bound = lookup(root, var_id)
            if bound is None:
                out.append(_unbound(var_id, names, name_unbound))
                continue
            stack.append((_MEMO, var_id))
            stack.append((_TERM, bound))
            continue

        if type(term) is int:
            out.append(_immediate(term))
            continue

        if term.functor == CONS:
            _push_list(stack, term, root)
            continue

        stack.append((_BUILD, term.functor, len(term.args)))
        stack.extend((_TERM, arg) for arg in reversed(term.args))
    return out[0]


def _unbound(
    var_id: int, names: dict[int, Unbound], name_unbound: bool
) -> Var | Unbound:
    if not name_unbound:
        return Var._from_id(var_id)
    name = names.get(var_id)
    if name is None:
        name = Unbound(len(names))
        names[var_id] = name
    return name


def _immediate(word: int) -> Any:
    tag = word & TAG_MASK
    if tag == TAG_INT:
        return word >> 2
    if tag == TAG_ATOM:
        if word == NIL:
            return []
        return atom_value(word)
    return Var._from_id(word >> 2)


def _push_list(stack: list[_Frame], term: Node, root: HNode) -> None:
    """Push the frames that rebuild the cons chain starting at ``term``.

    The chain is followed through bound tail variables, so a list built
    one pair at a time by a relation comes back as one flat list.
    """
    heads = []
    while True:
        heads.append(term.args[0])
        tail = walk_term(term.args[1], root)
        if type(tail) is not int and tail.functor == CONS:
            term = tail
            continue
        break

    has_end = tail != NIL
    stack.append((_LIST, len(heads), has_end))
    if has_end:
        stack.append((_TERM, tail))
    stack.extend((_TERM, head) for head in reversed(heads))


def _build_compound(out: list[Any], functor: int, count: int) -> None:
    args = out[len(out) - count:]
    del out[len(out) - count:]
    kind = atom_value(functor)
    if kind is tuple:
        out.append(tuple(args))
    elif kind is dict:
        out.append(dict(zip(args[0::2], args[1::2])))
    else:
        out.append(kind._make(args))


def _build_list(out: list[Any], count: int, has_end: bool) -> None:
    end = out.pop() if has_end else None
    items = out[len(out) - count:]
    del out[len(out) - count:]
    if not has_end:
        out.append(items)
        return
    value = end
    for item in reversed(items):
        value = Cons(item, value)
    out.append(value)


def walk(u: object, s: Mapping[Var, object] | None = None) -> Any:
    """Follow the bindings of ``s`` from ``u``; the value it ends at.

    >>> from kando_parallel import var, unify
    >>> x, y = var("x"), var("y")
    >>> walk(x, unify(x, (1, y)))
    (1, ~y)
    """
    s = as_substitution(s)
    return from_term(walk_term(to_term(u), s._root))


def unify(
    u: object,
    v: object,
    s: Mapping[Var, object] | None = None,
    *,
    occurs_check: bool = True,
) -> Substitution | None:
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
    s = as_substitution(s)
    root = unify_terms(to_term(u), to_term(v), s._root, occurs_check)
    if root is None:
        return None
    result = Substitution._wrap(root)
    result._may_cycle = s._may_cycle or not occurs_check
    return result


def reify(u: object, s: Mapping[Var, object] | None = None) -> Any:
    """The value of ``u`` under ``s``, unbound variables named ``_0``, ...

    Raises ``CyclicTermError`` if ``s`` binds a variable reachable from
    ``u`` to a term containing that variable.

    >>> from kando_parallel import var
    >>> x, y = var(), var()
    >>> reify((x, y, x), unify(y, [1, 2]))
    (_0, [1, 2], _0)
    """
    s = as_substitution(s)
    term = to_term(u)
    if s._may_cycle:
        var_id = find_cycle(term, s._root)
        if var_id is not None:
            raise CyclicTermError(
                f"{Var._from_id(var_id)!r} is bound to a term that contains "
                "it; reify needs a finite term"
            )
    return to_python(term, s._root, True)


__all__ = ["CyclicTermError", "reify", "unify", "walk"]
