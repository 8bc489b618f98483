/* Output-buffer cache: see csm_pool.h for why it exists. */
#include "csm_pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define ALIGN 64

/* Stored just below the pointer handed out. */
typedef struct {
    void *base; /* what malloc returned */
    size_t cap; /* usable bytes from the user pointer */
} block_header;

typedef struct {
    void *user;
    size_t cap;
    unsigned long age; /* when it was cached: the oldest is evicted first */
} slot;

static slot slots[CSM_POOL_SLOTS];
static size_t cached_bytes = 0;
static size_t limit_bytes = (size_t)64 << 20;
static unsigned long clock_ticks = 0;

/* NumPy may free arrays on any thread (and without a GIL on free-threaded Python). */
#if defined(__GNUC__) || defined(__clang__)
static volatile char lock_flag = 0;
static void lock(void)
{
    while (__atomic_test_and_set(&lock_flag, __ATOMIC_ACQUIRE)) {}
}
static void unlock(void) { __atomic_clear(&lock_flag, __ATOMIC_RELEASE); }
#else
static void lock(void) {} /* such builds rely on the GIL */
static void unlock(void) {}
#endif

static block_header *header_of(void *user) { return (block_header *)user - 1; }

static void *new_block(size_t size)
{
    size_t extra = sizeof(block_header) + ALIGN - 1;
    if (size > SIZE_MAX - extra) return NULL;
    void *base = malloc(size + extra);
    if (base == NULL) return NULL;
    uintptr_t u = ((uintptr_t)base + sizeof(block_header) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    void *user = (void *)u;
    header_of(user)->base = base;
    header_of(user)->cap = size;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* Ask for transparent huge pages, as NumPy's own allocator does for large arrays: a 16 MB
     * result then takes 8 TLB entries instead of 4000 (strided kernels touch many pages). */
    if (size >= ((size_t)4 << 20)) {
        uintptr_t page = 4096, lo = (u + page - 1) & ~(page - 1), hi = (u + size) & ~(page - 1);
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice only: failure is harmless */
    }
#endif
    return user;
}

static void release_block(void *user) { free(header_of(user)->base); }

/* With the lock held: take the oldest cached block out (to be released after unlocking). */
static void *take_oldest(void)
{
    int oldest = -1;
    for (int i = 0; i < CSM_POOL_SLOTS; i++)
        if (slots[i].user != NULL && (oldest < 0 || slots[i].age < slots[oldest].age)) oldest = i;
    if (oldest < 0) return NULL;
    void *user = slots[oldest].user;
    cached_bytes -= slots[oldest].cap;
    slots[oldest].user = NULL;
    slots[oldest].cap = 0;
    return user;
}

void *csm_pool_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size == 0) size = 1;
    if (size >= CSM_POOL_MIN_BYTES) {
        /* Best fit among cached blocks, wasting at most 1/8 of the block. */
        int best = -1;
        lock();
        for (int i = 0; i < CSM_POOL_SLOTS; i++) {
            size_t cap = slots[i].cap;
            if (slots[i].user != NULL && cap >= size && cap - size <= cap / 8
                && (best < 0 || cap < slots[best].cap))
                best = i;
        }
        void *user = NULL;
        if (best >= 0) {
            user = slots[best].user;
            cached_bytes -= slots[best].cap;
            slots[best].user = NULL;
            slots[best].cap = 0;
        }
        unlock();
        if (user != NULL) return user;
    }
    return new_block(size);
}

void *csm_pool_calloc(void *ctx, size_t nelem, size_t elsize)
{
    if (elsize != 0 && nelem > SIZE_MAX / elsize) return NULL;
    void *p = csm_pool_malloc(ctx, nelem * elsize);
    if (p != NULL) memset(p, 0, nelem * elsize);
    return p;
}

void csm_pool_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size; /* the header knows the true capacity */
    if (ptr == NULL) return;
    size_t cap = header_of(ptr)->cap;
    void *evicted[CSM_POOL_SLOTS];
    int nevicted = 0;
    int kept = 0;
    lock();
    if (cap >= CSM_POOL_MIN_BYTES && cap <= limit_bytes) {
        /* Make room: evict the oldest blocks until this one fits in bytes and slots. */
        for (;;) {
            int free_slot = -1;
            for (int i = 0; i < CSM_POOL_SLOTS && free_slot < 0; i++)
                if (slots[i].user == NULL) free_slot = i;
            if (free_slot >= 0 && cached_bytes + cap <= limit_bytes) {
                slots[free_slot].user = ptr;
                slots[free_slot].cap = cap;
                slots[free_slot].age = ++clock_ticks;
                cached_bytes += cap;
                kept = 1;
                break;
            }
            evicted[nevicted++] = take_oldest(); /* never NULL here: an empty cache fits cap */
        }
    }
    unlock();
    for (int i = 0; i < nevicted; i++) release_block(evicted[i]);
    if (!kept) release_block(ptr);
}

void *csm_pool_realloc(void *ctx, void *ptr, size_t new_size)
{
    if (ptr == NULL) return csm_pool_malloc(ctx, new_size);
    size_t cap = header_of(ptr)->cap;
    if (new_size <= cap && new_size >= cap / 2) return ptr; /* shrinking a little: keep the block */
    void *q = csm_pool_malloc(ctx, new_size);
    if (q == NULL) return NULL; /* like realloc: the old block stays valid */
    memcpy(q, ptr, cap < new_size ? cap : new_size);
    csm_pool_free(ctx, ptr, cap);
    return q;
}

size_t csm_pool_set_limit(size_t bytes)
{
    void *evicted[CSM_POOL_SLOTS];
    int nevicted = 0;
    lock();
    size_t previous = limit_bytes;
    limit_bytes = bytes;
    while (cached_bytes > limit_bytes) evicted[nevicted++] = take_oldest();
    unlock();
    for (int i = 0; i < nevicted; i++) release_block(evicted[i]);
    return previous;
}

size_t csm_pool_get_limit(void)
{
    lock();
    size_t v = limit_bytes;
    unlock();
    return v;
}

size_t csm_pool_cached_bytes(void)
{
    lock();
    size_t v = cached_bytes;
    unlock();
    return v;
}

int csm_pool_cached_blocks(void)
{
    int n = 0;
    lock();
    for (int i = 0; i < CSM_POOL_SLOTS; i++) n += slots[i].user != NULL;
    unlock();
    return n;
}
