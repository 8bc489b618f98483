/* C harness for tools/kernel_cycles.py: times one build's kernel table directly (no Python), in
 * ns and core cycles per element. Compiled with -DCSM_ISA=<isa> against that build's object.
 *
 *   kernel_cycles ROWS N [ROWS N ...]
 *   prints: op dtype path rows n ns_per_elem cycles_per_elem ns_per_elem_with_ftz_daz
 *
 * Paths: "rows" (the plain row kernels, float32 and float64), "fused" (float32 with a scale and a
 * bias row: the block path) and "half" (float16 in and out, where the build has half kernels).
 * The table's entries are called directly, so the calling thread's MXCSR is what they run with:
 * the last column sets FTZ and DAZ around the timing (csm_run does so for every call), the one
 * before it leaves them off, which on Intel shows any subnormal the kernel lets through.
 *
 * The core clock is measured, not assumed: a chain of dependent integer adds retires one per
 * cycle on every x86-64 core, so its time per add is the cycle time (turbo included). */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>
#include "csm_half.h"
#include "csm_kernel_table.h"

#define TABLE_(isa) csm_table_##isa
#define TABLE(isa) TABLE_(isa)
extern const csm_kernel_table TABLE(CSM_ISA);
#define STR_(x) #x
#define STR(x) STR_(x)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double ns_per_cycle(void)
{
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t v = rep;
        const long iters = 200000000;
        double t0 = now();
        for (long i = 0; i < iters; i++) __asm__ volatile("add $1, %0" : "+r"(v));
        double dt = (now() - t0) / (double)iters * 1e9;
        if (dt < best) best = dt;
    }
    return best;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median over 9 samples of the per-call time of a ~5 ms batch; an entry of the table (no
 * planner, no threads) on contiguous rows stored as `kind` */
static double time_call(csm_call_fn f, csm_dtype dt, csm_storage kind, const void *x, void *out,
                        ptrdiff_t rows, ptrdiff_t n, int op, const double *scale, const void *bias)
{
    double samples[9];
    ptrdiff_t es = kind == CSM_STORE_F64 ? 8 : kind == CSM_STORE_F32 ? 4 : 2;
    csm_call c = {.op = (csm_op)op,
                  .compute = dt,
                  .xkind = kind,
                  .okind = kind,
                  .nrows = rows,
                  .n = n,
                  .x = (const char *)x,
                  .ldx = n * es,
                  .xstep = es,
                  .out = (char *)out,
                  .ldo = (op == CSM_LOGSUMEXP ? 1 : n) * es,
                  .ostep = op == CSM_LOGSUMEXP ? 0 : es,
                  .scale = scale,
                  .bias = (const char *)bias,
                  .bstep = bias ? es : 0};
    f(&c, 0, rows);
    double t0 = now();
    f(&c, 0, rows);
    double one = now() - t0;
    long reps = one > 0 ? (long)(5e-3 / one) + 1 : 1000;
    for (int s = 0; s < 9; s++) {
        t0 = now();
        for (long r = 0; r < reps; r++) f(&c, 0, rows);
        samples[s] = (now() - t0) / (double)reps;
    }
    qsort(samples, 9, sizeof samples[0], cmp);
    return samples[4];
}

/* one printed line: the timing with the calling thread's MXCSR, then with FTZ and DAZ set */
static void report(const char *op, const char *dtype, const char *path, csm_call_fn f, csm_dtype dt,
                   csm_storage kind, const void *x, void *out, ptrdiff_t rows, ptrdiff_t n, int opi,
                   const double *scale, const void *bias, double cycle_ns)
{
    unsigned csr = _mm_getcsr();
    double t = time_call(f, dt, kind, x, out, rows, n, opi, scale, bias);
    _mm_setcsr(csr | 0x8040u);
    double t_ftz = time_call(f, dt, kind, x, out, rows, n, opi, scale, bias);
    _mm_setcsr(csr);
    double per = t * 1e9 / (double)(rows * n), per_ftz = t_ftz * 1e9 / (double)(rows * n);
    printf("%s\t%s\t%s\t%ld\t%ld\t%.3f\t%.2f\t%.3f\n", op, dtype, path, (long)rows, (long)n, per,
           per / cycle_ns, per_ftz);
}

int main(int argc, char **argv)
{
    static const char *ops[] = {"softmax", "log_softmax", "logsumexp"};
    static const char *dtypes[] = {"float32", "float64"};
    const csm_kernel_table *t = &TABLE(CSM_ISA);
    double cycle_ns = ns_per_cycle(), scale = 0.5;
    printf("# isa %s, core clock %.2f GHz (measured)\n", STR(CSM_ISA), 1.0 / cycle_ns);
    for (int a = 1; a + 1 < argc; a += 2) {
        ptrdiff_t rows = atol(argv[a]), n = atol(argv[a + 1]);
        for (int dt = 0; dt < 2; dt++) {
            size_t es = dt ? sizeof(double) : sizeof(float), bytes = (size_t)(rows * n) * es;
            void *x = aligned_alloc(64, (bytes + 63) / 64 * 64);
            void *out = aligned_alloc(64, (bytes + 63) / 64 * 64);
            float *bias = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
            uint16_t *xh = aligned_alloc(64, ((size_t)(rows * n) * 2 + 63) / 64 * 64);
            srand(1);
            for (ptrdiff_t i = 0; i < rows * n; i++) {
                double v = 8.0 * rand() / RAND_MAX - 4.0;
                if (dt) ((double *)x)[i] = v;
                else ((float *)x)[i] = (float)v;
                xh[i] = csm_f32_to_f16((float)v);
            }
            for (ptrdiff_t j = 0; j < n; j++) bias[j] = (float)(2.0 * rand() / RAND_MAX - 1.0);
            for (int op = 0; op < CSM_NUM_OPS; op++) {
                report(ops[op], dtypes[dt], "rows", t->rows[dt][op], (csm_dtype)dt, (csm_storage)dt,
                       x, out, rows, n, op, NULL, NULL, cycle_ns);
                if (dt) continue;
                report(ops[op], "float32", "fused", t->fused[0][op], CSM_FLOAT32, CSM_STORE_F32, x,
                       out, rows, n, op, &scale, bias, cycle_ns);
                if (t->rows[CSM_STORE_F16][op])
                    report(ops[op], "float16", "half", t->rows[CSM_STORE_F16][op], CSM_FLOAT32,
                           CSM_STORE_F16, xh, out, rows, n, op, NULL, NULL, cycle_ns);
            }
            free(x);
            free(out);
            free(bias);
            free(xh);
        }
    }
    return 0;
}
