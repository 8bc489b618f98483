"""Implementations of the training functions that the loss tests run against.

Every loss/backward/binary test takes the ``impl`` fixture defined here
(it overrides the softmax-API ``impl`` of ``conftest.py`` in the modules
that import it), so the same assertions check the pure-NumPy reference and,
once it exists, the fast C version:

* ``reference``: :mod:`csoftmax.reference` once it re-exports
  ``cross_entropy``, else :mod:`csoftmax._reference_losses`.
* ``fast``: the compiled :mod:`csoftmax` module when it has its own
  ``cross_entropy``; skipped otherwise (a failure instead if
  ``CSOFTMAX_REQUIRE_FAST=1`` and the extension cannot be imported at all).

``conftest.py`` makes the pure-NumPy submodules importable even before the
extension is built. Use in a test module::

    from loss_impls import get, impl  # noqa: F401  (impl is a fixture)
"""

import importlib
import os

import pytest


def _load_reference():
    ref = importlib.import_module("csoftmax.reference")
    if hasattr(ref, "cross_entropy"):
        return ref
    return importlib.import_module("csoftmax._reference_losses")


def _load_fast(reference):
    """Return ``(module, None)`` or ``(None, reason to skip)``."""
    try:
        # Import _core explicitly: a package that fell back to the reference
        # must not be tested against itself.
        importlib.import_module("csoftmax._core")
        fast = importlib.import_module("csoftmax")
    except ImportError as exc:
        return None, f"fast csoftmax module not available: {exc!r}"
    ce = getattr(fast, "cross_entropy", None)
    if ce is None or ce is getattr(reference, "cross_entropy", None):
        return None, "csoftmax has no fast cross_entropy yet"
    return fast, None


REFERENCE = _load_reference()
FAST, _FAST_REASON = _load_fast(REFERENCE)


# Module scope: hypothesis refuses function-scoped fixtures.
@pytest.fixture(params=["reference", "fast"], scope="module")
def impl(request):
    """A module providing cross_entropy, nll_loss, ... (see module doc)."""
    if request.param == "reference":
        return REFERENCE
    if FAST is None:
        if (os.environ.get("CSOFTMAX_REQUIRE_FAST") == "1"
                and _FAST_REASON.startswith("fast csoftmax module")):
            pytest.fail(_FAST_REASON)
        pytest.skip(_FAST_REASON)
    return FAST


def get(module, name):
    """``module.name``, skipping the test if this implementation lacks it."""
    fn = getattr(module, name, None)
    if fn is None:
        pytest.skip(f"{module.__name__} has no {name}")
    return fn
