/* csoftmax C API: softmax, log_softmax and logsumexp, every call described once as a csm_call
 * (rows or a strided axis; scale, bias, where=; float16 / bfloat16 storage) and served by the
 * planner (csm_run, dispatch/csm_planner.c); cross-entropy with its gradient, the softmax backward
 * passes, the sigmoid family with binary cross-entropy; softmax of rows split into chunks through
 * per-row statistics (csm_row_stats, csm_rows_from_stats); decoding (top_k_softmax, sample); the
 * choice of instruction set and the thread limits. The math is in float32 or float64 (csm_dtype).
 * Plain C99, no Python. The kernels are compiled once per instruction set (dispatch/csm_kernels.c)
 * and dispatch/csm_dispatch.c picks the best one the CPU supports at first use. All buffers must
 * be aligned to their element type. */
#ifndef CSOFTMAX_H
#define CSOFTMAX_H
#include <stddef.h>

typedef enum { CSM_SOFTMAX = 0, CSM_LOG_SOFTMAX = 1, CSM_LOGSUMEXP = 2, CSM_NUM_OPS = 3 } csm_op;
typedef enum { CSM_FLOAT32 = 0, CSM_FLOAT64 = 1 } csm_dtype;

/* Fused cross-entropy over nrows rows of C logits (see csm_losses.h for the formulas). */
typedef struct {
    const void *x; /* logits, row r at x + r*ldx elements */
    ptrdiff_t nrows, ncls, ldx;
    const long long *target; /* index targets (int64), or NULL with prob */
    long long ignore_index;
    const void *prob; /* soft targets, row r at prob + r*ldq, or NULL */
    ptrdiff_t ldq;
    const void *weight;  /* class weights (ncls), or NULL */
    double weight_total; /* sum of the class weights (ncls when NULL) */
    double smoothing;    /* label smoothing in [0, 1] */
    double grad_scale;   /* 1, or 1/denominator for the mean */
    void *grad;          /* gradient rows (row stride ldg), or NULL */
    ptrdiff_t ldg;
    double *loss; /* per-row losses (nrows) */
} csm_ce_args;

/* How an array of the softmax family is stored; the math is in float32 or float64 (csm_dtype). */
typedef enum {
    CSM_STORE_F32 = 0,
    CSM_STORE_F64 = 1,
    CSM_STORE_F16 = 2,
    CSM_STORE_BF16 = 3,
    CSM_NUM_STORAGES = 4
} csm_storage;

/* One call of softmax / log_softmax / logsumexp, described once (csm_planner.c chooses the
 * kernel). Row r of an operand starts off[r] bytes after its pointer when its offset array is
 * given, else r * ld bytes after it (a uniform stride); its elements are step bytes apart (0: one
 * value broadcast along the row), so a broadcast operand is never expanded. The fused operands
 * form z = x * scale + bias, -inf where `where` is 0; NULL when absent. A row with none selected
 * gives 0 (softmax) / -inf (log_softmax, logsumexp), and excluded entries are exactly 0 / -inf
 * whatever the row holds. logsumexp writes one value per row. ninner > 0 is the column layout
 * instead: x and out C-contiguous (nrows, n, ninner) in the compute type, reduced over the middle
 * axis (logsumexp writes (nrows, ninner)), nothing fused. The output must not overlap an input
 * unless it is the same array with the same strides. */
typedef struct {
    csm_op op;
    csm_dtype compute;
    csm_storage xkind, okind; /* how x and out are stored */
    ptrdiff_t nrows, n;       /* rows (outer blocks for the column layout), reduced length */
    ptrdiff_t ninner;         /* 0: rows; > 0: the column layout */
    const char *x;
    ptrdiff_t ldx; /* bytes from row to row, when xoff is NULL */
    const ptrdiff_t *xoff;
    ptrdiff_t xstep;
    char *out;
    ptrdiff_t ldo;
    const ptrdiff_t *ooff;
    ptrdiff_t ostep;
    const double *scale; /* scale[r * sstep], or NULL for none */
    ptrdiff_t sstep;
    const char *bias; /* in the compute dtype, or NULL */
    ptrdiff_t ldb;
    const ptrdiff_t *boff;
    ptrdiff_t bstep;
    const unsigned char *where; /* bools, or NULL: every entry selected */
    ptrdiff_t ldw;
    const ptrdiff_t *woff;
    ptrdiff_t wstep;
} csm_call;

/* The kernel families csm_plan chooses from (csm_planner.c says when each serves). */
typedef enum {
    CSM_KERNEL_ROWS = 0,  /* row kernels, x and out in the compute type (csm_rows.h) */
    CSM_KERNEL_COLS = 1,  /* the column layout (csm_cols.h) */
    CSM_KERNEL_HALF = 2,  /* float16 / bfloat16 rows in and out, nothing fused (csm_rows_half.h) */
    CSM_KERNEL_FUSED = 3, /* rows formed in blocks: any storage, layout, fused operand */
    CSM_NUM_KERNELS = 4
} csm_kernel;

/* Which kernel family serves the call on the instruction set in use (pure: runs nothing). */
csm_kernel csm_plan(const csm_call *c);
/* Runs the call on up to nthreads threads (<= 1: the calling thread) with the kernel csm_plan
 * chooses, with FTZ and DAZ on (dispatch/csm_fpenv.h). Returns 0, or -1 when out of memory. */
int csm_run(const csm_call *c, int nthreads);
/* For the tests: once csm_record_kernels(1) is called, csm_last_kernel gives the kernel csm_run
 * last chose on the calling thread. */
void csm_record_kernels(int on);
csm_kernel csm_last_kernel(void);

/* The entry points below each describe their call as a csm_call and run it through the planner
 * (the C test program calls them). */

/* Contiguous rows: row r of x starts at x + r*ldx elements, of out at out + r*ldo.
 * softmax/log_softmax write n elements per row; logsumexp writes out[r*ldo]. out may equal x
 * (same pointer and strides); no other overlap. nthreads <= 1 runs on the calling thread. */
void csm_rows(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n,
              ptrdiff_t ldx, ptrdiff_t ldo, int nthreads);

/* C-contiguous (nouter, nred, ninner) reduced over the middle axis. softmax/log_softmax write the
 * same layout; logsumexp writes (nouter, ninner). Threads split the outer blocks, or when there
 * are fewer of them than threads, the columns. */
void csm_cols(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nouter, ptrdiff_t nred,
              ptrdiff_t ninner, int nthreads);

/* csm_call's rows with per-row offsets on every operand (as csm_call, without the uniform
 * strides). */
typedef struct {
    const char *x; /* input, stored as xkind */
    const ptrdiff_t *xoff;
    ptrdiff_t xstep;
    csm_storage xkind;
    char *out; /* output, stored as okind; logsumexp: one value per row */
    const ptrdiff_t *ooff;
    ptrdiff_t ostep;
    csm_storage okind;
    ptrdiff_t nrows, n;
    const double *scale; /* scale[r * sstep], or NULL for none */
    ptrdiff_t sstep;
    const char *bias; /* in the compute dtype, or NULL */
    const ptrdiff_t *boff;
    ptrdiff_t bstep;
    const unsigned char *where; /* bools, or NULL: every entry selected */
    const ptrdiff_t *woff;
    ptrdiff_t wstep;
} csm_fused_args;

/* Returns 0, or -1 when out of memory. */
int csm_rows_fused(csm_op op, csm_dtype dt, const csm_fused_args *a, int nthreads);

/* Cross-entropy: per-row losses into a->loss, gradient rows when a->grad. Returns 0, or -1 when
 * out of memory. Rows are split over nthreads. */
int csm_cross_entropy(csm_dtype dt, const csm_ce_args *a, int nthreads);
/* Index targets: -1 when every target is in [0, ncls) or ignore_index, else the position of the
 * first that is not. *denom = sum of weight[t] (or the count) over the rows not ignored. */
ptrdiff_t csm_ce_check_targets(csm_dtype dt, const long long *target, ptrdiff_t n, ptrdiff_t ncls,
                               long long ignore_index, const void *weight, double *denom);
/* Sum in index order (deterministic whatever the thread split that produced v). */
double csm_sum(const double *v, ptrdiff_t n);
/* Rows split into chunks (csm_stats.h): per row r of a chunk, its max and excess = sum(exp(x -
 * max)) - 1 (double); then softmax or log_softmax (op) of a chunk's rows given the statistics of
 * the whole rows, combined from every chunk's (max must be at least every x of its row). softmax
 * only, when scale is not NULL: out = softmax * scale[r] - bias[r] * wc (bias, wc may be NULL;
 * wc: n values of the dtype, else 1), the cross-entropy gradient's form. */
void csm_row_stats(csm_dtype dt, const void *x, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                   double *max, double *excess, int nthreads);
void csm_rows_from_stats(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows,
                         ptrdiff_t n, ptrdiff_t ldx, ptrdiff_t ldo, const double *max,
                         const double *excess, const double *scale, const double *bias,
                         const void *wc, int nthreads);

/* log = 0: y * (g - sum(g y)); log = 1: g - exp(y) sum(g); contiguous rows of n. */
void csm_softmax_backward(csm_dtype dt, int log, const void *g, const void *y, void *out,
                          ptrdiff_t nrows, ptrdiff_t n, int nthreads);
void csm_sigmoid(csm_dtype dt, int log, const void *x, void *out, ptrdiff_t n);
/* Elementwise from logits; w may be NULL; loss/grad may be NULL. Returns the sum of the losses. */
double csm_binary_cross_entropy(csm_dtype dt, const void *x, const void *t, const void *w,
                                ptrdiff_t n, double grad_scale, void *loss, void *grad);

/* Decoding over rows of n logits (kernels in decode/; csoftmax.reference defines the semantics).
 * status[r] gets 0, 1 (NaN or +inf in row r), 2 (no finite entry) or 3 (max / temperature
 * overflows the dtype: the caller redoes the rows in float64). */
typedef struct {
    const void *x; /* row r at x + r*ldx elements */
    ptrdiff_t nrows, n, ldx;
    double inv_temp;     /* 1/temperature; 0: greedy (sample) */
    ptrdiff_t k;         /* top_k_softmax: k; sample: top_k, 0 for none */
    double top_p;        /* sample: 1 for none */
    double min_p;        /* sample: 0 for none */
    int log;             /* top_k_softmax: log-probabilities */
    const double *u;     /* sample: one uniform per row */
    void *values;        /* top_k_softmax: nrows x k */
    long long *indices;  /* nrows x k (top_k_softmax) or nrows (sample) */
    signed char *status; /* nrows */
} csm_decode_args;
/* Return 0, or -1 when out of memory. */
int csm_top_k_softmax(csm_dtype dt, const csm_decode_args *a, int nthreads);
int csm_sample(csm_dtype dt, const csm_decode_args *a, int nthreads);

/* Instruction sets, best first: "avx512", "avx2", "baseline" on x86-64; "neon" on aarch64;
 * "baseline" elsewhere. */
int csm_isa_count(void);
const char *csm_isa_name(int i);
const char *csm_isa_needs(int i); /* the CPU features build i needs, as the C check's text */
int csm_isa_supported(int i);     /* compiled in and supported by this CPU */
int csm_get_isa(void);            /* index of the set in use */
int csm_set_isa(int i);           /* 0 on success, -1 if not supported here */
/* Reads CSOFTMAX_ISA once: returns 0, or -1 if it names an unknown or unsupported set (the best
 * supported one is kept). */
int csm_init_isa_from_env(void);

int csm_openmp_available(void);
int csm_omp_max_threads(void);
/* The process-wide thread limit the Python layer applies to large calls (1 without OpenMP);
 * exported so that threadpoolctl can read and set it through ctypes. */
int csm_get_num_threads(void);
void csm_set_num_threads(int n);
/* The calling thread's own limit, overriding the process's while nonzero (0 clears it). */
int csm_get_thread_override(void);
void csm_set_thread_override(int n);
/* The limit a call made now on this thread uses: its override, else the process's; 1 in a
 * child forked after a parallel region ran (libgomp cannot start threads there). */
int csm_thread_limit(void);
/* Registers the fork handler; called once at import. */
void csm_init_threads(void);

/* Every kernel runs with subnormals flushed (FTZ and DAZ; dispatch/csm_fpenv.h). The calling
 * thread's floating-point status as CSM_FP_DENORMAL | CSM_FP_UNDERFLOW bits (x86-64: MXCSR's DE
 * and UE; aarch64: FPSR's UFC only, its IDC marking the flushes FZ is there to make), cleared
 * afterwards if clear is nonzero: the tests' view. */
enum { CSM_FP_DENORMAL = 1, CSM_FP_UNDERFLOW = 2 };
int csm_fp_status(int clear);
#endif
