/* Template (included by csm_rows.h): rows larger than L2, where every pass over x is a pass over
 * L3 or memory. The three-pass kernels read x for the max, then again for the exps; these read
 * it once, a block at a time: each block's max is taken as the block arrives, and its exps are
 * computed while it is still in L1, under the block's own 2^-k (csm_exp.h). Moving a block's
 * sums and exps to the row's k is then a multiplication by a power of two, exact, so the results
 * are those of three passes: only values that three passes flush to 0 (below the smallest
 * normal) may come out as subnormals instead.
 *
 * Rows the blocks cannot serve go through three passes: a max that needs the floating-point
 * pivot (|max| >= T_PIVOT_MIN: blocks would not differ by powers of two), +inf, or no finite max
 * (rare, and three passes already give those rows their NaN results). */

#define LONG_BLOCK ((ptrdiff_t)(LONG_BLOCK_BYTES / sizeof(T))) /* L1 holds a block and its output */

/* The row's sums, in units of 2^-k of its max (as exp_sum_below_max), and each block's k. */
typedef struct {
    T max;
    int k;        /* make_shift's k for max */
    double e_max; /* expm(max) */
    double ties;  /* count of elements equal to max (0 when sums were asked for without it) */
    double rest;  /* sum of expm below max (of all elements, without ties) */
    int *kb;      /* k of each block, INT32_MIN where the block has no finite max */
    int kb_stack[LONG_BLOCKS_ON_STACK];
} CSM_FN(long_row);

static int CSM_FN(is_long_row)(ptrdiff_t n)
{
    return n * (ptrdiff_t)sizeof(T) > ROW_L2_BYTES; /* shorter rows gain nothing (measured) */
}

/* make_shift's k for a finite max below T_PIVOT_MIN */
static inline int CSM_FN(shift_exponent)(T max)
{
    return (int)((max * T_LOG2E + T_MAGIC) - T_MAGIC);
}

static void CSM_FN(long_row_free)(CSM_FN(long_row) *lr)
{
    if (lr->kb != lr->kb_stack) free(lr->kb);
}

/* One read of x: expm of each block under the block's shift into out (when not NULL), and the
 * row's sums into lr; with `ties`, the elements equal to the max are counted apart (the log1p
 * form of log_sum_exp_shifted). Returns 0 when the row must go through three passes (out is then
 * undefined). Else the caller finishes with long_row_scale or reads lr, then long_row_free. */
static int CSM_FN(long_row_sums)(const T *x, T *out, ptrdiff_t n, int ties, CSM_FN(long_row) *lr)
{
    ptrdiff_t nblocks = (n + LONG_BLOCK - 1) / LONG_BLOCK, b, i;
    lr->kb = lr->kb_stack;
    if (nblocks > LONG_BLOCKS_ON_STACK) {
        lr->kb = (int *)malloc((size_t)nblocks * sizeof *lr->kb);
        if (!lr->kb) return 0;
    }
    lr->max = -(T)INFINITY;
    lr->k = INT32_MIN;
    lr->e_max = lr->ties = lr->rest = 0;
    for (b = 0, i = 0; b < nblocks; b++, i += LONG_BLOCK) {
        ptrdiff_t len = n - i < LONG_BLOCK ? n - i : LONG_BLOCK, nt = 0;
        const T *xb = x + i, *next = i + 2 * LONG_BLOCK <= n ? xb + LONG_BLOCK : NULL;
        T m = CSM_FN(row_max)(xb, len);
        if (m == -(T)INFINITY) { /* all -inf (exps 0) or NaN (the row's sums NaN) */
            if (out) CSM_FN(fill)(out + i, len, 0);
            if (CSM_FN(has_nan)(xb, len)) lr->rest = NAN;
            lr->kb[b] = INT32_MIN;
            continue;
        }
        if (!(m < T_PIVOT_MIN && m > -T_PIVOT_MIN)) { /* +inf or the pivot */
            CSM_FN(long_row_free)(lr);
            return 0;
        }
        /* the next block is prefetched behind this block's exps (the rows' next_row, here) */
        CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(m));
        double sum = ties
            ? CSM_FN(exp_sum_below_max)(xb, out ? out + i : NULL, NULL, len, m, s, &nt, next)
            : CSM_FN(exp_store_sum)(xb, out + i, len, s, next);
        int k = CSM_FN(shift_exponent)(m);
        double e_m = (double)CSM_FN(expm)(CSM_FN(vsplat)(m), s)[0];
        lr->kb[b] = k;
        if (m > lr->max) { /* a new max: what came before moves below it, to its k */
            double below = lr->rest + lr->ties * lr->e_max;
            lr->rest = (lr->k == INT32_MIN ? below : ldexp(below, lr->k - k)) + sum;
            lr->max = m;
            lr->k = k;
            lr->e_max = e_m;
            lr->ties = (double)nt;
        } else if (m == lr->max) {
            lr->rest += sum;
            lr->ties += (double)nt;
        } else {
            lr->rest += ldexp(sum + (double)nt * e_m, k - lr->k);
        }
    }
    if (lr->k == INT32_MIN) { /* no finite max */
        CSM_FN(long_row_free)(lr);
        return 0;
    }
    return 1;
}

/* out = out * (a moved from the row's k to each block's) - b * wc (wc NULL: 1): the last pass of
 * softmax and of the cross-entropy gradient, with a = 1 / S (times the loss' factors). */
static void CSM_FN(long_row_scale)(T *out, ptrdiff_t n, const CSM_FN(long_row) *lr, T a, T b,
                                   const T *wc)
{
    for (ptrdiff_t blk = 0, i = 0; i < n; blk++, i += LONG_BLOCK) {
        ptrdiff_t len = n - i < LONG_BLOCK ? n - i : LONG_BLOCK;
        int kb = lr->kb[blk];
        /* a block without a finite max holds zeros; 0 * a keeps a NaN a */
        T f = kb == INT32_MIN ? 0 * a : (T)ldexp((double)a, kb - lr->k);
        CSM_FN(axpb)(out + i, len, f, b, wc ? wc + i : NULL);
    }
}

/* out[i] (an exp of long_row_sums) moved to the row's units */
static double CSM_FN(long_row_at)(const CSM_FN(long_row) *lr, const T *out, ptrdiff_t i)
{
    int kb = lr->kb[i / LONG_BLOCK];
    return kb == INT32_MIN ? 0 : ldexp((double)out[i], kb - lr->k);
}

/* softmax of a long row; returns 0 when it must go through three passes */
static int CSM_FN(softmax_long_row)(const T *x, T *out, ptrdiff_t n)
{
    CSM_FN(long_row) lr;
    if (!CSM_FN(long_row_sums)(x, out, n, 0, &lr)) return 0;
    CSM_FN(long_row_scale)(out, n, &lr, (T)(1.0 / lr.rest), 0, NULL);
    CSM_FN(long_row_free)(&lr);
    return 1;
}

/* log(sum exp(x - max)) of a long row, with its max; returns 0 when it must go through three
 * passes */
static int CSM_FN(log_sum_exp_long_row)(const T *x, ptrdiff_t n, T *max, double *L)
{
    CSM_FN(long_row) lr;
    if (!CSM_FN(long_row_sums)(x, NULL, n, 1, &lr)) return 0;
    *max = lr.max;
    *L = log(lr.ties) + log1p(lr.rest / (lr.ties * lr.e_max));
    CSM_FN(long_row_free)(&lr);
    return 1;
}

#undef LONG_BLOCK
