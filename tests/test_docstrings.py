"""Every example in the docstrings runs and gives what it shows."""
import doctest
import importlib

import pytest

MODULES = ["csoftmax", "csoftmax._core", "csoftmax.reference", "csoftmax._reference_losses",
           "csoftmax._validation", "csoftmax._threads", "csoftmax._output_cache"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        pytest.skip(f"{name} not importable: {exc}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0 or name == "csoftmax._threads"


def test_readme_examples():
    import pathlib
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md not beside tests/")
    result = doctest.testfile(str(readme), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
