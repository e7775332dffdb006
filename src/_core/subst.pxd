# Substitutions in C: persistent maps from variable ids to terms.
#
# A substitution is a trie of HNodes (a hash array mapped trie in the
# CHAMP layout) keyed by variable id; NULL is the empty substitution.
# Each node holds, after its header, 2 * popcount(datamap) words of inline
# (id, term) pairs and then popcount(nodemap) child pointers.
#
# Ownership.  A node owns one reference to each of its children and to
# each term it holds.  hnode_insert() borrows the trie and the term and
# returns a NEW reference to a new root (NULL when memory runs out); the
# old trie is untouched and still valid.  hnode_lookup() returns a term
# borrowed from the trie, or 0 when the id is unbound.
#
# Thread safety.  Nodes are immutable after construction and their counts
# are atomic, so any number of threads may read and extend the same trie
# at once without a lock; all of it is callable without the GIL.

from libc.stdint cimport int64_t, uint32_t, uint64_t

from kando_parallel._core.atomics cimport kp_atomic_i64
from kando_parallel._core.terms cimport term_t


cdef struct HNode:
    kp_atomic_i64 refcnt
    uint32_t datamap
    uint32_t nodemap


cdef term_t hnode_lookup(HNode *root, uint64_t key) noexcept nogil
cdef HNode *hnode_insert(HNode *root, uint64_t key,
                         term_t value) noexcept nogil
# The same, but consuming the caller's reference to root: nodes that only
# the caller references are updated in place, so a search that extends a
# trie nobody shares pays no copy.  NULL (and root released) when memory
# runs out.
cdef HNode *hnode_insert_owned(HNode *root, uint64_t key,
                               term_t value) noexcept nogil
cdef HNode *hnode_incref(HNode *node) noexcept nogil
cdef void hnode_decref(HNode *node) noexcept nogil

# A resolve_fn (see terms.pxd) over a trie passed as `env`.
cdef term_t hnode_resolve(void *env, uint64_t key) noexcept nogil


cdef class Substitution:
    cdef HNode *root
    cdef bint may_cycle
    cdef Py_ssize_t size

# Wrap a trie, taking over the caller's reference to it.
cdef Substitution substitution_from_root(HNode *root, bint may_cycle)

# None, a Substitution or a mapping of Var to value, as a Substitution.
cdef Substitution as_substitution(object value)
