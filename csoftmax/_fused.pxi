# The fused softmax family (included by _core.pyx): scale=, bias=, where=, dtype=, tuple axes,
# 0-d, masked and half-precision inputs. The arguments are checked by _fused_args (shared with
# the reference); here the call is described to the planner (csm_run, src/csoftmax.h), every
# operand by a uniform row stride or per-row byte offsets, and an element step, computed from its
# strides, so that no operand is converted or expanded to x's size: broadcast axes keep their 0
# strides. A single reduced axis stays where it is; several (a tuple) are moved last and
# collapsed into one first.

from ._fused_args import finish, fused_inputs, reduced_shape_axes
from ._validation import is_half

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


cdef object _run_fused(csm_op op, object x, object axis, bint keepdims, object scale, object bias,
                       object where, object dtype, object out):
    cdef csm_call args
    cdef int kind, rc, nt
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
