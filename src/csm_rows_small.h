/* Template (see csm_types.h, csm_simd.h, csm_cols.h): short rows (n <= SMALL_ROW_MAX).
 *
 * With a few elements per row, per-row work (horizontal max and sum, the tail, the shift) costs
 * more than the exps. So BLOCK = NB*VL rows are done at once, one row per vector lane: the block is
 * transposed into an (n, NB*VL) buffer, which is exactly the strided-axis problem the column kernels
 * solve, and transposed back. */


/* rows r0..r0+w of x (w <= BLOCK) into buf[j*BLOCK + lane]; missing lanes get 0 (finite,
 * ignored) */
static void CSM_FN(gather_rows)(const T *x, ptrdiff_t n, ptrdiff_t ldx, int w, T *buf)
{
    for (int l = 0; l < BLOCK; l++) {
        const T *row = x + l * ldx;
        if (l < w)
            for (ptrdiff_t j = 0; j < n; j++) buf[j * BLOCK + l] = row[j];
        else
            for (ptrdiff_t j = 0; j < n; j++) buf[j * BLOCK + l] = 0;
    }
}

static void CSM_FN(scatter_rows)(const T *buf, ptrdiff_t n, T *out, ptrdiff_t ldo, int w)
{
    for (int l = 0; l < w; l++) {
        T *row = out + l * ldo;
        for (ptrdiff_t j = 0; j < n; j++) row[j] = buf[j * BLOCK + l];
    }
}

typedef void (*CSM_FN(cols_fn))(const T *, T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);

static void CSM_FN(small_rows)(CSM_FN(cols_fn) cols, const T *x, T *out, ptrdiff_t nrows,
                               ptrdiff_t n, ptrdiff_t ldx, ptrdiff_t ldo)
{
    T buf[SMALL_ROW_MAX * BLOCK];
    for (ptrdiff_t r = 0; r < nrows; r += BLOCK) {
        int w = nrows - r < BLOCK ? (int)(nrows - r) : BLOCK;
        CSM_FN(gather_rows)(x + r * ldx, n, ldx, w, buf);
        cols(buf, buf, 1, n, BLOCK, BLOCK);
        CSM_FN(scatter_rows)(buf, n, out + r * ldo, ldo, w);
    }
}

static void CSM_FN(logsumexp_small_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n,
                                         ptrdiff_t ldx, ptrdiff_t ldo)
{
    T buf[SMALL_ROW_MAX * BLOCK], res[BLOCK];
    for (ptrdiff_t r = 0; r < nrows; r += BLOCK) {
        int w = nrows - r < BLOCK ? (int)(nrows - r) : BLOCK;
        CSM_FN(gather_rows)(x + r * ldx, n, ldx, w, buf);
        CSM_FN(logsumexp_cols)(buf, res, 1, n, BLOCK, BLOCK);
        for (int l = 0; l < w; l++) out[(r + l) * ldo] = res[l];
    }
}

