"""An installed wheel is what the suite tests, and it carries the right files.

With ``CSOFTMAX_TEST_INSTALLED=1`` (set by .ci/wheel and by cibuildwheel's test environment, where
the suite runs against a built wheel installed in a virtualenv, from outside the source tree):
csoftmax and its compiled extension must come from site-packages, not from a checkout that
happened to be on ``sys.path``; the wheel must carry the typing files and the bench subpackage but
not the Cython-generated C source; and on Linux the OpenMP runtime loaded must be the one
auditwheel vendored into ``csoftmax.libs``, not the system's. Without the variable (the editable
install of the README's test command, where csoftmax is the checkout) these tests are skipped.
"""
import os
import pathlib
import sys
import sysconfig

import pytest

from helpers import fast_module

pytestmark = pytest.mark.skipif(
    os.environ.get("CSOFTMAX_TEST_INSTALLED") != "1",
    reason="checks an installed wheel: CSOFTMAX_TEST_INSTALLED=1 (set by .ci/wheel, cibuildwheel)")


def _package_dir():
    return pathlib.Path(fast_module().__file__).resolve().parent


def test_csoftmax_comes_from_site_packages():
    import csoftmax._core
    site = {pathlib.Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    for module in (fast_module(), csoftmax._core):
        path = pathlib.Path(module.__file__).resolve()
        assert any(d in path.parents for d in site), \
            f"{module.__name__} imported from {path}, not from {sorted(map(str, site))}"


def test_wheel_files():
    package = _package_dir()
    names = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    for name in ("py.typed", "_core.pyi", "reference/__init__.py", "reference/softmax_family.py",
                 "reference/losses.py", "reference/decoding.py", "reference/stats.py", "dask.py",
                 "bench/__init__.py", "bench/__main__.py"):
        assert name in names, f"{name} missing from the installed package {package}"
    assert not [n for n in names if n.endswith(".c")], "the generated C source is in the wheel"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="auditwheel (Linux) vendors libgomp")
def test_vendored_openmp_runtime_is_loaded():
    fast = fast_module()
    if not fast.openmp_available():
        pytest.skip("built without OpenMP")
    with open("/proc/self/maps") as f:
        libgomp = {line.split()[-1] for line in f if "libgomp" in line}
    libs = str(_package_dir().parent / "csoftmax.libs") + os.sep
    assert any(path.startswith(libs) for path in libgomp), \
        f"no libgomp from {libs} is loaded: {sorted(libgomp)}"
