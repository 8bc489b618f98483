# The fused softmax family (included by _core.pyx): scale=, bias=, where=, dtype=, tuple axes,
# 0-d, masked and half-precision inputs. The arguments are checked by _fused_args (shared with
# the reference); here the call is described to the planner (csm_run, src/csoftmax.h), every
# operand by a uniform row stride or per-row byte offsets, and an element step, computed from its
# strides, so that no operand is converted or expanded to x's size: broadcast axes keep their 0
# strides. A single reduced axis stays where it is; several (a tuple) are moved last and
# collapsed into one first.

from libc.math cimport isfinite, fabs
from libc.float cimport FLT_MAX

from ._fused_args import finish, fused_inputs, reduced_shape_axes
from ._validation import is_half

cdef object _F32 = np.dtype(np.float32), _F64 = np.dtype(np.float64)

_OP_NAMES = ("softmax", "log_softmax", "logsumexp")


cdef int _storage(object dtype):
    """The kernels' storage code of a native dtype, or -1 when they cannot read it."""
    if not dtype.isnative:
        return -1
    if dtype == np.float32:
        return CSM_STORE_F32
    if dtype == np.float64:
        return CSM_STORE_F64
    if dtype == np.float16:
        return CSM_STORE_F16
    if is_half(dtype):
        return CSM_STORE_BF16
    return -1


cdef bint _plain(object x, object axis):
    """True when the call needs none of this file's argument handling (half storage, tuple axes,
    masked arrays, Python scalars): _run_softmax_like / _run_logsumexp take it. Which kernel
    serves a call is the planner's choice either way."""
    if isinstance(axis, tuple):
        return False
    cdef int t
    if type(x) is cnp.ndarray:
        # by type number: float16, or a user type that may be bfloat16 (dtype.name is slow)
        t = cnp.PyArray_TYPE(<cnp.ndarray>x)
        return (cnp.PyArray_NDIM(<cnp.ndarray>x) > 0 and t != NPY_HALF
                and (t < NPY_USERDEF or (x.dtype is not _bf16_descr and not is_half(x.dtype))))
    if isinstance(x, np.generic):
        return np.ndim(x) > 0 and not is_half(x.dtype)
    if isinstance(x, np.ma.MaskedArray) or isinstance(x, (int, float)):
        return False
    return True


cdef object _offsets(list dims, list strides, Py_ssize_t *ld):
    """How rows in C order over `dims` with byte `strides` lie: None, with their uniform stride in
    *ld, when the dims collapse into one stride (C order, a broadcast suffix), else each row's byte
    offset from the first, an outer sum a dim at a time (e.g. a (q, k) mask over (batch, heads,
    q, k): strides 0, 0, 4k)."""
    cdef int i
    kept = [(d, st) for d, st in zip(dims, strides) if d != 1]
    for i in range(len(kept) - 1):
        if kept[i][1] != kept[i + 1][1] * kept[i + 1][0]:
            break
    else:
        ld[0] = kept[len(kept) - 1][1] if kept else 0
        return None
    off = np.zeros(1, dtype=np.intp)
    for d, st in kept:
        off = (off[:, None] + np.arange(d, dtype=np.intp) * st).reshape(-1)
    return off


cdef list _broadcast_strides(object b, tuple shape):
    """The strides of `b` broadcast to `shape` (already checked to broadcast), without a view."""
    cdef int nd = len(shape), bnd = b.ndim, i
    st = [0] * nd
    for i in range(bnd):
        if b.shape[i] != 1:
            st[nd - bnd + i] = b.strides[i]
    return st


cdef inline const Py_ssize_t *_ptr(object a):
    """An offset array's data, NULL for None (a uniform stride)."""
    if a is None:
        return NULL
    return <const Py_ssize_t *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef int _simple_operand(object v, cnp.ndarray a, int typenum, Py_ssize_t *ld):
    """0, with *ld its row stride in bytes, when bias / where `v` lies over C-contiguous `a` in
    one of the two forms a call like ``softmax(x, bias=b)`` has: one row for every row of `a`
    (shape (n,), (1, n), ...: ld 0) or `a`'s own shape; C-contiguous, aligned, native, of type
    `typenum`. -1 otherwise (the general path then checks, converts and broadcasts it)."""
    cdef cnp.ndarray b
    cdef int i, nd = cnp.PyArray_NDIM(a), bnd
    cdef bint one_row = True
    if type(v) is not cnp.ndarray:
        return -1
    b = <cnp.ndarray>v
    bnd = cnp.PyArray_NDIM(b)
    if (cnp.PyArray_TYPE(b) != typenum or not cnp.PyArray_ISNOTSWAPPED(b)
            or not cnp.PyArray_IS_C_CONTIGUOUS(b) or not cnp.PyArray_ISALIGNED(b)
            or bnd < 1 or bnd > nd or cnp.PyArray_DIMS(b)[bnd - 1] != cnp.PyArray_DIMS(a)[nd - 1]):
        return -1
    for i in range(bnd - 1):
        one_row = one_row and cnp.PyArray_DIMS(b)[i] == 1
    if one_row:
        ld[0] = 0
        return 0
    if bnd != nd:
        return -1
    for i in range(nd - 1):
        if cnp.PyArray_DIMS(b)[i] != cnp.PyArray_DIMS(a)[i]:
            return -1
    ld[0] = cnp.PyArray_DIMS(a)[nd - 1] * cnp.PyArray_ITEMSIZE(b)
    return 0


cdef object _fast_fused(csm_op op, object x, object axis, object scale, object bias, object where,
                        object dtype, object out):
    """The common fused call without fused_inputs' Python: C-contiguous x over its last axis, a
    float scale, bias / where in a _simple_operand form, dtype float32 / float64 or None, out
    only when nothing else could overlap it. Described to the planner as _run_fused would; None
    when the call is not this one (the general path then takes it, and raises its errors)."""
    cdef cnp.ndarray a, r, b = None, w = None
    cdef cnp.npy_intp *dims
    cdef int nd, kind, okind, otype, nt, rc
    cdef csm_dtype compute
    cdef Py_ssize_t n, nrows, xitem, oitem, ldb = 0, ldw = 0
    cdef double sv = 1.0
    cdef bint reduce = op == CSM_LOGSUMEXP
    cdef csm_call c
    if type(x) is not cnp.ndarray:
        return None
    a = <cnp.ndarray>x
    nd = cnp.PyArray_NDIM(a)
    if (nd < 1 or not _is_last_axis(axis, nd) or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISALIGNED(a)):
        return None
    kind = _kind(a)
    if kind < 0:
        return None
    if dtype is None:
        compute = CSM_FLOAT64 if kind == CSM_STORE_F64 else CSM_FLOAT32
        okind, otype = kind, cnp.PyArray_TYPE(a)
    elif dtype is np.float32 or dtype is _F32:
        compute, okind, otype = CSM_FLOAT32, CSM_STORE_F32, cnp.NPY_FLOAT
    elif dtype is np.float64 or dtype is _F64:
        compute, okind, otype = CSM_FLOAT64, CSM_STORE_F64, cnp.NPY_DOUBLE
    else:
        return None
    if scale is not None:
        if isinstance(scale, float) or type(scale) is np.float32:
            sv = scale
        else:
            return None
        if compute == CSM_FLOAT32:
            if not fabs(sv) < FLT_MAX:
                return None
            sv = <double><float>sv   # as fused_inputs' astype(compute)
        if not isfinite(sv):
            return None
    if bias is not None:
        if _simple_operand(bias, a, cnp.NPY_DOUBLE if compute == CSM_FLOAT64 else cnp.NPY_FLOAT,
                           &ldb) < 0:
            return None
        b = <cnp.ndarray>bias
    if where is not None:
        if _simple_operand(where, a, cnp.NPY_BOOL, &ldw) < 0:
            return None
        w = <cnp.ndarray>where
    dims = cnp.PyArray_DIMS(a)
    n = dims[nd - 1]
    nrows = _prod(dims, 0, nd - 1)
    if n == 0 or nrows == 0:
        return None
    if out is not None:
        # out written directly only where no operand can overlap it
        if reduce or okind != kind or b is not None or w is not None or not _direct_out(a, out):
            return None
        r = <cnp.ndarray>out
    else:
        r = _new_array(nd - 1 if reduce else nd, dims, otype)
    xitem, oitem = cnp.PyArray_ITEMSIZE(a), cnp.PyArray_ITEMSIZE(r)
    memset(&c, 0, sizeof(csm_call))
    c.op, c.compute, c.xkind, c.okind = op, compute, <csm_storage>kind, <csm_storage>okind
    c.nrows, c.n = nrows, n
    c.x, c.ldx, c.xstep = <const char *>cnp.PyArray_DATA(a), n * xitem, xitem
    c.out, c.ldo = <char *>cnp.PyArray_DATA(r), oitem if reduce else n * oitem
    c.ostep = 0 if reduce else oitem
    if scale is not None:
        c.scale = &sv
    if b is not None:
        c.bias, c.ldb, c.bstep = <const char *>cnp.PyArray_DATA(b), ldb, cnp.PyArray_ITEMSIZE(b)
    if w is not None:
        c.where, c.ldw, c.wstep = <const unsigned char *>cnp.PyArray_DATA(w), ldw, 1
    nt = _threads_for(nrows * n)
    with nogil:
        rc = csm_run(&c, nt)
    if rc != 0:
        raise MemoryError("csoftmax: out of memory for the fused kernel's row blocks")
    return r[()] if reduce and nd == 1 else r


cdef object _run_fused(csm_op op, object x, object axis, bint keepdims, object scale, object bias,
                       object where, object dtype, object out):
    cdef csm_call args
    cdef int kind, rc, nt
    if not keepdims:
        r = _fast_fused(op, x, axis, scale, bias, where, dtype, out)
        if r is not None:
            return r
    if ((type(x) is not cnp.ndarray and _is_dask(x)) or (scale is not None and _is_dask(scale))
            or (bias is not None and _is_dask(bias)) or (where is not None and _is_dask(where))):
        # csoftmax.dask takes the plain calls only; computing the graph here would be silent
        raise TypeError(f"csoftmax.{_OP_NAMES[<int>op]}: scale=, bias=, where= and dtype= are not "
                        f"supported with Dask arrays (csoftmax.dask handles the plain call); "
                        f"compute the array first, or form x * scale + bias with dask.array")
    if scale is None and bias is None and where is None and dtype is None:
        r = _fast(op, x, axis, keepdims, out)   # float16 / bfloat16 with nothing else
        if r is not None:
            return r
    name = _OP_NAMES[<int>op]
    f = fused_inputs(x, axis, scale, bias, where, dtype, name, keepdims, out)
    a = f.x
    kind = _storage(a.dtype)
    if kind < 0:
        a = a.astype(f.compute)
        kind = _storage(a.dtype)
    if not a.flags.aligned:
        a = np.array(a, copy=True)
    b, w = f.bias, f.where
    if b is not None and not b.flags.aligned:
        b = np.array(b, copy=True)
    reduce = op == CSM_LOGSUMEXP
    axes, shape, moved = f.axes, a.shape, None
    if len(axes) != 1:
        # several (or no) reduced axes: moved last and collapsed into one, on every operand
        # (a copy only where they do not collapse), the result moved back at the end
        lead_axes = tuple(i for i in range(a.ndim) if i not in axes)
        moved = lead_axes + axes
        n = 1
        for i in axes:
            n *= shape[i]
        shape2 = tuple(shape[i] for i in lead_axes) + (n,)
        a = a.transpose(moved).reshape(shape2)
        if b is not None:
            b = np.broadcast_to(b, shape).transpose(moved).reshape(shape2)
        if w is not None:
            w = np.broadcast_to(w, shape).transpose(moved).reshape(shape2)
        axes, shape = (len(shape2) - 1,), shape2
    k = axes[0]
    n = shape[k]
    lead = [shape[i] for i in range(len(shape)) if i != k]
    nrows = 1
    for d in lead:
        nrows *= d
    if nrows == 0 or n == 0:
        r = (np.full(f.shape, -np.inf, dtype=f.result) if reduce
             else np.empty(f.x.shape, dtype=f.result))
        if out is not None:
            r = deliver(r.reshape(out.shape), out.dtype, out)
        elif r.ndim == 0:
            r = r[()]
        return finish(r, f, name, out)
    # where the kernels write: `out` itself when they can, else a new array
    direct = (out is not None and not reduce and moved is None and out.ndim == a.ndim
              and out.flags.aligned
              and (not np.may_share_memory(out, a) or _same_view(a, out))
              and not (b is not None and np.may_share_memory(out, b))
              and not (w is not None and np.may_share_memory(out, w)))
    dst = out if direct else np.empty(tuple(lead) if reduce else shape, dtype=f.result)
    xs = list(a.strides)
    xl = xs[:k] + xs[k + 1:]
    bs = _broadcast_strides(b, shape) if b is not None else None
    ws = _broadcast_strides(w, shape) if w is not None else None
    bl = bs[:k] + bs[k + 1:] if bs is not None else None
    wl = ws[:k] + ws[k + 1:] if ws is not None else None
    # Rows go in C order over the other axes. (Ordering them so that the rows sharing a bias
    # row come together -- every head's row i, then row i + 1 -- keeps the bias in L1 but reads x
    # 1 MB apart: (2, 16, 512, 512) with a (512, 512) bias went from 1.5x to 1.9x plain softmax.)
    memset(&args, 0, sizeof(csm_call))
    args.op, args.compute = op, CSM_FLOAT32 if f.compute == np.float32 else CSM_FLOAT64
    xoff = _offsets(lead, xl, &args.ldx)
    ds = list(dst.strides)
    if reduce:
        ooff, ostep = _offsets(lead, ds, &args.ldo), 0
    else:
        dl = ds[:k] + ds[k + 1:]
        ooff, ostep = _offsets(lead, dl, &args.ldo), ds[k]
    args.x = <const char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    args.xoff, args.xstep, args.xkind = _ptr(xoff), xs[k], <csm_storage>kind
    args.out = <char *>cnp.PyArray_DATA(<cnp.ndarray>dst)
    args.ooff, args.ostep, args.okind = _ptr(ooff), ostep, <csm_storage>_storage(f.result)
    args.nrows, args.n = nrows, n
    if f.scale is not None:
        if f.scale.ndim == 0:
            sv = np.full(1, f.scale, dtype=np.float64)
        else:   # one per row, in the rows' order
            sv = np.broadcast_to(f.scale, reduced_shape_axes(f.x.shape, f.axes, True))
            if moved is not None:
                sv = sv.transpose(moved)
            sv = sv.reshape(tuple(lead))
            sv = np.ascontiguousarray(sv, dtype=np.float64).reshape(-1)
        args.scale, args.sstep = <const double *>cnp.PyArray_DATA(<cnp.ndarray>sv), sv.size > 1
    if b is not None:
        boff = _offsets(lead, bl, &args.ldb)
        args.bias = <const char *>cnp.PyArray_DATA(<cnp.ndarray>b)
        args.boff, args.bstep = _ptr(boff), bs[k]
    if w is not None:
        woff = _offsets(lead, wl, &args.ldw)
        args.where = <const unsigned char *>cnp.PyArray_DATA(<cnp.ndarray>w)
        args.woff, args.wstep = _ptr(woff), ws[k]
    nt = _threads_for(nrows * n)
    with nogil:
        rc = csm_run(&args, nt)
    if rc != 0:
        raise MemoryError("csoftmax: out of memory for the fused kernel's row blocks")
    if direct:
        r = out
    elif reduce:
        r = dst.reshape(f.shape if out is None else out.shape)
        if out is None and r.ndim == 0:
            r = r[()]   # a NumPy scalar, as from np.sum
    else:
        if moved is not None:
            r = dst.reshape(tuple(f.x.shape[i] for i in moved)).transpose(np.argsort(moved))
        else:
            r = dst
        if out is None and f.scalar:
            r = r.reshape(())
    if out is not None and r is not out:
        r = deliver(r.reshape(out.shape), out.dtype, out)
    return finish(r, f, name, out)
