/* The C test program's shared harness (harness.c): the checks against the long double reference
 * with their per-ISA tallies and failure reports (check, expect), the values stored in each type,
 * the generated rows of logits, and the softmax family's reference row (ref_row, check_family).
 * Each test_<family>.c checks one family's entries of the C API; test_kernels.c runs them all in
 * a fixed order (one random stream, so the same checks every run) and prints the table. */
#ifndef CSM_TEST_HARNESS_H
#define CSM_TEST_HARNESS_H
#include <stddef.h>
#include <stdint.h>
#include "csoftmax.h"

typedef long double LD;
#define MAX_ISAS 8

/* ------------------------------------------------------------------------- bookkeeping */

enum {
    E_ROWS_SM,
    E_ROWS_LSM,
    E_ROWS_LSE,
    E_COLS_SM,
    E_COLS_LSM,
    E_COLS_LSE,
    E_FUSED_SM,
    E_FUSED_LSM,
    E_FUSED_LSE,
    E_CE,
    E_CE_TARGETS,
    E_SUM,
    E_STATS,
    E_FROM_STATS_SM,
    E_FROM_STATS_LSM,
    E_BWD,
    E_LOG_BWD,
    E_SIGMOID,
    E_LOG_SIGMOID,
    E_BCE,
    E_TOPK,
    E_SAMPLE,
    E_CONTROLS,
    E_FPENV,
    NE
};

typedef struct {
    long checks, fails;
    double max_ulp;   /* largest |got - want| in units in the last place, over results in the
                       * normal range (below it the bounds are absolute) */
    double max_ratio; /* largest |got - want| / tolerance */
} tally;

extern const char *entry_name[NE];
extern tally tallies[MAX_ISAS][2][NE];
extern int cur_isa;   /* the build being checked */
extern char ctx[256]; /* what is being checked, for failure messages */
extern long printed[NE];
extern const int kind_mant[4], kind_emin[4];
extern uint64_t rng_state;
extern int n_isas;

#define KIND(dt) ((int)(dt)) /* CSM_FLOAT32 -> CSM_STORE_F32, CSM_FLOAT64 -> CSM_STORE_F64 */

/* Rows of logits: kinds 0..NSPECIAL-1 are special_rows() of tests/softmax/test_fast_vs_reference.py
 * plus tiny, subnormal and huge magnitudes, a half far below the other, and the logsumexp-near-0
 * rows of test_accuracy.py; the others are random, drawn as test_accuracy.py's distributions
 * (normal 1, normal 10, uniform +-100, uniform +-1e4) with ~2% -inf entries that are never the
 * max. */
enum { K_NEAR_ZERO = 22, NSPECIAL = 23, NKINDS = NSPECIAL + 4 };

/* cls: 0 finite max, 1 NaN in the row, 2 +inf (no NaN), 3 no entry above -inf (or empty) */
typedef struct {
    int cls;
    LD max, logs, scale; /* logs = log(sum exp(x - max)), in log(k) + log1p(rest / k) form */
    LD ties, rest;
} rowref;

#define FOR_EACH_ISA                                                                               \
    for (cur_isa = 0; cur_isa < n_isas; cur_isa++)                                                 \
        if (csm_isa_supported(cur_isa) && csm_set_isa(cur_isa) == 0)

/* harness.c (each described at its definition) */
LD round_to(int kind, LD v);
LD tiny_of(int kind);
LD eps_of(csm_dtype dt);
LD ulp_of(int kind, LD v);
void note_failure(int entry, const char *why, ptrdiff_t i, LD got, LD want, LD tol);
int check(int entry, csm_dtype dt, int kind, LD got, LD want, LD tol, ptrdiff_t i);
int expect(int entry, csm_dtype dt, int ok, const char *what, ptrdiff_t i, LD got, LD want);
LD close_tol(LD want, double rtol, double atol);
uint64_t next64(void);
double unif(void);
double normal(void);
void *xmalloc(size_t n);
uint16_t to_half(int kind, float f);
LD from_half(int kind, uint16_t h);
size_t kind_size(int kind);
LD get_k(int kind, const void *p, ptrdiff_t i);
LD set_k(int kind, void *p, ptrdiff_t i, LD v);
LD get(csm_dtype dt, const void *p, ptrdiff_t i);
LD set(csm_dtype dt, void *p, ptrdiff_t i, LD v);
size_t esz(csm_dtype dt);
LD gen_value(csm_dtype dt, int kind, ptrdiff_t j, ptrdiff_t n);
LD *gen_rows(csm_dtype dt, const int *kinds, ptrdiff_t nrows, ptrdiff_t n);
rowref ref_row(const LD *x, ptrdiff_t n, ptrdiff_t step);
void check_family(int entry, csm_op op, csm_dtype dt, int okind, const LD *x, ptrdiff_t xstep,
                  ptrdiff_t n, const rowref *rr, const LD *got, ptrdiff_t gstep,
                  const unsigned char *excluded, int near_zero);
void expect_same_bits(int entry, csm_dtype dt, const void *a, const void *b, size_t bytes);
void expect_untouched(int entry, csm_dtype dt, const unsigned char *out, ptrdiff_t nrows,
                      ptrdiff_t n, ptrdiff_t ld, size_t es);

/* the families: one file each */
/* test_rows.c */
void test_rows(csm_dtype dt, ptrdiff_t n, int nrand);
void test_cols(csm_dtype dt, ptrdiff_t nouter, ptrdiff_t nred, ptrdiff_t ninner, int seed);
/* test_fused.c */
void test_fused(csm_dtype dt, ptrdiff_t n, int variant);
/* test_losses.c */
void test_cross_entropy(csm_dtype dt, ptrdiff_t C, int variant);
void test_targets_and_sum(csm_dtype dt);
void test_backward(csm_dtype dt, ptrdiff_t n);
void test_sigmoid(csm_dtype dt, ptrdiff_t n);
void test_bce(csm_dtype dt, ptrdiff_t n);
/* test_stats.c */
void test_stats(csm_dtype dt, ptrdiff_t n);
/* test_decode.c */
void test_top_k(csm_dtype dt, ptrdiff_t n, ptrdiff_t k);
void test_sample(csm_dtype dt, ptrdiff_t n);
/* test_fpenv.c */
void test_fp_environment(csm_dtype dt, ptrdiff_t n);
int fp_modes_restored(void);

#endif
