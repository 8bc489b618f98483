# Included by _core.pyx: large result arrays are allocated through src/output_cache/csm_pool.c, a
# small cache of recently freed blocks (see csm_pool.h for why), installed as NumPy's memory
# handler (NEP 49) around our own allocations only. The arrays stay ordinary: they own their data, and NumPy
# returns it to the cache when they die.
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from libc.string cimport strcmp, strncpy

cdef extern from "csm_pool.h" nogil:
    size_t CSM_POOL_MIN_BYTES
    void *csm_pool_malloc(void *ctx, size_t size) noexcept
    void *csm_pool_calloc(void *ctx, size_t nelem, size_t elsize) noexcept
    void *csm_pool_realloc(void *ctx, void *ptr, size_t new_size) noexcept
    void csm_pool_free(void *ctx, void *ptr, size_t size) noexcept
    size_t csm_pool_set_limit(size_t nbytes)
    size_t csm_pool_get_limit()
    size_t csm_pool_cached_bytes()
    int csm_pool_cached_blocks()

cdef extern from "numpy/ndarraytypes.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *, size_t) noexcept
        void *(*calloc)(void *, size_t, size_t) noexcept
        void *(*realloc)(void *, void *, size_t) noexcept
        void (*free)(void *, void *, size_t) noexcept
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator

cdef extern from "numpy/arrayobject.h":
    object PyDataMem_SetHandler(object handler)

cdef PyDataMem_Handler _cache_handler
strncpy(_cache_handler.name, b"csoftmax_output_cache", 127)
_cache_handler.version = 1
_cache_handler.allocator.ctx = NULL
_cache_handler.allocator.malloc = csm_pool_malloc
_cache_handler.allocator.calloc = csm_pool_calloc
_cache_handler.allocator.realloc = csm_pool_realloc
_cache_handler.allocator.free = csm_pool_free
cdef object _cache_capsule = PyCapsule_New(&_cache_handler, b"mem_handler", NULL)
cdef bint _cache_on = True


cdef cnp.ndarray _new_array(int nd, cnp.npy_intp *dims, int typenum):
    """np.empty(dims, typenum) in C order; large float arrays come from the output cache."""
    cdef cnp.ndarray r
    cdef PyDataMem_Handler *h
    cdef size_t nbytes = <size_t>_prod(dims, 0, nd) * (4 if typenum == cnp.NPY_FLOAT else 8)
    if not _cache_on or nbytes < CSM_POOL_MIN_BYTES or (typenum != cnp.NPY_FLOAT
                                                         and typenum != cnp.NPY_DOUBLE):
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    previous = PyDataMem_SetHandler(_cache_capsule)
    try:
        h = <PyDataMem_Handler *>PyCapsule_GetPointer(previous, b"mem_handler")
        if strcmp(h.name, b"default_allocator") != 0:
            PyDataMem_SetHandler(previous)   # the user installed their own: use it
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        PyDataMem_SetHandler(previous)


def _set_output_cache_limit(size_t nbytes):
    global _cache_on
    _cache_on = nbytes > 0
    return csm_pool_set_limit(nbytes)


def _output_cache_state():
    """(limit, cached bytes, cached blocks)"""
    return csm_pool_get_limit(), csm_pool_cached_bytes(), csm_pool_cached_blocks()
