"""Every example in the docstrings runs and gives what it shows."""
import doctest
import pathlib
import re
import importlib

import pytest

from helpers import fast_module, run_doctests

MODULES = ["csoftmax", "csoftmax._core", "csoftmax.reference", "csoftmax.reference.softmax_family",
           "csoftmax.reference.losses", "csoftmax.reference.decoding", "csoftmax._validation",
           "csoftmax._fused_args", "csoftmax._threads", "csoftmax._output_cache",
           "csoftmax._decoding_args", "csoftmax._loss_args"]
PURE_NUMPY = {"csoftmax.reference", "csoftmax.reference.softmax_family", "csoftmax.reference.losses",
              "csoftmax.reference.decoding", "csoftmax._validation", "csoftmax._fused_args",
              "csoftmax._decoding_args", "csoftmax._loss_args"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name not in PURE_NUMPY:
        fast_module()   # the module or its examples need the compiled extension
    module = importlib.import_module(name)
    result = run_doctests(module)   # NumPy 1's scalar reprs read as NumPy 2's
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0 or name == "csoftmax._threads"


def test_readme_examples():
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if not readme.exists():
        pytest.skip("README.md not beside tests/")
    fast_module()
    result = run_doctests(path=readme)
    assert result.failed == 0 and result.attempted > 0


# A repr that a dependency controls: ml_dtypes 0.7 with NumPy 2.4 turned `dtype=bfloat16` into
# `dtype=dtype(bfloat16)` and the README's example failed for every user. Examples print
# `.dtype.name` and values instead.
_FOREIGN_REPR = re.compile(r"dtype[=(]+'?(bfloat16|float8\w*|int4|uint4)")


def _examples():
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if readme.exists():
        test = doctest.DocTestParser().get_doctest(readme.read_text(), {}, "README.md", None, 0)
        yield from ((test.name, ex) for ex in test.examples)
    fast_module()
    for name in MODULES:
        for test in doctest.DocTestFinder().find(importlib.import_module(name)):
            yield from ((test.name, ex) for ex in test.examples)


def test_examples_show_no_repr_a_dependency_controls():
    shown = [(where, ex.want.strip()) for where, ex in _examples() if _FOREIGN_REPR.search(ex.want)]
    assert not shown, f"examples whose output is ml_dtypes' repr (print dtype.name instead): {shown}"


def test_foreign_repr_pattern_catches_both_forms():
    assert _FOREIGN_REPR.search("array([1.], dtype=bfloat16)")
    assert _FOREIGN_REPR.search("array([1.], dtype=dtype(bfloat16))")
    assert not _FOREIGN_REPR.search("('bfloat16', [[0.5]])")
