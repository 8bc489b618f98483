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
