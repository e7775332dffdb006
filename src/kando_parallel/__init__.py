"""kando-parallel: miniKanren-style logic programming with a compiled core
and parallel goal evaluation.

>>> from kando_parallel import var, run, eq, conde, membero
>>> q = var()
>>> run(0, q, membero(q, [1, 2, 3]), conde([eq(q, 1)], [eq(q, 3)]))
[1, 3]
"""

from kando_parallel import _backend
from kando_parallel._backend import engine, subst, terms
from kando_parallel._backend import unify as _unification
from kando_parallel.lists import (
    appendo,
    conso,
    heado,
    membero,
    permuteo,
    rembero,
    tailo,
)

from kando_parallel.backpressure import BackpressureController
from kando_parallel.balancer import LoadBalancer, Worker
from kando_parallel.context import (
    CancelContext,
    Context,
    background,
    with_cancel,
    with_deadline,
    with_timeout,
)
from kando_parallel.errors import (
    Cancelled,
    DeadlineExceeded,
    ErrLimiterShutdown,
    ErrPoolShutdown,
    LimiterShutdownError,
    MergerClosedError,
    NoWorkersError,
    PoolShutdownError,
)
from kando_parallel.executor import (
    ParallelConfig,
    ParallelExecutor,
    ParallelStream,
    parallel_run,
)
from kando_parallel.limiter import RateLimiter
from kando_parallel.merger import StreamMerger
from kando_parallel.pool import WorkerPool

__version__ = "0.1.0"
__backend__ = _backend.BACKEND

Cons = terms.Cons
Unbound = terms.Unbound
Var = terms.Var
cons = terms.cons
is_var = terms.is_var
var = terms.var
vars = terms.vars  # noqa: A001 - miniKanren's name

Substitution = subst.Substitution

CyclicTermError = _unification.CyclicTermError
reify = _unification.reify
unify = _unification.unify
walk = _unification.walk

Facts = engine.Facts
Goal = engine.Goal
Relation = engine.Relation
Search = engine.Search
SearchCancelled = engine.SearchCancelled
conde = engine.conde
conj = engine.conj
disj = engine.disj
eq = engine.eq
fail = engine.fail
fresh = engine.fresh
pygoal = engine.pygoal
relation = engine.relation
run = engine.run
run_all = engine.run_all
run_iter = engine.run_iter
succeed = engine.succeed

__all__ = [
    "BackpressureController",
    "CancelContext",
    "Cancelled",
    "Cons",
    "Context",
    "CyclicTermError",
    "DeadlineExceeded",
    "ErrLimiterShutdown",
    "ErrPoolShutdown",
    "Facts",
    "Goal",
    "LimiterShutdownError",
    "LoadBalancer",
    "MergerClosedError",
    "NoWorkersError",
    "ParallelConfig",
    "ParallelExecutor",
    "ParallelStream",
    "PoolShutdownError",
    "RateLimiter",
    "Relation",
    "Search",
    "SearchCancelled",
    "StreamMerger",
    "Substitution",
    "Unbound",
    "Var",
    "Worker",
    "WorkerPool",
    "appendo",
    "background",
    "conde",
    "conj",
    "cons",
    "conso",
    "disj",
    "eq",
    "fail",
    "fresh",
    "heado",
    "is_var",
    "membero",
    "parallel_run",
    "permuteo",
    "pygoal",
    "reify",
    "relation",
    "rembero",
    "run",
    "run_all",
    "run_iter",
    "succeed",
    "tailo",
    "unify",
    "var",
    "vars",
    "walk",
    "with_cancel",
    "with_deadline",
    "with_timeout",
]
