/* Template (see csm_types.h, csm_simd.h, csm_cols.h): short rows (n <= SMALL_ROW_MAX).
 *
 * With a few elements per row, per-row work (horizontal max and sum, the tail, the shift) costs
 * more than the exps. So BLOCK = NB*VL rows are done at once, one row per vector lane: the block is
 * transposed into an (n, NB*VL) buffer, which is exactly the strided-axis problem the column kernels
 * solve, and transposed back. */

/* rows r0..r0+w of x (w <= BLOCK) into buf[j*BLOCK + lane]; missing lanes get 0 (finite,
 * ignored). AVX-512: VL rows by VL columns at a time, masked loads and a transpose in registers
 * (element by element, the copies cost more than the kernel: 16384x10 softmax ...). */
static void CSM_FN(gather_rows)(const T *x, ptrdiff_t n, ptrdiff_t ldx, int w, T *buf)
{
#if CSM_MASKED_TAILS
    for (int b = 0; b < BLOCK; b += VL)
        for (ptrdiff_t c = 0; c < n; c += VL) {
            int cols = n - c < VL ? (int)(n - c) : VL, l;
            VT v[VL];
            for (l = 0; l < VL; l++)
                v[l] = b + l < w ? CSM_FN(vload_part)(x + (b + l) * ldx + c, cols, 0)
                                 : CSM_FN(vsplat)(0);
            CSM_FN(vtranspose)(v);
            for (l = 0; l < cols; l++) CSM_FN(vstore)(buf + (c + l) * BLOCK + b, v[l]);
        }
#else
    for (int l = 0; l < BLOCK; l++) {
        const T *row = x + l * ldx;
        if (l < w)
            for (ptrdiff_t j = 0; j < n; j++) buf[j * BLOCK + l] = row[j];
        else
            for (ptrdiff_t j = 0; j < n; j++) buf[j * BLOCK + l] = 0;
    }
#endif
}

static void CSM_FN(scatter_rows)(const T *buf, ptrdiff_t n, T *out, ptrdiff_t ldo, int w)
{
#if CSM_AVX512 /* AVX2 stores tails element by element anyway: the plain copy is faster */
    for (int b = 0; b < w; b += VL)
        for (ptrdiff_t c = 0; c < n; c += VL) {
            int cols = n - c < VL ? (int)(n - c) : VL, l;
            VT v[VL];
            for (l = 0; l < VL; l++)
                v[l] = l < cols ? CSM_FN(vload)(buf + (c + l) * BLOCK + b) : CSM_FN(vsplat)(0);
            CSM_FN(vtranspose)(v);
            for (l = 0; l < VL && b + l < w; l++)
                CSM_FN(vstore_part)(out + (b + l) * ldo + c, v[l], cols);
        }
#else
    for (int l = 0; l < w; l++) {
        T *row = out + l * ldo;
        for (ptrdiff_t j = 0; j < n; j++) row[j] = buf[j * BLOCK + l];
    }
#endif
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
