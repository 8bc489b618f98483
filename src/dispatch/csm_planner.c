/* The planner: the one place that decides which kernel serves a call of softmax, log_softmax or
 * logsumexp. The Python layer (and csm_rows / csm_cols / csm_rows_fused below) describes the call
 * once as a csm_call (csoftmax.h); csm_plan chooses the kernel family from that description and
 * the instruction set in use, and csm_run runs it on the threads. In csm_plan's order:
 *
 *   1. COLS   the column layout (ninner > 0): csm_cols.h, vectorized across the columns.
 *   2. ROWS   nothing fused, x and out stored in the compute type with unit steps and uniform row
 *             strides: the row kernels of csm_rows.h.
 *   3. HALF   nothing fused, softmax or log_softmax, float16 / bfloat16 in and out alike with
 *             unit steps, rows of at least HALF_SOFTMAX_ROW_MIN / HALF_LOG_ROW_MIN, and a build
 *             that has half kernels (the table's rows[storage] entry; AVX-512): csm_rows_half.h.
 *   4. FUSED  everything else (scale, bias, where, other storage, per-row offsets, short half
 *             rows, half logsumexp): rows formed in blocks in a buffer of the compute type, then
 *             the row kernels (csm_rows_fused.h).
 *
 * Choices by row length stay inside the kernels, where they are made per group of rows with the
 * build's vector width (moving them here would cost a call per row and each build's constants):
 *   - csm_rows.h softmax_rows: register-resident rows (reg_row_length), rows up to SMALL_ROW_MAX
 *     in groups (csm_rows_small.h), pairs of rows (AVX-512, PAIR_ROW_MAX, PAIR_TOTAL_MAX), else
 *     one row at a time (long rows in blocks, is_long_row: csm_rows_long.h);
 *     log_softmax_rows / logsumexp_rows: small rows in groups unless lse_reg_row_length, the
 *     log-sum-exps of several rows together (lse_rows), long rows one at a time.
 *   - csm_rows_fused.h fused_rows: softmax with x and out in the compute type and unit steps goes
 *     through fused_softmax_direct (z formed in the max pass) unless its rows are short, register
 *     or long rows; outputs of STREAM_MIN_BYTES or more are written with streaming stores.
 *   - csm_rows_half.h half_row: rows up to HALF_WIDEN_MAX_F16 / _BF16 widened once into float32,
 *     softmax of bfloat16 and of longer float16 rows under a guessed shift first, float16 softmax
 *     rows in pairs.
 *   - the threads: csm_run splits the rows (the outer blocks, or the columns when those are
 *     fewer than the threads) into one contiguous part per thread. */
#include "csoftmax.h"
#include "csm_fpenv.h"
#include "csm_kernel_table.h"
#include "csm_tuning.h"

/* Half rows shorter than these take the block path (FUSED), whose float32 row kernels (groups of
 * rows, the log-sum-exps in one vector log1p) gain more there than its two conversion passes
 * cost; log_softmax's half kernel pays two libm calls a row, hence its higher bar. */
#ifndef HALF_SOFTMAX_ROW_MIN
#define HALF_SOFTMAX_ROW_MIN 96
#endif
#ifndef HALF_LOG_ROW_MIN
#define HALF_LOG_ROW_MIN 640
#endif

static const ptrdiff_t storage_sizes[CSM_NUM_STORAGES] = {4, 8, 2, 2};

static ptrdiff_t storage_size(csm_storage s) { return storage_sizes[s]; }

/* inlined in csm_run: the plain call's per-call cost stays that of a few compares */
static inline csm_kernel plan(const csm_call *c)
{
    if (c->ninner > 0) return CSM_KERNEL_COLS;
    const int plain = !c->scale && !c->bias && !c->where && c->xkind == c->okind;
    const ptrdiff_t size = storage_size(c->xkind);
    const int lse = c->op == CSM_LOGSUMEXP;
    /* unit steps (a row of one has no step), logsumexp's results one per row */
    const int unit = (c->xstep == size || c->n <= 1) && (lse || c->ostep == size || c->n <= 1);
    if (plain && unit && !c->xoff && !c->ooff && c->xkind == (csm_storage)c->compute
        && !((c->ldx | c->ldo) & (size - 1))) /* whole elements apart (size: a power of 2) */
        return CSM_KERNEL_ROWS;
    if (plain && unit && !lse && c->compute == CSM_FLOAT32
        && (c->xkind == CSM_STORE_F16 || c->xkind == CSM_STORE_BF16)
        && c->n >= (c->op == CSM_SOFTMAX ? HALF_SOFTMAX_ROW_MIN : HALF_LOG_ROW_MIN)
        && csm_table()->rows[c->xkind][c->op])
        return CSM_KERNEL_HALF;
    return CSM_KERNEL_FUSED;
}

csm_kernel csm_plan(const csm_call *c) { return plan(c); }

typedef struct {
    csm_call_fn fn;
    const csm_call *c;
} rows_job;

static int rows_part(const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    const rows_job *j = (const rows_job *)ctx;
    return j->fn(j->c, r0, r1);
}

/* ---- the column layout: outer blocks, or columns in groups of COL_GRAIN (csm_tuning.h) when
 * the blocks are fewer than the threads; each column's result does not depend on its
 * neighbours, so any split gives the same bits ---- */

typedef struct {
    csm_pass_fn fn;
    const csm_call *c;
    ptrdiff_t ldo; /* elements from one outer block of out to the next */
} cols_job;

/* outer blocks o0..o1, columns c0..c1 */
static void cols_range(const cols_job *j, ptrdiff_t o0, ptrdiff_t o1, ptrdiff_t c0, ptrdiff_t c1)
{
    const csm_call *c = j->c;
    const ptrdiff_t size = storage_size(c->xkind);
    j->fn(c->x + (o0 * c->n * c->ninner + c0) * size, c->out + (o0 * j->ldo + c0) * size, o1 - o0,
          c->n, c->ninner, c1 - c0);
}

static int cols_outer_part(const void *ctx, ptrdiff_t o0, ptrdiff_t o1)
{
    const cols_job *j = (const cols_job *)ctx;
    cols_range(j, o0, o1, 0, j->c->ninner);
    return 0;
}

static int cols_inner_part(const void *ctx, ptrdiff_t g0, ptrdiff_t g1)
{
    const cols_job *j = (const cols_job *)ctx;
    ptrdiff_t c1 = g1 * COL_GRAIN < j->c->ninner ? g1 * COL_GRAIN : j->c->ninner;
    cols_range(j, 0, j->c->nrows, g0 * COL_GRAIN, c1);
    return 0;
}

/* The tests' view of the choices: recorded only once they ask (a thread-local write costs a
 * call to __tls_get_addr in a shared library, on every call). */
static int recording;
#if defined(__GNUC__) || defined(__clang__)
static __thread csm_kernel last_kernel;
#else
static _Thread_local csm_kernel last_kernel;
#endif

void csm_record_kernels(int on) { recording = on; }
csm_kernel csm_last_kernel(void) { return last_kernel; }

int csm_run(const csm_call *c, int nthreads)
{
    const csm_kernel_table *t = csm_table();
    csm_kernel k = plan(c);
    if (recording) last_kernel = k;
    if (k == CSM_KERNEL_COLS) {
        cols_job j = {t->cols[c->compute][c->op], c,
                      c->op == CSM_LOGSUMEXP ? c->ninner : c->n * c->ninner};
        if (c->nrows >= nthreads) csm_split_rows(c->nrows, nthreads, cols_outer_part, &j);
        else csm_split_rows((c->ninner + COL_GRAIN - 1) / COL_GRAIN, nthreads, cols_inner_part, &j);
        return 0;
    }
    rows_job j = {k == CSM_KERNEL_FUSED ? t->fused[c->compute][c->op] : t->rows[c->xkind][c->op],
                  c};
    if (nthreads <= 1) { /* what csm_split_rows would do */
        unsigned fp = csm_fp_enter();
        int status = j.fn(c, 0, c->nrows);
        csm_fp_leave(fp);
        return status ? -1 : 0;
    }
    return csm_split_rows(c->nrows, nthreads, rows_part, &j) ? -1 : 0;
}

/* ---- the entry points of csoftmax.h that describe their call (the C test program's) ---- */

static csm_call plain_call(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows,
                           ptrdiff_t n)
{
    csm_call c = {0};
    c.op = op;
    c.compute = dt;
    c.xkind = c.okind = (csm_storage)dt;
    c.nrows = nrows;
    c.n = n;
    c.x = (const char *)x;
    c.out = (char *)out;
    c.xstep = c.ostep = storage_size(c.xkind);
    return c;
}

void csm_rows(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n,
              ptrdiff_t ldx, ptrdiff_t ldo, int nthreads)
{
    csm_call c = plain_call(op, dt, x, out, nrows, n);
    c.ldx = ldx * c.xstep;
    c.ldo = ldo * c.ostep;
    csm_run(&c, nthreads);
}

void csm_cols(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nouter, ptrdiff_t nred,
              ptrdiff_t ninner, int nthreads)
{
    csm_call c = plain_call(op, dt, x, out, nouter, nred);
    c.ninner = ninner > 0 ? ninner : 1;
    if (ninner > 0) csm_run(&c, nthreads);
}

int csm_rows_fused(csm_op op, csm_dtype dt, const csm_fused_args *a, int nthreads)
{
    csm_call c = {0};
    c.op = op;
    c.compute = dt;
    c.xkind = a->xkind;
    c.okind = a->okind;
    c.nrows = a->nrows;
    c.n = a->n;
    c.x = a->x;
    c.xoff = a->xoff;
    c.xstep = a->xstep;
    c.out = a->out;
    c.ooff = a->ooff;
    c.ostep = a->ostep;
    c.scale = a->scale;
    c.sstep = a->sstep;
    c.bias = a->bias;
    c.boff = a->boff;
    c.bstep = a->bstep;
    c.where = a->where;
    c.woff = a->woff;
    c.wstep = a->wstep;
    return csm_run(&c, nthreads);
}
