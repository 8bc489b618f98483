/* C-level test of every kernel entry of the C API (src/csoftmax.h), without Python: each entry,
 * for float32 and float64, on every instruction-set build this CPU runs (csm_isa_count /
 * csm_isa_supported / csm_set_isa), against a scalar long double reference (harness.c), over
 * row lengths 1..70, 127, 128, 129, 1000 and 20000, strides (ldx > n, column layouts, per-row
 * offsets and steps), 1 and 2 threads (the two must give the same bits) and special values (-inf
 * entries, all -inf rows, +inf, NaN, huge and tiny magnitudes). Build and run: tests/c/run.sh
 * (natively) or .ci/c_tests (natively, then cross-compiled for aarch64 under qemu-aarch64).
 *
 * The semantics of special values are csoftmax/reference/'s (softmax_family.py, stats.py,
 * decoding.py, and the formulas in src/losses/csm_losses.h, csm_elementwise.h). The
 * accuracy bounds are the Python tests' own numbers; each is given with the test it comes from.
 * Exits 1 on any failure, after printing the first failures of each kind and a table per
 * instruction set (checks, failures, largest error in units in the last place of the result's
 * type) and the closing line "test_kernels: N passed, M failed" (N, M: groups of checks, one per
 * instruction set, entry and dtype).
 *
 * This file holds main (the order of the tests, which fixes the random stream) and the ISA and
 * thread controls' test; each family's checks are in test_<family>.c, the reference, the checks
 * and the generated inputs they share in harness.c (harness.h). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"

/* ------------------------------------------------------------------------- controls */

static void test_controls(void)
{
    int best = -1;
    for (int i = 0; i < n_isas; i++)
        if (csm_isa_supported(i) && best < 0) best = i;
    FOR_EACH_ISA
    {
        csm_dtype dt = CSM_FLOAT32;
        snprintf(ctx, sizeof ctx, "isa %d", cur_isa);
        expect(E_CONTROLS, dt, csm_get_isa() == cur_isa, "csm_get_isa", 0, csm_get_isa(), cur_isa);
        expect(E_CONTROLS, dt, csm_isa_name(cur_isa) != NULL, "csm_isa_name", 0, 0, 0);
        expect(E_CONTROLS, dt, csm_isa_supported(n_isas - 1), "the last set runs anywhere", 0, 0,
               0);
        expect(E_CONTROLS, dt,
               csm_set_isa(-1) == -1 && csm_set_isa(n_isas) == -1 && csm_isa_name(n_isas) == NULL
                   && csm_isa_supported(n_isas) == 0,
               "out of range", 0, 0, 0);
        expect(E_CONTROLS, dt, csm_get_isa() == cur_isa, "kept after a refused set", 0, 0, 0);
#if defined(__aarch64__)
        expect(E_CONTROLS, dt, n_isas == 1 && strcmp(csm_isa_name(0), "neon") == 0,
               "aarch64 reports one set, neon", 0, n_isas, 1);
#elif defined(__x86_64__)
        expect(E_CONTROLS, dt, strcmp(csm_isa_name(n_isas - 1), "baseline") == 0,
               "x86-64's last set is baseline", 0, 0, 0);
#endif
        /* CSOFTMAX_ISA: an unknown name is refused and the best set kept; a known one is taken */
        setenv("CSOFTMAX_ISA", "no-such-isa", 1);
        expect(E_CONTROLS, dt, csm_init_isa_from_env() == -1, "unknown CSOFTMAX_ISA", 0, 0, 0);
        setenv("CSOFTMAX_ISA", csm_isa_name(cur_isa), 1);
        expect(E_CONTROLS, dt, csm_init_isa_from_env() == 0 && csm_get_isa() == cur_isa,
               "CSOFTMAX_ISA", 0, csm_get_isa(), cur_isa);
        unsetenv("CSOFTMAX_ISA");
        /* threads: the process limit, the calling thread's override, the limit in force */
        csm_init_threads();
        int omp = csm_openmp_available();
        csm_set_num_threads(2);
        expect(E_CONTROLS, dt, csm_get_num_threads() == (omp ? 2 : 1), "num_threads", 0,
               csm_get_num_threads(), 2);
        csm_set_thread_override(3);
        expect(E_CONTROLS, dt, csm_get_thread_override() == 3 && csm_thread_limit() == 3,
               "override", 0, csm_thread_limit(), 3);
        csm_set_thread_override(0);
        expect(E_CONTROLS, dt, csm_thread_limit() == csm_get_num_threads(), "override cleared", 0,
               0, 0);
        csm_set_num_threads(0);
        expect(E_CONTROLS, dt, csm_get_num_threads() == 1 && csm_omp_max_threads() >= 1,
               "at least 1", 0, csm_get_num_threads(), 1);
    }
}

/* ----------------------------------------------------------------------------- main */

/* CPU seconds per group of tests, for the summary (where an emulated run spends its time) */
enum { T_ROWS, T_COLS, T_FUSED, T_LOSSES, T_STATS, T_ELEMENTWISE, T_DECODE, NT };
static const char *timer_name[NT] = {
    "rows", "cols", "fused", "cross-entropy", "stats", "backward/sigmoid/bce", "decoding"};
static double timers[NT];
#define TIMED(group, call)                                                                         \
    do {                                                                                           \
        clock_t t0_ = clock();                                                                     \
        call;                                                                                      \
        timers[group] += (double)(clock() - t0_) / CLOCKS_PER_SEC;                                 \
    } while (0)

int main(int argc, char **argv)
{
    /* 33000: a float32 row over ROW_L2_BYTES (csm_tuning.h), for csm_rows_long.h (float64 rows
     * are from 16385 elements on), and float16 rows over 16384 (csm_rows_half.h) */
    static const ptrdiff_t extra[] = {127, 128, 129, 1000, 20000, 33000};
    clock_t start = clock();
    time_t wall = time(NULL);
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    rng_state = 20251129;
    n_isas = csm_isa_count();
    if (n_isas > MAX_ISAS) n_isas = MAX_ISAS;
    printf("test_kernels: instruction sets");
    for (int i = 0; i < n_isas; i++)
        printf(" %s (%s)", csm_isa_name(i), csm_isa_supported(i) ? "runs here" : "not on this CPU");
    printf("; OpenMP %s; long double has %d mantissa bits\n", csm_openmp_available() ? "on" : "off",
           LDBL_MANT_DIG);
    test_controls();
    for (int d = 0; d < 2; d++) {
        csm_dtype dt = (csm_dtype)d;
        ptrdiff_t lengths[90];
        int nl = 0;
        for (ptrdiff_t n = 1; n <= 70; n++) lengths[nl++] = n;
        for (int i = 0; i < 6; i++) lengths[nl++] = extra[i];
        for (int i = 0; i < nl; i++) {
            ptrdiff_t n = lengths[i];
            if (quick && n > 1000) continue;
            TIMED(T_ROWS, test_rows(dt, n, n <= 40 ? 70 : n <= 1000 ? 12 : 4));
            if (n == 33000) {
                if (dt == CSM_FLOAT32) TIMED(T_FUSED, test_fused(dt, n, 7));
                continue;
            }
            TIMED(T_STATS, test_stats(dt, n));
            TIMED(T_ELEMENTWISE, test_backward(dt, n); test_sigmoid(dt, n); test_bce(dt, n));
            if (n <= 40 || n % 100 == 0 || n == 129)
                TIMED(T_ELEMENTWISE, test_fp_environment(dt, n));
            for (int variant = 0; variant < 8; variant++) {
                if ((variant >= 3 && dt != CSM_FLOAT32 && variant != 6)
                    || (variant == 6 && dt != CSM_FLOAT64))
                    continue;
                if (n > 129 && n != 1000 && n != 20000) continue;
                /* 20000: the plain, transposed and float16 layouts only (time under emulation) */
                if (n == 20000 && variant != 0 && variant != 2 && variant != 3) continue;
                TIMED(T_FUSED, test_fused(dt, n, variant));
            }
        }
        static const ptrdiff_t reds[] = {1, 2, 3, 5, 8, 17, 33, 64, 127, 1000};
        static const ptrdiff_t inners[] = {1, 3, 16, 17, 70, 130};
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 6; j++) {
                if (reds[i] == 1000 && (inners[j] == 16 || inners[j] == 70)) continue;
                TIMED(T_COLS,
                      test_cols(dt, reds[i] * inners[j] < 4000 ? 3 : 1, reds[i], inners[j],
                                i * 6 + j));
            }
        static const ptrdiff_t classes[] = {1, 2, 3, 7, 16, 17, 33, 64, 100, 1000, 20000};
        for (int i = 0; i < 11; i++)
            for (int variant = 0; variant < 5; variant++) /* the longest: index and soft targets */
                if (classes[i] < 20000 || variant == 1 || variant == 3)
                    TIMED(T_LOSSES, test_cross_entropy(dt, classes[i], variant));
        test_targets_and_sum(dt);
        static const ptrdiff_t dn[] = {1, 7, 100, 3000, 20000};
        for (int i = 0; i < 5; i++) {
            ptrdiff_t n = dn[i];
            TIMED(T_DECODE, test_top_k(dt, n, 1); test_top_k(dt, n, n < 20 ? n : 20));
            if (n <= 100) TIMED(T_DECODE, test_top_k(dt, n, n));
            if (n <= 3000) TIMED(T_DECODE, test_sample(dt, n));
        }
    }
    /* the table and the closing line */
    long groups = 0, bad_groups = 0, checks = 0;
    for (int i = 0; i < n_isas; i++) {
        if (!csm_isa_supported(i)) continue;
        printf("\n%-30s %38s %38s\n", csm_isa_name(i), "float32: checks fails ulp err/tol",
               "float64: checks fails ulp err/tol");
        for (int e = 0; e < NE; e++) {
            printf("  %-28s", entry_name[e]);
            for (int d = 0; d < 2; d++) {
                tally *t = &tallies[i][d][e];
                printf(" %14ld %5ld %7.3g %7.3g", t->checks, t->fails, t->max_ulp, t->max_ratio);
                if (t->checks) groups++, bad_groups += t->fails > 0, checks += t->checks;
            }
            printf("\n");
        }
    }
    printf("\ntest_kernels: CPU seconds:");
    for (int g = 0; g < NT; g++)
        printf(" %s %.1f%s", timer_name[g], timers[g], g < NT - 1 ? "," : "\n");
    printf("test_kernels: %ld checks in %.1f s CPU, %ld s wall\n", checks,
           (double)(clock() - start) / CLOCKS_PER_SEC, (long)(time(NULL) - wall));
    printf("test_kernels: %ld passed, %ld failed\n", groups - bad_groups, bad_groups);
    return bad_groups ? 1 : 0;
}
