"""Argument handling: dtype rules, axis errors and ``out=`` errors.

The helpers in :mod:`csoftmax._validation` are tested directly, then every public function
of every implementation is checked to raise the same exception types.
"""

import numpy as np
import pytest
from numpy.exceptions import AxisError

from csoftmax._validation import as_input, check_out, normalize_axis, reduced_shape

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FUNCS = ("softmax", "log_softmax", "logsumexp")
HAS_WIDE_LONGDOUBLE = np.dtype(np.longdouble).itemsize > 8

# Inputs that must be rejected, with a fragment the TypeError message must contain.
BAD_INPUTS = [
    pytest.param(np.array([1 + 2j]), "complex128", id="complex128"),
    pytest.param(np.array([1j], dtype=np.complex64), "complex64", id="complex64"),
    pytest.param(np.array([1.0, "a"], dtype=object), "object", id="object"),
    pytest.param(None, "object", id="None"),
    pytest.param([[1.0, 2.0], [3.0]], "ragged", id="ragged-list"),
    pytest.param(np.array(["1", "2"]), "<U1", id="str"),
    pytest.param(np.array([b"1"]), "S1", id="bytes"),
    pytest.param(np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64", id="datetime"),
    pytest.param(np.array([1], dtype="timedelta64[s]"), "timedelta64", id="timedelta"),
    pytest.param(np.zeros(2, dtype=[("a", "f8"), ("b", "f8")]), "('a'", id="structured"),
    pytest.param(np.zeros(2, dtype="V8"), "V8", id="void"),
]
if HAS_WIDE_LONGDOUBLE:
    BAD_INPUTS += [
        pytest.param(np.zeros(2, dtype=np.longdouble), "not supported", id="longdouble"),
        pytest.param(np.zeros(2, dtype=np.clongdouble), "complex", id="clongdouble"),
    ]


# ----------------------------------------------------------------------------- as_input


@pytest.mark.parametrize(
    "dtype, compute, result",
    [
        (np.float32, F32, F32),
        (np.float64, F64, F64),
        (np.float16, F32, F16),
        (np.int8, F64, F64),
        (np.int16, F64, F64),
        (np.int32, F64, F64),
        (np.int64, F64, F64),
        (np.uint8, F64, F64),
        (np.uint64, F64, F64),
        (np.bool_, F64, F64),
        (">f4", F32, F32),
        (">f8", F64, F64),
        (">f2", F32, F16),
        (">i4", F64, F64),
    ],
)
def test_as_input_dtype_rules(dtype, compute, result):
    x = np.array([[0, 1, 1], [1, 0, 1]], dtype=dtype)
    before = x.copy()
    arr, rdt = as_input(x)
    assert arr.dtype == compute and arr.dtype.isnative
    assert rdt == result and rdt.isnative
    np.testing.assert_array_equal(arr, x.astype(np.float64))
    np.testing.assert_array_equal(x, before)
    assert x.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_input_does_not_copy_when_not_needed(dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)[:, ::2]  # non-contiguous on purpose
    arr, _ = as_input(x)
    assert arr is x


@pytest.mark.parametrize("dtype", [np.float16, np.int32, ">f8"])
def test_as_input_copies_when_converting(dtype):
    x = np.arange(4, dtype=dtype)
    arr, _ = as_input(x)
    assert not np.may_share_memory(arr, x)


@pytest.mark.parametrize(
    "x, dtype",
    [(1.5, F64), (3, F64), (True, F64), ([1.0, 2.0], F64), ([[1, 2]], F64),
     (np.float32(2.0), F32), (np.float16(2.0), F16)],
)
def test_as_input_python_objects(x, dtype):
    arr, rdt = as_input(x)
    assert isinstance(arr, np.ndarray)
    assert rdt == dtype
    np.testing.assert_array_equal(arr, np.asarray(x, dtype=np.float64))


@pytest.mark.parametrize("x, fragment", BAD_INPUTS)
def test_as_input_rejects(x, fragment):
    with pytest.raises(TypeError) as info:
        as_input(x)
    assert fragment in str(info.value)


@pytest.mark.skipif(not HAS_WIDE_LONGDOUBLE, reason="longdouble is float64 here")
def test_as_input_longdouble_message_suggests_float64():
    with pytest.raises(TypeError, match="float64"):
        as_input(np.zeros(2, dtype=np.longdouble))


# ------------------------------------------------------------------------ normalize_axis


@pytest.mark.parametrize(
    "axis, ndim, expected",
    [(0, 1, 0), (-1, 1, 0), (2, 3, 2), (-3, 3, 0), (-1, 3, 2), (None, 2, None),
     (None, 0, None), (np.int64(1), 2, 1), (np.intp(-2), 2, 0), (np.uint8(0), 1, 0)],
)
def test_normalize_axis(axis, ndim, expected):
    result = normalize_axis(axis, ndim)
    assert result == expected
    assert result is None or type(result) is int


@pytest.mark.parametrize("axis, ndim", [(1, 1), (-2, 1), (3, 3), (-4, 3), (0, 0), (-1, 0)])
def test_normalize_axis_out_of_range(axis, ndim):
    with pytest.raises(AxisError, match="out of bounds"):
        normalize_axis(axis, ndim)


@pytest.mark.parametrize("axis", [True, False, np.bool_(True), 1.0, np.float64(0), (0,), [0],
                                  "0", 1j])
def test_normalize_axis_type_errors(axis):
    with pytest.raises(TypeError):
        normalize_axis(axis, 2)


# ---------------------------------------------------------------- check_out, reduced_shape


def test_check_out_accepts_any_layout():
    out = np.empty((4, 6))[:, ::2]
    assert check_out(out, (4, 3), F64) is out


def test_check_out_errors():
    out = np.empty((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="ndarray"):
        check_out([[0.0] * 3] * 2, (2, 3), F32)
    with pytest.raises(TypeError, match="float32.*float64"):
        check_out(out, (2, 3), F64)
    with pytest.raises(TypeError, match=">f4.*float32"):
        check_out(out.astype(">f4"), (2, 3), F32)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        check_out(out, (3, 2), F32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        check_out(out, (2, 3), F32)


@pytest.mark.parametrize(
    "shape, axis, keepdims, expected",
    [((2, 3, 4), 0, False, (3, 4)), ((2, 3, 4), 2, True, (2, 3, 1)),
     ((2, 3, 4), None, False, ()), ((2, 3, 4), None, True, (1, 1, 1)),
     ((), None, False, ()), ((), None, True, ()), ((5,), 0, False, ()), ((0, 3), 1, False, (0,))],
)
def test_reduced_shape(shape, axis, keepdims, expected):
    assert reduced_shape(shape, axis, keepdims) == expected


# ------------------------------------------------------------ public API, every impl


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("x, fragment", BAD_INPUTS)
def test_public_rejects_dtype(impl, func, x, fragment):
    with pytest.raises(TypeError) as info:
        getattr(impl, func)(x)
    assert fragment in str(info.value)


@pytest.mark.parametrize("func", FUNCS)
def test_public_axis_errors(impl, func):
    f = getattr(impl, func)
    x = np.zeros((2, 3))
    for axis in (2, -3, 2**63, -2**63 - 1, 10**30, np.int64(2), np.uint64(2**64 - 1)):
        with pytest.raises(AxisError):
            f(x, axis=axis)
    for axis in (True, 1.0, (0, 1.0), "1"):
        with pytest.raises(TypeError):
            f(x, axis=axis)
    with pytest.raises(ValueError, match="repeated axis"):
        f(x, axis=(1, -1))
    with pytest.raises(AxisError):
        f(np.float64(1.0), axis=1)  # 0-d input: a row of one (axis None, 0, -1 or a tuple)
    with pytest.raises(AxisError):
        f(np.zeros(()), axis=(0, 1))


@pytest.mark.parametrize("func", FUNCS)
def test_public_default_axis_is_last(impl, func):
    f = getattr(impl, func)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(x), f(x, axis=1))
    np.testing.assert_array_equal(f(x), f(x, axis=np.int64(-1)))


@pytest.mark.parametrize("func", FUNCS)
def test_public_keyword_only(impl, func):
    f = getattr(impl, func)
    x = np.zeros((2, 3))
    out = np.empty((2, 3)) if func != "logsumexp" else np.empty(2)
    with pytest.raises(TypeError):
        f(x, -1, out)


def _out_shape(func, shape):
    return shape[:-1] if func == "logsumexp" else shape


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize(
    "in_dtype, out_dtype",
    [(np.float32, np.float64), (np.float64, np.float32), (np.float16, np.float32),
     (np.int64, np.int64), (np.int32, np.float32), (np.float64, ">f8"), (np.float32, np.float16)],
)
def test_public_out_wrong_dtype(impl, func, in_dtype, out_dtype):
    x = np.zeros((2, 3), dtype=in_dtype)
    out = np.empty(_out_shape(func, x.shape), dtype=out_dtype)
    with pytest.raises(TypeError):
        getattr(impl, func)(x, out=out)


@pytest.mark.parametrize("func", FUNCS)
def test_public_out_errors(impl, func):
    f = getattr(impl, func)
    x = np.zeros((2, 3))
    good_shape = _out_shape(func, x.shape)
    with pytest.raises(TypeError):
        f(x, out=[0.0] * 6)
    with pytest.raises(TypeError):
        f(x, out=memoryview(np.empty(good_shape)))
    with pytest.raises(ValueError):
        f(x, out=np.empty((3, 2)))
    with pytest.raises(ValueError):
        f(x, out=np.empty(6))
    with pytest.raises(ValueError):
        f(x, out=np.empty(good_shape + (1,)))
    ro = np.empty(good_shape)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        f(x, out=ro)
    np.testing.assert_array_equal(x, 0.0)


def test_logsumexp_out_shape_follows_keepdims(impl):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError):
        impl.logsumexp(x, axis=1, keepdims=True, out=np.empty(2))
    with pytest.raises(ValueError):
        impl.logsumexp(x, axis=1, out=np.empty((2, 1)))
    with pytest.raises(ValueError):
        impl.logsumexp(x, axis=None, out=np.empty(1))
    out = np.empty((2, 1))
    assert impl.logsumexp(x, axis=1, keepdims=True, out=out) is out
    out0 = np.empty(())
    assert impl.logsumexp(x, axis=None, out=out0) is out0


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize(
    "in_dtype, out_dtype",
    [(np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float16),
     (np.int8, np.float64), (np.bool_, np.float64), (">f4", np.float32)],
)
def test_public_out_accepted(impl, func, in_dtype, out_dtype):
    x = np.ones((2, 3), dtype=in_dtype)
    out = np.full(_out_shape(func, x.shape), 7, dtype=out_dtype)
    assert getattr(impl, func)(x, out=out) is out
    np.testing.assert_array_equal(out, getattr(impl, func)(x))


@pytest.mark.parametrize("func", FUNCS)
def test_validation_happens_before_any_write(impl, func):
    # A bad axis must not leave a half-written out behind.
    x = np.ones((2, 3))
    out = np.full(_out_shape(func, x.shape), 7.0)
    with pytest.raises(AxisError):
        getattr(impl, func)(x, axis=5, out=out)
    np.testing.assert_array_equal(out, 7.0)
