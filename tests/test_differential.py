"""The compiled core and the pure-Python twin agree on unify and reify.

Hypothesis draws random term shapes (atoms of many types, tuples,
namedtuples, lists, partial lists, dicts, and a handful of logic
variables), builds each shape once with each backend's variables, and
checks that both backends unify and reify it the same way.  The modules
are imported directly, whatever backend the package chose.

Without a compiled core these tests are skipped, except when
``KANDO_PARALLEL_EXPECT_BACKEND=cython`` says that it must be there.
"""

import importlib
import math
import os
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kando_parallel._pure import terms as pure_terms
from kando_parallel._pure import unify as pure_unify

try:
    core_terms = importlib.import_module("kando_parallel._core.terms")
    core_unify = importlib.import_module("kando_parallel._core.unify")
except ImportError as exc:
    if os.environ.get("KANDO_PARALLEL_EXPECT_BACKEND") == "cython":
        raise RuntimeError(
            "KANDO_PARALLEL_EXPECT_BACKEND=cython, but the compiled core "
            f"does not import: {exc}"
        ) from exc
    pytest.skip(
        f"the compiled core is not built ({exc}); nothing to compare the "
        "pure-Python twin with",
        allow_module_level=True,
    )

BACKENDS = {
    "cython": (core_terms, core_unify),
    "python": (pure_terms, pure_unify),
}
VARIABLES = 5

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class P(NamedTuple):
    left: object
    right: object


# ---------------------------------------------------------------- shapes

atoms = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=2),
    st.sampled_from(["a", "b", 0, 1, 1.0, True, False]),
).map(lambda value: ("atom", value))

variables = st.integers(min_value=0, max_value=VARIABLES - 1).map(
    lambda index: ("var", index)
)


def compounds(children):
    items = st.lists(children, max_size=4)
    return st.one_of(
        items.map(lambda parts: ("tuple", parts)),
        items.map(lambda parts: ("list", parts)),
        st.tuples(st.lists(children, min_size=1, max_size=3),
                  children).map(lambda pair: ("cons", pair[0], pair[1])),
        st.dictionaries(st.sampled_from(["k", "m", 1, 2.5]), children,
                        max_size=3).map(lambda parts: ("dict", parts)),
        st.tuples(children, children).map(
            lambda pair: ("named", list(pair))
        ),
    )


shapes = st.recursive(st.one_of(atoms, variables), compounds,
                      max_leaves=12)


class Built:
    """A backend's variables, and shapes built into its terms."""

    def __init__(self, name):
        self.name = name
        self.terms, self.unify = BACKENDS[name]
        self.vars = [self.terms.var(f"v{i}") for i in range(VARIABLES)]

    def term(self, shape):
        kind = shape[0]
        if kind == "atom":
            return shape[1]
        if kind == "var":
            return self.vars[shape[1]]
        if kind == "tuple":
            return tuple(self.term(part) for part in shape[1])
        if kind == "list":
            return [self.term(part) for part in shape[1]]
        if kind == "named":
            return P(*(self.term(part) for part in shape[1]))
        if kind == "dict":
            return {key: self.term(part) for key, part in shape[1].items()}
        value = self.term(shape[2])
        for part in reversed(shape[1]):
            value = self.terms.cons(self.term(part), value)
        return value


def canonical(value):
    """A backend-neutral form of a reified value, for comparison."""
    kind = type(value).__name__
    if kind == "Unbound":
        return ("unbound", value.index)
    if kind == "Cons":
        return ("cons", canonical(value.head), canonical(value.tail))
    if isinstance(value, list):
        return ("list", [canonical(item) for item in value])
    if isinstance(value, tuple):
        return (kind, [canonical(item) for item in value])
    if isinstance(value, dict):
        return ("dict", sorted(
            ((repr(key), canonical(item)) for key, item in value.items()),
            key=lambda pair: pair[0],
        ))
    if isinstance(value, float) and math.isinf(value):
        return ("atom", kind, repr(value))
    return ("atom", kind, value)


def outcome(built, action):
    """``("ok", canonical result)``, or the name of the exception."""
    try:
        result = action(built)
    except (TypeError, ValueError) as exc:
        return ("raised", type(exc).__name__)
    return ("ok", result)


def unify_and_reify(u, v, occurs_check=True):
    def action(built):
        s = built.unify.unify(built.term(u), built.term(v),
                              occurs_check=occurs_check)
        if s is None:
            return None
        whole = (built.term(u), built.term(v), built.vars)
        return canonical(built.unify.reify(whole, s))

    return action


def both(action):
    return [outcome(Built(name), action) for name in ("cython", "python")]


# ---------------------------------------------------------------- tests


@SETTINGS
@given(shapes, shapes)
def test_unify_and_reify_agree(u, v):
    compiled, pure = both(unify_and_reify(u, v))

    assert compiled == pure


@SETTINGS
@given(shapes, shapes)
def test_unify_without_occurs_check_agrees(u, v):
    compiled, pure = both(unify_and_reify(u, v, occurs_check=False))

    assert compiled == pure


@SETTINGS
@given(st.lists(st.tuples(shapes, shapes), min_size=1, max_size=4))
def test_unify_in_sequence_agrees(pairs):
    def action(built):
        s = built.unify.unify(0, 0)
        for u, v in pairs:
            s = built.unify.unify(built.term(u), built.term(v), s)
            if s is None:
                return None
        return canonical(built.unify.reify(built.vars, s))

    compiled, pure = both(action)

    assert compiled == pure


@SETTINGS
@given(shapes,
       st.dictionaries(st.integers(min_value=0, max_value=VARIABLES - 1),
                       shapes, max_size=VARIABLES))
def test_reify_under_a_dict_of_bindings_agrees(term, bindings):
    def action(built):
        given_bindings = {built.vars[index]: built.term(shape)
                          for index, shape in bindings.items()}
        return canonical(built.unify.reify(built.term(term),
                                           given_bindings))

    compiled, pure = both(action)

    assert compiled == pure


@SETTINGS
@given(shapes)
def test_reify_of_a_term_without_bindings_agrees(term):
    compiled, pure = both(
        lambda built: canonical(built.unify.reify(built.term(term)))
    )

    assert compiled == pure


@pytest.mark.parametrize("name", ["cython", "python"])
@SETTINGS
@given(u=shapes, v=shapes)
def test_a_unifier_makes_both_sides_equal(name, u, v):
    built = Built(name)

    s = built.unify.unify(built.term(u), built.term(v))

    if s is not None:
        left = built.unify.reify(built.term(u), s)
        right = built.unify.reify(built.term(v), s)
        assert canonical(left) == canonical(right)
