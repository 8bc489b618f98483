/* Instruction-set selection and the public entry points of csoftmax.h.
 *
 * Every build of csm_kernels.c exports one table; the best one this CPU supports is chosen once
 * (CSOFTMAX_ISA may force a lower one), so one binary runs on any x86-64 and is fastest on each. */
#include <stdlib.h>
#include <string.h>
#include "csoftmax.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(CSM_HAVE_X86_BUILDS)
extern const csm_kernel_table csm_table_avx512, csm_table_avx2;
#endif
extern const csm_kernel_table csm_table_baseline;

enum { ISA_AVX512, ISA_AVX2, ISA_BASELINE, ISA_COUNT };
static const char *const isa_names[ISA_COUNT] = {"avx512", "avx2", "baseline"};

static const csm_kernel_table *isa_table(int i)
{
#if defined(CSM_HAVE_X86_BUILDS)
    if (i == ISA_AVX512) return &csm_table_avx512;
    if (i == ISA_AVX2) return &csm_table_avx2;
#endif
    return i == ISA_BASELINE ? &csm_table_baseline : NULL;
}

int csm_isa_count(void) { return ISA_COUNT; }
const char *csm_isa_name(int i) { return (i >= 0 && i < ISA_COUNT) ? isa_names[i] : NULL; }

int csm_isa_supported(int i)
{
    if (!isa_table(i)) return 0;
#if defined(CSM_HAVE_X86_BUILDS)
    /* libgcc's cpu model also checks that the OS saves the wide registers (XCR0) */
    __builtin_cpu_init();
    if (i == ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
    if (i == ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return 1;
}

/* Written once at import (before any kernel runs) or by the test hook csm_set_isa. */
static int current_isa = -1;
static const csm_kernel_table *current;

int csm_set_isa(int i)
{
    if (i < 0 || i >= ISA_COUNT || !csm_isa_supported(i)) return -1;
    current_isa = i;
    current = isa_table(i);
    return 0;
}

int csm_get_isa(void)
{
    if (current_isa < 0) {
        int i = 0;
        while (!csm_isa_supported(i)) i++;  /* baseline is always supported */
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
        if (strcmp(want, isa_names[i]) == 0) return csm_set_isa(i);
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

static int num_threads = 1;

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

static const csm_kernel_table *table(void)
{
    if (!current) csm_get_isa();
    return current;
}

/* Rows are independent, so any split gives bit-identical results. */
void csm_rows(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n,
              ptrdiff_t ldx, ptrdiff_t ldo, int nthreads)
{
    const csm_kernel_table *t = table();
    size_t esz = dt == CSM_FLOAT32 ? sizeof(float) : sizeof(double);
    if (nthreads > nrows) nthreads = (int)nrows;
#ifdef _OPENMP
    if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            ptrdiff_t r0 = nrows * tid / nt, r1 = nrows * (tid + 1) / nt;
            const char *xs = (const char *)x + (size_t)(r0 * ldx) * esz;
            char *os = (char *)out + (size_t)(r0 * ldo) * esz;
            if (dt == CSM_FLOAT32)
                t->rows_f32[op]((const float *)xs, (float *)os, r1 - r0, n, ldx, ldo);
            else
                t->rows_f64[op]((const double *)xs, (double *)os, r1 - r0, n, ldx, ldo);
        }
        return;
    }
#endif
    (void)esz;
    if (dt == CSM_FLOAT32)
        t->rows_f32[op]((const float *)x, (float *)out, nrows, n, ldx, ldo);
    else
        t->rows_f64[op]((const double *)x, (double *)out, nrows, n, ldx, ldo);
}

void csm_cols(csm_op op, csm_dtype dt, const void *x, void *out, ptrdiff_t nouter, ptrdiff_t nred,
              ptrdiff_t ninner, int nthreads)
{
    const csm_kernel_table *t = table();
    size_t esz = dt == CSM_FLOAT32 ? sizeof(float) : sizeof(double);
    ptrdiff_t out_block = op == CSM_LOGSUMEXP ? ninner : nred * ninner;
    if (nthreads > nouter) nthreads = (int)nouter;
#ifdef _OPENMP
    if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            ptrdiff_t o0 = nouter * tid / nt, o1 = nouter * (tid + 1) / nt;
            const char *xs = (const char *)x + (size_t)(o0 * nred * ninner) * esz;
            char *os = (char *)out + (size_t)(o0 * out_block) * esz;
            if (dt == CSM_FLOAT32)
                t->cols_f32[op]((const float *)xs, (float *)os, o1 - o0, nred, ninner);
            else
                t->cols_f64[op]((const double *)xs, (double *)os, o1 - o0, nred, ninner);
        }
        return;
    }
#endif
    (void)esz; (void)out_block;
    if (dt == CSM_FLOAT32)
        t->cols_f32[op]((const float *)x, (float *)out, nouter, nred, ninner);
    else
        t->cols_f64[op]((const double *)x, (double *)out, nouter, nred, ninner);
}

/* ---- training kernels ---- */

int csm_cross_entropy(csm_dtype dt, const csm_ce_args *a, int nthreads)
{
    const csm_kernel_table *t = table();
    int status = 0;
    if (nthreads > a->nrows) nthreads = (int)a->nrows;
#ifdef _OPENMP
    if (nthreads > 1) {
        size_t esz = dt == CSM_FLOAT32 ? sizeof(float) : sizeof(double);
#pragma omp parallel num_threads(nthreads) reduction(| : status)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            ptrdiff_t r0 = a->nrows * tid / nt, r1 = a->nrows * (tid + 1) / nt;
            csm_ce_args part = *a;
            part.nrows = r1 - r0;
            part.x = (const char *)a->x + (size_t)(r0 * a->ldx) * esz;
            if (a->target) part.target = a->target + r0;
            if (a->prob) part.prob = (const char *)a->prob + (size_t)(r0 * a->ldq) * esz;
            if (a->grad) part.grad = (char *)a->grad + (size_t)(r0 * a->ldg) * esz;
            part.loss = a->loss + r0;
            status |= t->cross_entropy[dt](&part) != 0;
        }
        return status ? -1 : 0;
    }
#endif
    return t->cross_entropy[dt](a);
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

void csm_softmax_backward(csm_dtype dt, int log, const void *g, const void *y, void *out,
                          ptrdiff_t nrows, ptrdiff_t n, int nthreads)
{
    const csm_kernel_table *t = table();
    if (nthreads > nrows) nthreads = (int)nrows;
#ifdef _OPENMP
    if (nthreads > 1) {
        size_t esz = dt == CSM_FLOAT32 ? sizeof(float) : sizeof(double);
#pragma omp parallel num_threads(nthreads)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            ptrdiff_t r0 = nrows * tid / nt, r1 = nrows * (tid + 1) / nt;
            size_t off = (size_t)(r0 * n) * esz;
            t->softmax_backward[dt](log, (const char *)g + off, (const char *)y + off,
                                    (char *)out + off, r1 - r0, n);
        }
        return;
    }
#endif
    t->softmax_backward[dt](log, g, y, out, nrows, n);
}

void csm_sigmoid(csm_dtype dt, int log, const void *x, void *out, ptrdiff_t n)
{
    table()->sigmoid[dt](log, x, out, n);
}

double csm_binary_cross_entropy(csm_dtype dt, const void *x, const void *t, const void *w,
                                ptrdiff_t n, double grad_scale, void *loss, void *grad)
{
    return table()->binary_cross_entropy[dt](x, t, w, n, grad_scale, loss, grad);
}
