# cython: language_level=3
"""The thin layer between csoftmax's Python API and the C kernels (src/csoftmax.h).

It validates arguments (sharing the argument modules ``_validation``, ``_fused_args``,
``_loss_args`` and ``_decoding_args`` with the reference), describes each call of the softmax
family once as a ``csm_call`` and hands it to ``csm_run``, whose planner
(src/dispatch/csm_planner.c) chooses the kernel; it releases the GIL around the kernel and never
does math.
The layouts it describes:

* rows: the reduced axis is contiguous and the other axes collapse into one strided axis
  (C order, offset views, ``x[::k]``, negative row strides): a uniform row stride;
* cols: a C-contiguous array reduced over a non-last axis (``ninner``): the column kernels
  vectorize across the contiguous trailing axis instead of transposing;
* the fused layer (_fused.pxi): per-row offsets where the rows do not collapse.

A Fortran-ordered array is the transpose of a C-ordered one, so it is handled on ``a.T``; any
other layout is copied to C order once.
"""
import numpy as np
cimport numpy as cnp
from cpython.long cimport PyLong_AsLongAndOverflow
from libc.string cimport memset

from ._validation import as_input, check_out, deliver, normalize_axis, reduced_shape

cnp.import_array()

cdef extern from "csoftmax.h" nogil:
    ctypedef enum csm_op:
        CSM_SOFTMAX
        CSM_LOG_SOFTMAX
        CSM_LOGSUMEXP
    ctypedef enum csm_dtype:
        CSM_FLOAT32
        CSM_FLOAT64
    ctypedef enum csm_storage:
        CSM_STORE_F32
        CSM_STORE_F64
        CSM_STORE_F16
        CSM_STORE_BF16
    ctypedef enum csm_kernel:
        CSM_KERNEL_ROWS
        CSM_KERNEL_COLS
        CSM_KERNEL_HALF
        CSM_KERNEL_FUSED
    ctypedef struct csm_call:
        csm_op op
        csm_dtype compute
        csm_storage xkind, okind
        Py_ssize_t nrows, n, ninner
        const char *x
        Py_ssize_t ldx
        const Py_ssize_t *xoff
        Py_ssize_t xstep
        char *out
        Py_ssize_t ldo
        const Py_ssize_t *ooff
        Py_ssize_t ostep
        const double *scale
        Py_ssize_t sstep
        const char *bias
        Py_ssize_t ldb
        const Py_ssize_t *boff
        Py_ssize_t bstep
        const unsigned char *where
        Py_ssize_t ldw
        const Py_ssize_t *woff
        Py_ssize_t wstep
    csm_kernel csm_plan(const csm_call *c)
    int csm_run(const csm_call *c, int nthreads)
    void csm_record_kernels(int on)
    csm_kernel csm_last_kernel()
    int csm_isa_count()
    const char *csm_isa_name(int i)
    const char *csm_isa_needs(int i)
    int csm_isa_supported(int i)
    int csm_get_isa()
    int csm_set_isa(int i)
    int csm_init_isa_from_env()
    int csm_openmp_available()
    int csm_omp_max_threads()
    int csm_get_num_threads()
    void csm_set_num_threads(int n)
    int csm_get_thread_override()
    void csm_set_thread_override(int n)
    int csm_thread_limit()
    void csm_init_threads()
    int csm_fp_status(int clear)


# ---------------------------------------------------------------------------------------------
# Instruction set and threads

def _isa_names():
    return tuple(csm_isa_name(i).decode() for i in range(csm_isa_count()))


def _fp_status(bint clear=False):
    """The calling thread's floating-point status flags as a set of names ("denormal",
    "underflow"), cleared afterwards if `clear`: how the tests show that no subnormal reaches or
    leaves the kernels (any x86-64 CPU sets them; only Intel also stalls on them)."""
    cdef int s = csm_fp_status(clear)
    return {name for bit, name in ((1, "denormal"), (2, "underflow")) if s & bit}


def _isa_cpu_features():
    """``{build: the CPU features its run-time check requires}``, read from the check's text
    (``CSM_CPU(avx2) && CSM_CPU(fma) && ...``; "1" for builds that run anywhere)."""
    found = {}
    for i, name in enumerate(_isa_names()):
        needs = csm_isa_needs(i).decode()
        found[name] = tuple(t.strip()[len("CSM_CPU("):].rstrip(")") for t in needs.split("&&")
                            if t.strip().startswith("CSM_CPU("))
    return found


def available_isas():
    """Instruction sets this CPU can run, best first, e.g. ``('avx512', 'avx2', 'baseline')`` on
    x86-64, ``('neon',)`` on aarch64."""
    return tuple(name for i, name in enumerate(_isa_names()) if csm_isa_supported(i))


def get_isa():
    """Name of the instruction set the kernels use now (``CSOFTMAX_ISA`` can force a lower one)."""
    return csm_isa_name(csm_get_isa()).decode()


def _set_isa(name):
    """Switch kernels (for tests and benchmarks). Not thread-safe against running calls."""
    names = _isa_names()
    if name not in names:
        raise ValueError(f"unknown instruction set {name!r}; expected one of {names}")
    if csm_set_isa(names.index(name)) != 0:
        raise ValueError(f"instruction set {name!r} is not supported by this CPU "
                         f"(available: {available_isas()})")


def _init_isa_from_env():
    """Apply CSOFTMAX_ISA; returns False when it names an unknown or unsupported set."""
    return csm_init_isa_from_env() == 0


_KERNEL_NAMES = ("rows", "cols", "half", "fused")


def _record_kernels(bint on):
    """Have the planner record its choices for _last_kernel (for the tests)."""
    csm_record_kernels(on)


def _last_kernel():
    """The kernel family the planner chose for this thread's last softmax / log_softmax /
    logsumexp call since _record_kernels(True): "rows", "cols", "half" or "fused"."""
    return _KERNEL_NAMES[<int>csm_last_kernel()]


# Below this many elements per thread, waking a second thread costs more than it saves.
cdef Py_ssize_t MIN_ELEMENTS_PER_THREAD = 1 << 16


def openmp_available():
    """True when the kernels were built with OpenMP (otherwise every call is single-threaded)."""
    return bool(csm_openmp_available())


def _omp_max_threads():
    return csm_omp_max_threads()


def _set_num_threads(int n):
    csm_set_num_threads(n)


def _set_thread_override(int n):
    csm_set_thread_override(n)


def _get_thread_override():
    return csm_get_thread_override()


def _thread_limit():
    return csm_thread_limit()


csm_init_threads()


cdef inline int _threads_for(Py_ssize_t size) noexcept:
    cdef Py_ssize_t t
    cdef int limit = csm_thread_limit()
    if limit <= 1:
        return 1
    t = size // MIN_ELEMENTS_PER_THREAD
    if t < 1:
        return 1
    return <int>(t if t < limit else limit)


# ---------------------------------------------------------------------------------------------
# Layout planning

cdef extern from "numpy/arrayobject.h":
    enum:
        NPY_HALF
        NPY_USERDEF

cdef object _bf16_descr = None   # ml_dtypes' bfloat16, once a call has shown it (never imported)


cdef inline bint _native_float(cnp.ndarray a) noexcept:
    cdef int tn = cnp.PyArray_TYPE(a)
    return (tn == cnp.NPY_FLOAT or tn == cnp.NPY_DOUBLE) and cnp.PyArray_ISNOTSWAPPED(a)


cdef inline csm_dtype _dt(cnp.ndarray a) noexcept:
    return CSM_FLOAT32 if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT else CSM_FLOAT64


cdef int _half_kind(cnp.ndarray a):
    """CSM_STORE_F16 or CSM_STORE_BF16 for a native half array, else -1, by type number (comparing
    the dtype with np.float32 and the like cost ~0.4 us each for bfloat16)."""
    global _bf16_descr
    cdef int t = cnp.PyArray_TYPE(a)
    if t == NPY_HALF:
        return CSM_STORE_F16 if a.dtype.isnative else -1
    if t < NPY_USERDEF:
        return -1
    d = a.dtype
    if d is _bf16_descr:
        return CSM_STORE_BF16
    if d.itemsize == 2 and d.name == "bfloat16" and d.isnative:
        _bf16_descr = d
        return CSM_STORE_BF16
    return -1


cdef inline int _kind(cnp.ndarray a):
    """The kernels' storage code of a native float32 / float64 / float16 / bfloat16 array, else
    -1."""
    if _native_float(a):
        return CSM_STORE_F32 if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT else CSM_STORE_F64
    return _half_kind(a)


cdef inline void _rows_call(csm_call *c, csm_op op, int kind, const char *x, char *out,
                            Py_ssize_t nrows, Py_ssize_t n, Py_ssize_t ldx,
                            Py_ssize_t ldo) noexcept nogil:
    """Describes rows of n with uniform strides (bytes), x and out stored as `kind`, nothing
    fused; half kinds are computed in float32."""
    cdef Py_ssize_t item = 8 if kind == CSM_STORE_F64 else (4 if kind == CSM_STORE_F32 else 2)
    c.op = op
    c.compute = CSM_FLOAT64 if kind == CSM_STORE_F64 else CSM_FLOAT32
    c.xkind = c.okind = <csm_storage>kind
    c.nrows, c.n, c.ninner, c.x, c.ldx, c.xoff, c.xstep = nrows, n, 0, x, ldx, NULL, item
    c.out, c.ldo, c.ooff = out, ldo, NULL
    c.scale, c.sstep, c.bias, c.ldb, c.boff, c.bstep = NULL, 0, NULL, 0, NULL, 0
    c.where, c.ldw, c.woff, c.wstep = NULL, 0, NULL, 0
    c.ostep = item


cdef bint _rows_layout(cnp.ndarray v, int k, Py_ssize_t *nrows, Py_ssize_t *ld):
    """True when axis k is last, unit-stride (or of length <= 1), and the other axes collapse
    into one axis of uniform stride; sets the row count and the row stride in elements."""
    cdef int nd = cnp.PyArray_NDIM(v), i
    cdef cnp.npy_intp *shape = cnp.PyArray_DIMS(v)
    cdef cnp.npy_intp *strides = cnp.PyArray_STRIDES(v)
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(v), rows = 1, ld_bytes, expected = 0
    cdef bint first = True
    if k != nd - 1 or not cnp.PyArray_ISALIGNED(v):
        return False
    if shape[k] > 1 and strides[k] != item:
        return False
    ld_bytes = shape[k] * item
    for i in range(nd - 2, -1, -1):
        if shape[i] == 1:
            continue
        if first:
            ld_bytes = strides[i]
            first = False
        elif strides[i] != expected:
            return False
        expected = strides[i] * shape[i]
        rows *= shape[i]
    if ld_bytes % item:
        return False
    nrows[0] = rows
    ld[0] = ld_bytes // item
    return True


cdef cnp.ndarray _c_aligned(object a):
    """`a` as an aligned C-contiguous array, the only kind the kernels read: `a` itself when it
    is one, else a copy (np.ascontiguousarray returns an unaligned C-contiguous view as it is,
    and a misaligned element pointer is undefined behaviour in C)."""
    cdef cnp.ndarray arr = np.asarray(a)
    if cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr):
        return arr
    return np.array(arr, order="C", copy=True)


cdef inline Py_ssize_t _prod(cnp.npy_intp *shape, int start, int stop) noexcept:
    cdef Py_ssize_t p = 1
    cdef int i
    for i in range(start, stop):
        p *= shape[i]
    return p


include "_output_cache.pxi"


cdef cnp.ndarray _empty_like_c(cnp.ndarray v):
    return _new_array(cnp.PyArray_NDIM(v), cnp.PyArray_DIMS(v), cnp.PyArray_TYPE(v))


cdef bint _same_view(cnp.ndarray a, cnp.ndarray b):
    """a and b are the same elements in the same order (in-place operation)."""
    cdef int i
    if cnp.PyArray_DATA(a) != cnp.PyArray_DATA(b) or cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[i] != cnp.PyArray_DIMS(b)[i]:
            return False
        if cnp.PyArray_DIMS(a)[i] > 1 and cnp.PyArray_STRIDES(a)[i] != cnp.PyArray_STRIDES(b)[i]:
            return False
    return True


cdef cnp.ndarray _run_kernel(csm_op op, cnp.ndarray a, int ax, cnp.ndarray dst):
    """`op` of native-float `a` along `ax`, described to the planner (csm_run) as rows or as the
    column layout. softmax / log_softmax write into `dst` when its layout allows it (dst is None,
    `a` itself, or does not overlap `a`), else into a new array of `a`'s shape; logsumexp returns
    a new array of the reduced shape (`dst` unused). Returns the array holding the result."""
    cdef int nd = cnp.PyArray_NDIM(a), k = ax, nt
    cdef bint transposed = False, reduce = op == CSM_LOGSUMEXP, rows
    cdef cnp.ndarray v = a, w = None
    cdef Py_ssize_t nrows, ldx, ldo, n, item
    cdef char *xp
    cdef char *op_
    cdef csm_dtype dt = _dt(a)
    cdef csm_call c
    if cnp.PyArray_SIZE(a) == 0 and not reduce:
        return dst if dst is not None else _empty_like_c(a)
    if nd > 1 and not cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_IS_F_CONTIGUOUS(a):
        v, k, transposed = a.T, nd - 1 - ax, True   # a Fortran array is a transposed C one
    rows = _rows_layout(v, k, &nrows, &ldx)
    if not rows and not (cnp.PyArray_IS_C_CONTIGUOUS(v) and cnp.PyArray_ISALIGNED(v)):
        v = _c_aligned(v)
        rows = _rows_layout(v, k, &nrows, &ldx)
    n = cnp.PyArray_DIMS(v)[k]
    if reduce:
        w = np.empty(tuple(d for i, d in enumerate((<object>v).shape) if i != k), dtype=v.dtype)
        if cnp.PyArray_SIZE(w) == 0:
            return w.T if transposed else w
        ldo = 1
    elif dst is not None:
        w = dst.T if transposed else dst
        if rows:
            if not _rows_layout(w, k, &nrows, &ldo) or (ldo < n and nrows > 1):
                w = None
        elif not (cnp.PyArray_IS_C_CONTIGUOUS(w) and cnp.PyArray_ISALIGNED(w)):
            w = None
    if w is None:
        w = _empty_like_c(v)
        ldo = n
    nt = _threads_for(cnp.PyArray_SIZE(v))
    item = cnp.PyArray_ITEMSIZE(v)
    xp, op_ = <char *>cnp.PyArray_DATA(v), <char *>cnp.PyArray_DATA(w)
    if rows:
        _rows_call(&c, op, <int>dt, xp, op_, nrows, n, ldx * item, ldo * item)
    else:
        _rows_call(&c, op, <int>dt, xp, op_, _prod(cnp.PyArray_DIMS(v), 0, k), n, 0, 0)
        c.ninner = _prod(cnp.PyArray_DIMS(v), k + 1, nd)
    with nogil:
        csm_run(&c, nt)
    return w.T if transposed else w


# ---------------------------------------------------------------------------------------------
# Argument handling shared by the public functions

cdef inline bint _is_last_axis(object axis, int nd) noexcept:
    """axis is a Python int naming the last of nd axes (a huge int is simply not)."""
    cdef int overflow
    cdef long v
    if type(axis) is not int:
        return False
    v = PyLong_AsLongAndOverflow(axis, &overflow)
    return overflow == 0 and (v == -1 or v == nd - 1)


cdef inline int _axis_index(object axis, int nd) except -1:
    cdef int overflow
    cdef long v
    if type(axis) is int:
        v = PyLong_AsLongAndOverflow(axis, &overflow)
        if overflow == 0 and -nd <= v < nd:
            return <int>(v + nd if v < 0 else v)
    return normalize_axis(axis, nd)   # the error for anything else


cdef tuple _input(object x):
    """(array in compute dtype, result dtype or None when it is the array's own)."""
    if type(x) is cnp.ndarray and _native_float(<cnp.ndarray>x):
        return x, None
    a, result_dtype = as_input(x)
    return a, (None if result_dtype == a.dtype else result_dtype)


cdef tuple _prologue(object x, object axis):
    """(array in compute dtype, result dtype or None, input shape, axis index); with
    axis=None the array is flattened: the whole array is one row."""
    a, result_dtype = _input(x)
    shape = a.shape
    if axis is None:
        return a.reshape(-1), result_dtype, shape, 0
    return a, result_dtype, shape, _axis_index(axis, a.ndim)


cdef bint _direct_out(cnp.ndarray a, object out):
    """`out` can take the result of C-contiguous `a` as is: same type, shape and layout,
    writeable, and either `a` itself or not overlapping it."""
    cdef cnp.ndarray o
    cdef char *pa
    cdef char *po
    cdef Py_ssize_t nbytes
    cdef int i
    if type(out) is not cnp.ndarray:
        return False
    o = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(o) != cnp.PyArray_TYPE(a) or not cnp.PyArray_ISNOTSWAPPED(o)
            or cnp.PyArray_NDIM(o) != cnp.PyArray_NDIM(a) or not cnp.PyArray_IS_C_CONTIGUOUS(o)
            or not cnp.PyArray_ISALIGNED(o) or not cnp.PyArray_ISWRITEABLE(o)):
        return False
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(o)[i] != cnp.PyArray_DIMS(a)[i]:
            return False
    pa, po = <char *>cnp.PyArray_DATA(a), <char *>cnp.PyArray_DATA(o)
    nbytes = cnp.PyArray_NBYTES(a)
    return pa == po or po + nbytes <= pa or pa + nbytes <= po


cdef inline bint _is_dask(object x):
    """A Dask array, known by its type's module: dask is imported only when x is one."""
    return type(x).__module__.startswith("dask.array")


# The package (csoftmax/__init__.py) hands in how to reach csoftmax.dask, which builds on the
# package: _core imports nothing above itself.
cdef object _dask_module = None


def _route_dask_to(module_loader):
    """Dask arrays go to ``module_loader()``'s functions of the same names (csoftmax.dask)."""
    global _dask_module
    _dask_module = module_loader


cdef object _dask_call(str name, object out, tuple args, dict kwargs):
    """csoftmax.dask's lazy result for a Dask array; out= cannot take a lazy result."""
    if out is not None:
        raise TypeError("csoftmax: out= is not supported for a Dask array (the result is lazy)")
    return getattr(_dask_module(), name)(*args, **kwargs)


include "_stats.pxi"


cdef inline object _fast(csm_op op, object x, object axis, bint keepdims, object out):
    """The common call with as little Python as possible: a C-contiguous float32 / float64 /
    float16 / bfloat16 array over its last axis, nothing fused; softmax / log_softmax may write to
    `out` (or in place), logsumexp takes no out= or keepdims. Described to the planner (csm_run),
    which chooses the kernel; None when the call is not this one."""
    cdef cnp.ndarray a, r
    cdef cnp.npy_intp *dims
    cdef int nd, kind, nt, rc = 0
    cdef Py_ssize_t n, nrows, item
    cdef bint reduce = op == CSM_LOGSUMEXP
    cdef csm_call c
    if type(x) is not cnp.ndarray or (reduce and (keepdims or out is not None)):
        return None
    a = <cnp.ndarray>x
    nd = cnp.PyArray_NDIM(a)
    if (nd < 1 or not _is_last_axis(axis, nd) or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISALIGNED(a)):
        return None
    kind = _kind(a)
    if kind < 0 or (out is not None and not _direct_out(a, out)):
        return None
    dims = cnp.PyArray_DIMS(a)
    n = dims[nd - 1]
    if reduce:
        r = _new_array(nd - 1, dims, cnp.PyArray_TYPE(a))
    else:
        r = _new_array(nd, dims, cnp.PyArray_TYPE(a)) if out is None else out
        if n == 0:
            return r
    item = cnp.PyArray_ITEMSIZE(a)
    nrows = _prod(dims, 0, nd - 1)
    _rows_call(&c, op, kind, <char *>cnp.PyArray_DATA(a), <char *>cnp.PyArray_DATA(r), nrows, n,
               n * item, item if reduce else n * item)
    nt = _threads_for(cnp.PyArray_SIZE(a))
    with nogil:
        rc = csm_run(&c, nt)
    if rc != 0:
        raise MemoryError("csoftmax: out of memory for the kernel's row buffers")
    return r[()] if reduce and nd == 1 else r


cdef object _run_softmax_like(csm_op op, object x, object axis, object out):
    cdef cnp.ndarray a, r, dst = None
    cdef int ax
    r = _fast(op, x, axis, False, out)
    if r is not None:
        return r
    if _is_dask(x):
        return _dask_call("softmax" if op == CSM_SOFTMAX else "log_softmax", out, (x, axis), {})
    a, result_dtype, shape, ax = _prologue(x, axis)
    if out is not None:
        check_out(out, shape, result_dtype if result_dtype is not None else a.dtype)
        if result_dtype is None and axis is not None and (
                _same_view(a, out) or not np.may_share_memory(a, out)):
            dst = out
    r = _run_kernel(op, a, ax, dst)
    if axis is None:
        r = r.reshape(shape)
    if out is None:
        return r if result_dtype is None else deliver(r, result_dtype)
    return deliver(r, out.dtype, out)


cdef object _run_logsumexp(object x, object axis, bint keepdims, object out):
    cdef cnp.ndarray a
    cdef int ax
    r = _fast(CSM_LOGSUMEXP, x, axis, keepdims, out)
    if r is not None:
        return r
    if _is_dask(x):
        return _dask_call("logsumexp", out, (x, axis), {"keepdims": keepdims})
    a, result_dtype, shape, ax = _prologue(x, axis)
    rshape = reduced_shape(shape, None if axis is None else ax, keepdims)
    if out is not None:
        check_out(out, rshape, result_dtype if result_dtype is not None else a.dtype)
    r = _run_kernel(CSM_LOGSUMEXP, a, ax, None)
    if keepdims or axis is None:
        r = r.reshape(rshape)
    if out is not None:
        return deliver(r, out.dtype, out)
    if result_dtype is not None:
        r = deliver(r, result_dtype)
    return r[()] if cnp.PyArray_NDIM(r) == 0 else r


# ---------------------------------------------------------------------------------------------
# Public functions (re-exported by csoftmax/__init__.py)

def softmax(x, axis=-1, *, scale=None, bias=None, where=None, dtype=None, out=None):
    """Softmax along an axis: ``exp(x) / sum(exp(x), axis)``, computed stably.

    Parameters
    ----------
    x : array_like
        Logits. float32 and float64 keep their dtype; float16 and bfloat16 (ml_dtypes) are
        read and written as they are and computed in float32; integers and bools give float64.
        A 0-d input gives a NumPy scalar; a ``numpy.ma.MaskedArray`` is read as
        ``where=~mask`` and gives a masked array.
    axis : int, tuple of ints or None, default -1
        The axis (or axes, reduced together) to normalize over; None: the whole array.
    scale : float or array_like, optional
        The function is applied to ``z = x * scale + bias``, formed in the compute precision
        inside the kernel. A finite scalar or an array broadcastable to the reduced shape with
        keepdims (one scale per row, e.g. 1 / temperature).
    bias : array_like, optional
        Added to ``x * scale``; broadcastable to `x` (e.g. a (q, k) causal mask of 0 and -inf
        over (batch, heads, q, k)); read through its own strides, never expanded.
    where : array_like of bool, optional
        Broadcastable to `x`. Entries where it is False are excluded: they give exactly 0, and
        whatever they hold (NaN, inf) has no effect. A row with none selected gives 0.
    dtype : float32 or float64, optional
        Compute and result dtype, as if `x` were converted first (PyTorch's meaning).
    out : ndarray, optional
        Where to write the result: exactly the result's shape and dtype, writeable. May be `x`
        itself (in place).

    Returns
    -------
    ndarray
        Non-negative values summing to 1 along `axis`.

    Notes
    -----
    A row containing NaN or +inf, or made only of -inf, gives NaN for the whole row; -inf entries
    give exactly 0. Finite logits never overflow (the max is subtracted in the exponent domain).
    Only `where` makes a row with nothing in it give 0 instead of NaN.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    >>> csoftmax.softmax(np.array([[1e4, 0.0, -np.inf]], dtype=np.float32))
    array([[1., 0., 0.]], dtype=float32)
    >>> scores = np.log(np.array([[1.0, 3.0], [1.0, 3.0]]))
    >>> causal = np.array([[0.0, -np.inf], [0.0, 0.0]])
    >>> csoftmax.softmax(scores, scale=1.0, bias=causal)
    array([[1.  , 0.  ],
           [0.25, 0.75]])
    >>> csoftmax.softmax(scores, where=np.array([[True, True], [False, False]]))
    array([[0.25, 0.75],
           [0.  , 0.  ]])
    """
    if scale is None and bias is None and where is None and dtype is None and _plain(x, axis):
        return _run_softmax_like(CSM_SOFTMAX, x, axis, out)
    return _run_fused(CSM_SOFTMAX, x, axis, False, scale, bias, where, dtype, out)


def log_softmax(x, axis=-1, *, scale=None, bias=None, where=None, dtype=None, out=None):
    """Log of the softmax along an axis: ``x - logsumexp(x, axis)``, computed stably.

    Computed as ``(x - max) - log(sum(exp(x - max)))`` so entries near the max keep their
    relative accuracy. Parameters (`scale`, `bias`, `where`, `dtype`, tuple axes), dtypes and
    special values as :func:`softmax`; -inf entries, excluded entries and rows with none
    selected give -inf.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.log_softmax(np.array([0.0, np.log(3.0)]))
    array([-1.38629436, -0.28768207])
    >>> float(csoftmax.log_softmax(np.array([0.0, -40.0]))[0])
    -4.248354255291589e-18
    >>> csoftmax.log_softmax(np.array([0.0, 0.0, np.nan]), where=np.array([True, True, False]))
    array([-0.69314718, -0.69314718,        -inf])
    """
    if scale is None and bias is None and where is None and dtype is None and _plain(x, axis):
        return _run_softmax_like(CSM_LOG_SOFTMAX, x, axis, out)
    return _run_fused(CSM_LOG_SOFTMAX, x, axis, False, scale, bias, where, dtype, out)


def logsumexp(x, axis=-1, *, keepdims=False, scale=None, bias=None, where=None, dtype=None,
              out=None):
    """``log(sum(exp(x), axis))``, computed stably.

    Parameters
    ----------
    x : array_like
        Values; dtype rules as :func:`softmax`.
    axis : int, tuple of ints or None, default -1
        The axis (axes) to reduce; None reduces the whole array to a scalar.
    keepdims : bool, default False
        Keep the reduced axis with length 1.
    scale, bias, where, dtype
        As for :func:`softmax`: the sum is of ``exp(x * scale + bias)`` over the entries
        `where` selects; a row with none selected gives -inf.
    out : ndarray, optional
        Exactly the result's shape and dtype, writeable.

    Returns
    -------
    ndarray or scalar
        A NumPy scalar when the result is 0-d and `out` is not given.

    Notes
    -----
    Relative accuracy is kept near 0: ``max + log(count_of_max) + log1p(rest)``. A row with NaN
    gives NaN; a row with +inf gives +inf; an empty or all -inf row gives -inf.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> float(csoftmax.logsumexp(np.array([0.0, -40.0])))
    4.248354255291589e-18
    >>> csoftmax.logsumexp(np.array([[1e308, 1e308], [0.0, -np.inf]]))
    array([1.e+308, 0.e+000])
    >>> csoftmax.logsumexp(np.zeros((2, 3)), axis=(0, 1), scale=2.0, bias=np.log(2.0))
    np.float64(2.4849066497880004)
    """
    if scale is None and bias is None and where is None and dtype is None and _plain(x, axis):
        return _run_logsumexp(x, axis, keepdims, out)
    return _run_fused(CSM_LOGSUMEXP, x, axis, keepdims, scale, bias, where, dtype, out)


include "_fused.pxi"
include "_training.pxi"
include "_decoding.pxi"
