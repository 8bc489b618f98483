"""Shared fixtures: the implementations under test and the SIMD dispatch paths.

The tests sit in one folder per public area: softmax/ (the softmax family: values, arguments,
accuracy, layouts, long rows, row groups, strided axes), fused/ (scale / bias / where / dtype /
tuple axes, masked and 0-d inputs), half_precision/ (float16, bfloat16), losses/ (cross-entropy,
nll_loss, sigmoid, BCE, backward passes, against PyTorch), decoding/ (top_k_softmax, sample),
stats_dask/ (softmax statistics of chunks, csoftmax.dask), threads_fork/ (thread limits,
concurrent calls, fork, the run-time controls, the output cache) and build_packaging/ (the build,
the installed wheel, docstrings, the benchmark command, the example); c/ is the C test program.
Inputs come from helpers.py's generator (``draw``, ``in_layout``), whose folder pyproject.toml puts
on sys.path.

``impl``       -- each implementation: ``csoftmax.reference`` (id ``reference``) and the fast
                  ``csoftmax`` module (id ``fast``), for the softmax family and the losses alike.
``fast``       -- the fast module only.
``reference``  -- the reference module only.
``isa``        -- every dispatch path of the fast module (selected for the test, restored after).

While the compiled extension is not built, whatever needs the fast module is skipped (with a
reason shown by ``-ra``); ``CSOFTMAX_REQUIRE_FAST=1`` turns that skip into a failure. The
decision is made in one place, ``helpers.fast_module``, which test modules that use the fast
module at import time call too.
"""

import importlib

import pytest

from helpers import fast_module, load_fast


# Session scope so hypothesis tests may use them (function-scoped fixtures are not reset
# between hypothesis examples, and hypothesis refuses them).
@pytest.fixture(scope="session", params=["reference", "fast"])
def impl(request):
    """Each implementation of the public API (a module)."""
    if request.param == "reference":
        return importlib.import_module("csoftmax.reference")
    return fast_module()


@pytest.fixture(scope="session")
def fast():
    """The fast module (see ``helpers.fast_module``)."""
    return fast_module()


@pytest.fixture(scope="session")
def reference():
    """The pure-NumPy reference module."""
    return importlib.import_module("csoftmax.reference")


def pytest_generate_tests(metafunc):
    # The ISA list is only known at run time, so parametrize here rather than in a decorator.
    if "isa" in metafunc.fixturenames:
        module, _ = load_fast()
        names = [None] if module is None else list(module.available_isas())
        ids = [name or "no-isa" for name in names]
        metafunc.parametrize("isa", names, indirect=True, ids=ids)


@pytest.fixture
def isa(request, fast):
    """Select one dispatch path of the fast module for the test, then restore the previous."""
    name = request.param
    previous = fast.get_isa()
    fast._set_isa(name)
    assert fast.get_isa() == name, f"_set_isa({name!r}) left get_isa() == {fast.get_isa()!r}"
    try:
        yield name
    finally:
        fast._set_isa(previous)
