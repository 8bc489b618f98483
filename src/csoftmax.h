/* csoftmax C API: row-wise softmax, log_softmax and logsumexp over float32/float64 buffers.
 * Plain C99, no Python. The kernels are compiled once per instruction set (csm_kernels.c) and
 * csm_dispatch.c picks the best one the CPU supports at first use. */
#ifndef CSOFTMAX_H
#define CSOFTMAX_H
#include <stddef.h>

typedef enum { CSM_SOFTMAX = 0, CSM_LOG_SOFTMAX = 1, CSM_LOGSUMEXP = 2, CSM_NUM_OPS = 3 } csm_op;
typedef enum { CSM_FLOAT32 = 0, CSM_FLOAT64 = 1 } csm_dtype;

/* One instruction set's kernels (filled by csm_kernels.c for each build). */
typedef void (*csm_rows_f32_fn)(const float *x, float *out, ptrdiff_t nrows, ptrdiff_t n,
                                ptrdiff_t ldx, ptrdiff_t ldo);
typedef void (*csm_rows_f64_fn)(const double *x, double *out, ptrdiff_t nrows, ptrdiff_t n,
                                ptrdiff_t ldx, ptrdiff_t ldo);
typedef void (*csm_cols_f32_fn)(const float *x, float *out, ptrdiff_t nouter, ptrdiff_t nred,
                                ptrdiff_t ninner);
typedef void (*csm_cols_f64_fn)(const double *x, double *out, ptrdiff_t nouter, ptrdiff_t nred,
                                ptrdiff_t ninner);
typedef struct {
    csm_rows_f32_fn rows_f32[CSM_NUM_OPS];
    csm_rows_f64_fn rows_f64[CSM_NUM_OPS];
    csm_cols_f32_fn cols_f32[CSM_NUM_OPS];
    csm_cols_f64_fn cols_f64[CSM_NUM_OPS];
} csm_kernel_table;

/* Contiguous rows: row r of x starts at x + r*ldx elements, of out at out + r*ldo.
 * softmax/log_softmax write n elements per row; logsumexp writes out[r*ldo]. out may equal x
 * (same pointer and strides); no other overlap. nthreads <= 1 runs on the calling thread. */
void csm_rows(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n,
              ptrdiff_t ldx, ptrdiff_t ldo, int nthreads);

/* C-contiguous (nouter, nred, ninner) reduced over the middle axis. softmax/log_softmax write the
 * same layout; logsumexp writes (nouter, ninner). */
void csm_cols(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nouter, ptrdiff_t nred,
              ptrdiff_t ninner, int nthreads);

/* Instruction sets, best first: "avx512", "avx2", "baseline". */
int csm_isa_count(void);
const char *csm_isa_name(int i);
int csm_isa_supported(int i);       /* compiled in and supported by this CPU */
int csm_get_isa(void);              /* index of the set in use */
int csm_set_isa(int i);             /* 0 on success, -1 if not supported here */
/* Reads CSOFTMAX_ISA once: returns 0, or -1 if it names an unknown or unsupported set (the best
 * supported one is kept). */
int csm_init_isa_from_env(void);

int csm_openmp_available(void);
int csm_omp_max_threads(void);
#endif
