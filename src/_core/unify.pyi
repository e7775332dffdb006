"""Types of :mod:`kando_parallel._core.unify` (see unify.pyx)."""

from collections.abc import Mapping
from typing import Any

from kando_parallel._core.subst import Substitution
from kando_parallel._core.terms import Var

__all__ = ["CyclicTermError", "reify", "unify", "walk"]

# What ``s`` accepts: None (no bindings), a Substitution, or any mapping
# of variables to values.
_Bindings = Mapping[Var, object] | None

class CyclicTermError(ValueError):
    """A substitution binds a variable to a term that contains it."""

def walk(u: object, s: _Bindings = None) -> Any: ...
def unify(
    u: object, v: object, s: _Bindings = None, *, occurs_check: bool = True
) -> Substitution | None: ...
def reify(u: object, s: _Bindings = None) -> Any: ...
