# Walking, unification and reification over C terms.
#
# Ownership.  walk_term() returns a term borrowed from its arguments.
# unify_terms() borrows both terms and the trie.  It returns 1 when they
# unify, storing a NEW reference to the extended trie in *result (NULL is
# the empty trie); 0 when they do not; -1 when memory runs out.  Unifying
# terms that are already equal gives the same trie with one more
# reference.
#
# Thread safety.  walk_term, occurs and unify_terms touch no Python object and
# run without the GIL on any number of threads at once.  find_cycle also
# runs without the GIL.  Reification builds Python objects and needs it.

from libc.stdint cimport int64_t, uint64_t

from kando_parallel._core.subst cimport HNode
from kando_parallel._core.terms cimport term_t


cdef term_t walk_term(term_t term, HNode *subst) noexcept nogil
cdef int occurs(uint64_t var_id, term_t term, HNode *subst) noexcept nogil
cdef int unify_terms(term_t u, term_t v, HNode *subst, bint occurs_check,
                     HNode **result) noexcept nogil

# The same on a trie the caller owns (*root, which it replaces): nodes no
# one else holds are updated in place.  Whatever it returns, *root is the
# caller's to release; after 0 or -1 it may hold part of the bindings,
# so a caller that failed drops it.
cdef int unify_owned(term_t u, term_t v, HNode **root,
                     bint occurs_check) noexcept nogil

# The id of a variable reachable from `term` that is bound to a term
# containing itself; 0 when there is none, -1 when memory runs out.
cdef int64_t find_cycle(term_t term, HNode *subst) noexcept nogil

# The reified value of `term`; raises CyclicTermError if may_cycle and the
# bindings reachable from it are cyclic.
cdef object reify_term(term_t term, HNode *subst, bint may_cycle)
