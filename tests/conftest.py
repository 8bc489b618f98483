"""Shared fixtures: the implementations under test and the SIMD dispatch paths.

``impl``  -- each implementation: ``csoftmax.reference`` and the fast ``csoftmax`` module.
``fast``  -- the fast module only.
``isa``   -- every dispatch path of the fast module (selected for the test, restored after).

While the compiled extension is not built, the fast parameters are skipped (with a reason
shown by ``-ra``). Set ``CSOFTMAX_REQUIRE_FAST=1`` (e.g. in CI, after building) to turn that
skip into a failure, so a broken build cannot pass as "reference only".
"""

import importlib
import importlib.util
import os
import sys
import types

import pytest


def _bare_package_if_unimportable():
    """Make ``csoftmax.reference`` importable even when ``csoftmax/__init__`` is not.

    The package ``__init__`` imports the compiled ``_core``; before it is built, register
    the package directory without running ``__init__`` so the pure-NumPy submodules load.
    Returns the import error (the reason the fast module is unavailable) or None.
    """
    try:
        importlib.import_module("csoftmax")
        return None
    except ImportError as exc:
        spec = importlib.util.find_spec("csoftmax")
        if spec is None or not spec.submodule_search_locations:
            raise
        package = types.ModuleType("csoftmax")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["csoftmax"] = package
        return exc


_PACKAGE_IMPORT_ERROR = _bare_package_if_unimportable()

_FAST_API = ("softmax", "log_softmax", "logsumexp")


def _load_fast():
    """Return ``(module, None)`` or ``(None, reason)``.

    ``csoftmax._core`` is imported explicitly: a package that silently fell back to the
    reference would otherwise be tested against itself.
    """
    if _PACKAGE_IMPORT_ERROR is not None:
        return None, f"csoftmax package not importable: {_PACKAGE_IMPORT_ERROR!r}"
    try:
        importlib.import_module("csoftmax._core")
        module = importlib.import_module("csoftmax")
        for name in _FAST_API:
            getattr(module, name)
    except (ImportError, AttributeError) as exc:
        return None, f"fast csoftmax module not available: {exc!r}"
    return module, None


def _fast_or_skip():
    module, reason = _load_fast()
    if module is None:
        if os.environ.get("CSOFTMAX_REQUIRE_FAST") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return module


# Session scope so hypothesis tests may use them (function-scoped fixtures are not reset
# between hypothesis examples, and hypothesis refuses them).
@pytest.fixture(scope="session", params=["reference", "csoftmax"])
def impl(request):
    """Each implementation of the public API (a module)."""
    if request.param == "reference":
        return importlib.import_module("csoftmax.reference")
    return _fast_or_skip()


@pytest.fixture(scope="session")
def fast():
    """The fast module; skips while it is not built."""
    return _fast_or_skip()


@pytest.fixture(scope="session")
def reference():
    """The pure-NumPy reference module."""
    return importlib.import_module("csoftmax.reference")


def _isa_names():
    module, _ = _load_fast()
    if module is None or not hasattr(module, "available_isas"):
        return [None]
    return list(module.available_isas())


def pytest_generate_tests(metafunc):
    # The ISA list is only known at run time, so parametrize here rather than in a decorator.
    if "isa" in metafunc.fixturenames:
        names = _isa_names()
        ids = [name or "no-isa" for name in names]
        metafunc.parametrize("isa", names, indirect=True, ids=ids)


@pytest.fixture
def isa(request, fast):
    """Select one dispatch path of the fast module for the test, then restore the previous."""
    name = request.param
    if name is None or not all(
        hasattr(fast, f) for f in ("available_isas", "get_isa", "_set_isa")
    ):
        pytest.skip("fast module has no ISA dispatch API (available_isas/get_isa/_set_isa)")
    previous = fast.get_isa()
    fast._set_isa(name)
    assert fast.get_isa() == name, f"_set_isa({name!r}) left get_isa() == {fast.get_isa()!r}"
    try:
        yield name
    finally:
        fast._set_isa(previous)
