/* Instruction-set selection, threads, and the entry points of csoftmax.h other than the softmax
 * family's (csm_planner.c plans and runs those).
 *
 * Every build of csm_kernels.c exports one table; the best one this CPU supports is chosen once
 * (CSOFTMAX_ISA may force a lower one), so one binary runs on any x86-64 and is fastest on each. */
#include <stdlib.h>
#include <string.h>
#include "csoftmax.h"
#include "csm_fpenv.h"
#include "csm_kernel_table.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define CSM_HAVE_PTHREAD_ATFORK 1
#endif
#if defined(__GNUC__) || defined(__clang__)
#define CSM_THREAD_LOCAL __thread
#else
#define CSM_THREAD_LOCAL _Thread_local
#endif

/* The builds of csm_kernels.c, best first: setup.py, which compiles them, passes its list of
 * instruction sets as CSM_ISA_LIST, each with the CPU features its flags compile in, e.g.
 * CSM_ISA(avx2, CSM_CPU(avx2) && CSM_CPU(fma) && CSM_CPU(bmi2)) CSM_ISA(baseline, 1), so the
 * list, the flags and the run-time check are written once (setup.py's isa_list_macro). */
#ifndef CSM_ISA_LIST
#define CSM_ISA_LIST CSM_ISA(baseline, 1)
#endif
#define CSM_ISA(name, needs) extern const csm_kernel_table csm_table_##name;
CSM_ISA_LIST
#undef CSM_ISA
#define CSM_ISA(name, needs) {#name, #needs, &csm_table_##name},
static const struct {
    const char *name;
    const char *needs; /* the check's source text, for csm_isa_needs */
    const csm_kernel_table *table;
} isas[] = {CSM_ISA_LIST};
#undef CSM_ISA
#define ISA_COUNT ((int)(sizeof isas / sizeof isas[0]))

int csm_isa_count(void) { return ISA_COUNT; }
const char *csm_isa_name(int i) { return (i >= 0 && i < ISA_COUNT) ? isas[i].name : NULL; }
const char *csm_isa_needs(int i) { return (i >= 0 && i < ISA_COUNT) ? isas[i].needs : NULL; }

#if defined(__x86_64__) || defined(__i386__)
/* CSOFTMAX_HIDE_CPU_FEATURES (comma-separated, e.g. "bmi2,fma") makes csoftmax act as on a CPU
 * (or VM) without those features, so the tests can show such a CPU gets a build it runs. */
static int feature_hidden(const char *feature)
{
    const char *p = getenv("CSOFTMAX_HIDE_CPU_FEATURES");
    size_t len = strlen(feature);
    while (p && *p) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, feature, len) == 0) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* libgcc's cpu model also checks that the OS saves the wide registers (XCR0). Builds whose
 * flags name no feature (the baseline, aarch64's "neon": NEON is part of the base architecture)
 * run anywhere, and no detection runs for them. */
#define CSM_CPU(feature) (__builtin_cpu_supports(#feature) && !feature_hidden(#feature))
#endif

static int cpu_runs(int i)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#endif
    int k = 0;
#define CSM_ISA(name, needs)                                                                       \
    if (i == k++) return needs;
    CSM_ISA_LIST
#undef CSM_ISA
    return 0;
}

int csm_isa_supported(int i) { return i >= 0 && i < ISA_COUNT && cpu_runs(i); }

/* Written once at import (before any kernel runs) or by the test hook csm_set_isa. */
static int current_isa = -1;
static const csm_kernel_table *current;

int csm_set_isa(int i)
{
    if (i < 0 || i >= ISA_COUNT || !csm_isa_supported(i)) return -1;
    current_isa = i;
    current = isas[i].table;
    return 0;
}

int csm_get_isa(void)
{
    if (current_isa < 0) {
        int i = 0;
        while (i < ISA_COUNT - 1 && !csm_isa_supported(i)) i++; /* the last runs anywhere */
        csm_set_isa(i);
    }
    return current_isa;
}

int csm_init_isa_from_env(void)
{
    const char *want = getenv("CSOFTMAX_ISA");
    csm_get_isa();
    if (!want || !*want) return 0;
    for (int i = 0; i < ISA_COUNT; i++)
        if (strcmp(want, isas[i].name) == 0) return csm_set_isa(i);
    return -1;
}

int csm_openmp_available(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int csm_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Thread limits: one for the process, and an optional override per calling thread (the
 * num_threads() context manager), so that two Python threads never see each other's. */
static int num_threads = 1;
static CSM_THREAD_LOCAL int thread_override; /* 0: none */

/* libgomp keeps its worker pool across fork() but not the workers, so a child's first parallel
 * region waits forever for threads that do not exist. A child of a process that has run a
 * parallel region therefore runs every call on the calling thread (as PyTorch does). */
static int threads_started;
static int forked_after_threads;

#if defined(_OPENMP) && defined(CSM_HAVE_PTHREAD_ATFORK)
static void after_fork_in_child(void)
{
    if (__atomic_load_n(&threads_started, __ATOMIC_RELAXED)) forked_after_threads = 1;
}
#endif

void csm_init_threads(void)
{
#if defined(_OPENMP) && defined(CSM_HAVE_PTHREAD_ATFORK)
    static int registered;
    if (!registered) registered = pthread_atfork(NULL, NULL, after_fork_in_child) == 0;
#endif
}

int csm_get_num_threads(void) { return num_threads; }

void csm_set_num_threads(int n)
{
#ifdef _OPENMP
    num_threads = n < 1 ? 1 : n;
#else
    (void)n;
    num_threads = 1;
#endif
}

int csm_get_thread_override(void) { return thread_override; }
void csm_set_thread_override(int n) { thread_override = n < 0 ? 0 : n; }

int csm_thread_limit(void)
{
    if (forked_after_threads) return 1;
    return thread_override > 0 ? thread_override : num_threads;
}

static const csm_kernel_table *table(void)
{
    if (!current) csm_get_isa();
    return current;
}

const csm_kernel_table *csm_table(void) { return table(); }

static size_t elsize(csm_dtype dt) { return dt == CSM_FLOAT32 ? sizeof(float) : sizeof(double); }

int csm_fp_status(int clear)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
    if (clear) _mm_setcsr(csr & ~CSM_FP_STATUS);
    return (csr & 0x02u ? CSM_FP_DENORMAL : 0) | (csr & 0x10u ? CSM_FP_UNDERFLOW : 0);
#elif defined(__aarch64__)
    /* FPSR.IDC is set when FZ flushes a subnormal input, which is what FZ is for, not a
     * subnormal reaching the arithmetic (x86's DE, which DAZ keeps clear): only UFC is read */
    unsigned long sr;
    __asm__ __volatile__("mrs %0, fpsr" : "=r"(sr));
    if (clear) __asm__ __volatile__("msr fpsr, %0" : : "r"(sr & ~0x9Ful));
    return sr & 0x08ul ? CSM_FP_UNDERFLOW : 0;
#else
    (void)clear;
    return 0;
#endif
}

/* part(ctx, r0, r1) in the kernels' floating-point environment (csm_fpenv.h) */
static int fp_part(csm_part_fn part, const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    unsigned fp = csm_fp_enter();
    int status = part(ctx, r0, r1);
    csm_fp_leave(fp);
    return status;
}

/* The one threading scheme (csm_kernel_table.h). Rows (or outer blocks) are independent, so any
 * split gives bit-identical results; with one thread, or without OpenMP, it is part(ctx, 0, n).
 * Every thread runs its part with FTZ and DAZ on (csm_fpenv.h). */
int csm_split_rows(ptrdiff_t n, int nthreads, csm_part_fn part, const void *ctx)
{
    if (nthreads > n) nthreads = (int)n;
#ifdef _OPENMP
    if (nthreads > 1 && !forked_after_threads) {
        int status = 0;
        __atomic_store_n(&threads_started, 1, __ATOMIC_RELAXED);
#pragma omp parallel num_threads(nthreads) reduction(| : status)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            status |= fp_part(part, ctx, n * tid / nt, n * (tid + 1) / nt) != 0;
        }
        return status;
    }
#endif
    return fp_part(part, ctx, 0, n);
}

typedef struct {
    const csm_kernel_table *t;
    csm_op op;
    csm_dtype dt;
    const char *x;
    char *out;
    ptrdiff_t n, ldx, ldo; /* the row length, and the strides (elements) from row to row */
} row_job;

/* ---- rows split into chunks (csm_stats.h) ---- */

typedef struct {
    row_job r;   /* r.out NULL: statistics */
    double *max; /* written by csm_row_stats, read by csm_rows_from_stats */
    double *excess;
    const double *scale, *bias; /* per row, or NULL */
    const void *wc;
} stats_job;

static int stats_part(const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    const stats_job *s = (const stats_job *)ctx;
    const row_job *j = &s->r;
    const char *x = j->x + (size_t)(r0 * j->ldx) * elsize(j->dt);
    if (!j->out) {
        j->t->stats[j->dt](x, r1 - r0, j->n, j->ldx, s->max + r0, s->excess + r0);
        return 0;
    }
    j->t->from_stats[j->dt][j->op == CSM_LOG_SOFTMAX](
        x, j->out + (size_t)(r0 * j->ldo) * elsize(j->dt), r1 - r0, j->n, j->ldx, j->ldo,
        s->max + r0, s->excess + r0, s->scale ? s->scale + r0 : NULL, s->bias ? s->bias + r0 : NULL,
        s->wc);
    return 0;
}

void csm_row_stats(csm_dtype dt, const void *x, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                   double *max, double *excess, int nthreads)
{
    stats_job j = {{table(), CSM_LOGSUMEXP, dt, (const char *)x, NULL, n, ldx, 0},
                   max,
                   excess,
                   NULL,
                   NULL,
                   NULL};
    csm_split_rows(nrows, nthreads, stats_part, &j);
}

void csm_rows_from_stats(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows,
                         ptrdiff_t n, ptrdiff_t ldx, ptrdiff_t ldo, const double *max,
                         const double *excess, const double *scale, const double *bias,
                         const void *wc, int nthreads)
{
    stats_job j = {{table(), op, dt, (const char *)x, (char *)out, n, ldx, ldo},
                   (double *)max,
                   (double *)excess,
                   scale,
                   bias,
                   wc};
    csm_split_rows(nrows, nthreads, stats_part, &j);
}

/* ---- training kernels ---- */

typedef struct {
    const csm_kernel_table *t;
    csm_dtype dt;
    const csm_ce_args *a;
} ce_job;

static int ce_part(const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    const ce_job *j = (const ce_job *)ctx;
    const csm_ce_args *a = j->a;
    size_t esz = elsize(j->dt);
    csm_ce_args part = *a;
    part.nrows = r1 - r0;
    part.x = (const char *)a->x + (size_t)(r0 * a->ldx) * esz;
    if (a->target) part.target = a->target + r0;
    if (a->prob) part.prob = (const char *)a->prob + (size_t)(r0 * a->ldq) * esz;
    if (a->grad) part.grad = (char *)a->grad + (size_t)(r0 * a->ldg) * esz;
    part.loss = a->loss + r0;
    return j->t->cross_entropy[j->dt](&part);
}

int csm_cross_entropy(csm_dtype dt, const csm_ce_args *a, int nthreads)
{
    ce_job j = {table(), dt, a};
    return csm_split_rows(a->nrows, nthreads, ce_part, &j) ? -1 : 0;
}

ptrdiff_t csm_ce_check_targets(csm_dtype dt, const long long *target, ptrdiff_t n, ptrdiff_t ncls,
                               long long ignore_index, const void *weight, double *denom)
{
    double d = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        long long c = target[i];
        if (c == ignore_index) continue;
        if (c < 0 || c >= ncls) return i;
        if (!weight) d += 1;
        else if (dt == CSM_FLOAT32) d += ((const float *)weight)[c];
        else d += ((const double *)weight)[c];
    }
    *denom = d;
    return -1;
}

double csm_sum(const double *v, ptrdiff_t n)
{
    double s = 0;
    for (ptrdiff_t i = 0; i < n; i++) s += v[i];
    return s;
}

typedef struct {
    const csm_kernel_table *t;
    csm_dtype dt;
    int log;
    const char *g, *y;
    char *out;
    ptrdiff_t n;
} backward_job;

static int backward_part(const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    const backward_job *j = (const backward_job *)ctx;
    size_t off = (size_t)(r0 * j->n) * elsize(j->dt);
    j->t->softmax_backward[j->dt][j->log != 0](j->g + off, j->y + off, j->out + off, r1 - r0, j->n);
    return 0;
}

void csm_softmax_backward(csm_dtype dt, int log, const void *g, const void *y, void *out,
                          ptrdiff_t nrows, ptrdiff_t n, int nthreads)
{
    backward_job j = {table(), dt, log, (const char *)g, (const char *)y, (char *)out, n};
    csm_split_rows(nrows, nthreads, backward_part, &j);
}

void csm_sigmoid(csm_dtype dt, int log, const void *x, void *out, ptrdiff_t n)
{
    unsigned fp = csm_fp_enter();
    table()->sigmoid[dt][log != 0](x, out, n);
    csm_fp_leave(fp);
}

double csm_binary_cross_entropy(csm_dtype dt, const void *x, const void *t, const void *w,
                                ptrdiff_t n, double grad_scale, void *loss, void *grad)
{
    unsigned fp = csm_fp_enter();
    double total = table()->binary_cross_entropy[dt](x, t, w, n, grad_scale, loss, grad);
    csm_fp_leave(fp);
    return total;
}

/* ---- decoding (decode/) ---- */

typedef struct {
    int (*rows)(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1);
    const csm_decode_args *a;
} decode_job;

static int decode_part(const void *ctx, ptrdiff_t r0, ptrdiff_t r1)
{
    const decode_job *j = (const decode_job *)ctx;
    return j->rows(j->a, r0, r1);
}

/* which: 0 top_k_softmax, 1 sample; rows are independent, so any split gives the same result */
static int decode(csm_dtype dt, int which, const csm_decode_args *a, int nthreads)
{
    decode_job j = {table()->decode[dt][which], a};
    return csm_split_rows(a->nrows, nthreads, decode_part, &j) ? -1 : 0;
}

int csm_top_k_softmax(csm_dtype dt, const csm_decode_args *a, int nthreads)
{
    return decode(dt, 0, a, nthreads);
}

int csm_sample(csm_dtype dt, const csm_decode_args *a, int nthreads)
{
    return decode(dt, 1, a, nthreads);
}
