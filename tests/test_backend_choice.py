"""The suite runs against the backend that scripts/test.sh asked for."""

import os

from kando_parallel import _backend


def test_backend_is_the_one_expected():
    expected = os.environ.get("KANDO_PARALLEL_EXPECT_BACKEND")
    if expected:
        assert _backend.BACKEND == expected, _backend.IMPORT_ERROR
    assert _backend.BACKEND in ("cython", "python")


def test_public_names_of_twins_match():
    from primitives_support import core_modules

    for name in ("counter", "bucket"):
        modules = core_modules(name)
        if len(modules) < 2:
            continue
        pure, compiled = modules

        def public(obj):
            return {
                n for n in dir(obj)
                if not n.startswith("_")
                and not isinstance(getattr(obj, n), type(os))
            }

        assert public(pure) == public(compiled)
        for cls in ("LoadCounter", "TokenBucket"):
            if hasattr(pure, cls):
                assert public(getattr(pure, cls)) == public(
                    getattr(compiled, cls)
                )
