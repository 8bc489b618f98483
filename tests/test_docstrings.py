"""Every example in the docstrings runs and gives what it shows."""
import importlib

import pytest

from helpers import fast_module, run_doctests

MODULES = ["csoftmax", "csoftmax._core", "csoftmax.reference", "csoftmax._reference_losses",
           "csoftmax._validation", "csoftmax._fused_args", "csoftmax._threads",
           "csoftmax._output_cache", "csoftmax._reference_decoding", "csoftmax._decoding_args"]
PURE_NUMPY = {"csoftmax.reference", "csoftmax._reference_losses", "csoftmax._validation",
              "csoftmax._fused_args", "csoftmax._reference_decoding", "csoftmax._decoding_args"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name not in PURE_NUMPY:
        fast_module()   # the module or its examples need the compiled extension
    module = importlib.import_module(name)
    result = run_doctests(module)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0 or name == "csoftmax._threads"


def test_readme_examples():
    import pathlib
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md not beside tests/")
    fast_module()
    result = run_doctests(path=readme)
    assert result.failed == 0 and result.attempted > 0
