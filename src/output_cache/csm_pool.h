/* A small cache of large output buffers, for the arrays csoftmax returns.
 *
 * Why: a fresh multi-megabyte result costs a page fault per page when the C allocator has just
 * handed that memory back to the OS, which glibc does as soon as other code frees its own big
 * temporaries (it unmaps large blocks and trims its heap): a 4096x1000 float32 softmax between
 * SciPy and ONNX Runtime calls took twice its time with out= (docs/PERFORMANCE.md). Keeping a few
 * recently freed blocks (as ONNX Runtime's arena does) gives each call memory that is already
 * mapped.
 *
 * The four allocator functions have the signatures of NumPy's PyDataMem_Handler (NEP 49), so the
 * Cython layer installs them as they are; this file itself knows nothing of Python. Blocks are
 * 64-byte aligned and carry their capacity in a header, so a block is cached by its true size
 * whatever size NumPy reports when it frees it. Thread-safe. */
#ifndef CSM_POOL_H
#define CSM_POOL_H
#include <stddef.h>

/* Blocks below this are left to malloc: glibc serves them from its heap without a fresh mapping
 * (128 KiB is its initial mmap threshold). */
#define CSM_POOL_MIN_BYTES ((size_t)128 << 10)
#define CSM_POOL_SLOTS 8

void *csm_pool_malloc(void *ctx, size_t size);
void *csm_pool_calloc(void *ctx, size_t nelem, size_t elsize);
void *csm_pool_realloc(void *ctx, void *ptr, size_t new_size);
void csm_pool_free(void *ctx, void *ptr, size_t size);

/* Most bytes kept cached (0: cache nothing). Lowering it frees what no longer fits. Returns the
 * previous limit. */
size_t csm_pool_set_limit(size_t bytes);
size_t csm_pool_get_limit(void);
/* Bytes and blocks currently cached (not in use by any array). */
size_t csm_pool_cached_bytes(void);
int csm_pool_cached_blocks(void);

#endif
