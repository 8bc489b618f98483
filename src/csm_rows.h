/* Template (see csm_types.h): softmax, log_softmax and logsumexp over contiguous rows.
 *
 * Three passes per row (max; exp + sum; scale): while a row sits in L1/L2 the extra passes are
 * nearly free and each pass is a simple vectorizable loop (XNNPACK's "three-pass with reloading").
 * Loops work on blocks of LANES elements held in small arrays so gcc maps each block to a few
 * vector registers; the row tail goes through the same code in a padded local block. */

#define LANES (2 * CSM_VEC_BYTES / (int)sizeof(T))
/* float lane sums are flushed to double every FLUSH blocks: each lane then adds at most FLUSH
 * terms in T, bounding the float32 summation error near 1e-7 for any row length. */
#define FLUSH 8

/* Row max ignoring NaN; *has_nan set if any element is NaN. */
static T CSM_FN(row_max)(const T *x, ptrdiff_t n, int *has_nan)
{
    T m[LANES];
    IT nan[LANES];
    ptrdiff_t i = 0;
    int j;
    for (j = 0; j < LANES; j++) { m[j] = -(T)INFINITY; nan[j] = 0; }
    for (; i + LANES <= n; i += LANES) {
        for (j = 0; j < LANES; j++) {
            T v = x[i + j];
            m[j] = v > m[j] ? v : m[j];
            nan[j] |= (IT)(v != v);
        }
    }
    for (; i < n; i++) {
        T v = x[i];
        m[0] = v > m[0] ? v : m[0];
        nan[0] |= (IT)(v != v);
    }
    T best = m[0];
    IT any = 0;
    for (j = 0; j < LANES; j++) {
        best = m[j] > best ? m[j] : best;
        any |= nan[j];
    }
    *has_nan = any != 0;
    return best;
}

/* out[i] = expm(x[i]); returns the sum in double. out may equal x (each block is read whole
 * before it is written). */
static double CSM_FN(exp_store_sum)(const T *x, T *out, ptrdiff_t n, CSM_FN(shift) s)
{
    double wide[LANES];
    T acc[LANES], e[LANES];
    ptrdiff_t i = 0;
    int j, blocks = 0;
    for (j = 0; j < LANES; j++) { wide[j] = 0; acc[j] = 0; }
    for (; i + LANES <= n; i += LANES) {
        for (j = 0; j < LANES; j++) e[j] = CSM_FN(expm)(x[i + j], s.c, s.k, s.y_lo);
        for (j = 0; j < LANES; j++) { out[i + j] = e[j]; acc[j] += e[j]; }
        if (++blocks == FLUSH) {
            for (j = 0; j < LANES; j++) { wide[j] += acc[j]; acc[j] = 0; }
            blocks = 0;
        }
    }
    if (i < n) {
        T pad[LANES];
        int rest = (int)(n - i);
        for (j = 0; j < LANES; j++) pad[j] = j < rest ? x[i + j] : -(T)INFINITY;
        for (j = 0; j < LANES; j++) e[j] = CSM_FN(expm)(pad[j], s.c, s.k, s.y_lo);
        for (j = 0; j < rest; j++) out[i + j] = e[j];
        for (j = 0; j < LANES; j++) acc[j] += e[j];
    }
    double total = 0;
    for (j = 0; j < LANES; j++) total += wide[j] + (double)acc[j];
    return total;
}

/* Sum of expm(x[i]) over the elements below the max, and the count of elements equal to it:
 * keeping the max's own 1 out of the sum lets log1p keep relative accuracy when the rest is tiny. */
static double CSM_FN(exp_sum_below_max)(const T *x, ptrdiff_t n, T max, CSM_FN(shift) s,
                                         ptrdiff_t *n_max)
{
    double wide[LANES];
    T acc[LANES];
    IT ties[LANES];
    ptrdiff_t i = 0, count = 0;
    int j, blocks = 0;
    for (j = 0; j < LANES; j++) { wide[j] = 0; acc[j] = 0; ties[j] = 0; }
    for (; i + LANES <= n; i += LANES) {
        for (j = 0; j < LANES; j++) {
            T v = x[i + j];
            T e = CSM_FN(expm)(v, s.c, s.k, s.y_lo);
            acc[j] += v < max ? e : 0;
            ties[j] += (IT)(v == max);
        }
        if (++blocks == FLUSH) {
            for (j = 0; j < LANES; j++) { wide[j] += acc[j]; acc[j] = 0; }
            blocks = 0;
        }
    }
    for (; i < n; i++) {
        T v = x[i];
        T e = CSM_FN(expm)(v, s.c, s.k, s.y_lo);
        acc[0] += v < max ? e : 0;
        ties[0] += (IT)(v == max);
    }
    double total = 0;
    for (j = 0; j < LANES; j++) { total += wide[j] + (double)acc[j]; count += ties[j]; }
    *n_max = count;
    return total;
}

/* log(sum_i exp(x_i - max)) for a row whose max is finite. */
static double CSM_FN(log_sum_exp_shifted)(const T *x, ptrdiff_t n, T max)
{
    CSM_FN(shift) s = CSM_FN(make_shift)(max);
    ptrdiff_t ties;
    double rest = CSM_FN(exp_sum_below_max)(x, n, max, s, &ties);
    double e_max = (double)CSM_FN(expm)(max, s.c, s.k, s.y_lo);
    /* sum = ties * e_max + rest, in units of e_max = exp(max - c) 2^-k */
    return log((double)ties) + log1p(rest / ((double)ties * e_max));
}

static void CSM_FN(fill)(T *out, ptrdiff_t n, T value)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = value;
}

static void CSM_FN(softmax_row)(const T *x, T *out, ptrdiff_t n)
{
    int has_nan;
    T max = CSM_FN(row_max)(x, n, &has_nan);
    if (has_nan || !(max < (T)INFINITY && max > -(T)INFINITY)) {
        /* NaN, +inf (inf - inf) or all -inf (0/0): the whole row is NaN */
        CSM_FN(fill)(out, n, (T)NAN);
        return;
    }
    double sum = CSM_FN(exp_store_sum)(x, out, n, CSM_FN(make_shift)(max));
    T inv = (T)(1.0 / sum);
    for (ptrdiff_t i = 0; i < n; i++) out[i] *= inv;
}

static void CSM_FN(log_softmax_row)(const T *x, T *out, ptrdiff_t n)
{
    int has_nan;
    T max = CSM_FN(row_max)(x, n, &has_nan);
    if (has_nan || !(max < (T)INFINITY && max > -(T)INFINITY)) {
        CSM_FN(fill)(out, n, (T)NAN);
        return;
    }
    T lse = (T)CSM_FN(log_sum_exp_shifted)(x, n, max);
    /* (x - max) - lse in this order: x - max is exact near the max, and both terms have the
     * result's sign, so no cancellation (PyTorch issue 11752). */
    for (ptrdiff_t i = 0; i < n; i++) out[i] = (x[i] - max) - lse;
}

static T CSM_FN(logsumexp_row)(const T *x, ptrdiff_t n)
{
    int has_nan;
    T max = CSM_FN(row_max)(x, n, &has_nan);
    if (has_nan) return (T)NAN;
    if (!(max < (T)INFINITY && max > -(T)INFINITY)) return max; /* +inf, or -inf (empty/all -inf) */
    return (T)((double)max + CSM_FN(log_sum_exp_shifted)(x, n, max));
}

/* Entry points: nrows rows of n elements; row r of x starts at x + r*ldx (elements). */
static void CSM_FN(softmax_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                          ptrdiff_t ldo)
{
    for (ptrdiff_t r = 0; r < nrows; r++) CSM_FN(softmax_row)(x + r * ldx, out + r * ldo, n);
}

static void CSM_FN(log_softmax_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                              ptrdiff_t ldo)
{
    for (ptrdiff_t r = 0; r < nrows; r++) CSM_FN(log_softmax_row)(x + r * ldx, out + r * ldo, n);
}

/* out[r * ldo] = logsumexp of row r */
static void CSM_FN(logsumexp_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                            ptrdiff_t ldo)
{
    for (ptrdiff_t r = 0; r < nrows; r++) out[r * ldo] = CSM_FN(logsumexp_row)(x + r * ldx, n);
}

#undef LANES
#undef FLUSH
