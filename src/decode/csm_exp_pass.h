/* Template: the exp passes of decoding, under the temperature: a row's status from its max, the
 * sum of its exps (stored for top_p, a subsample kept beside), the same sum in top_k's blocks
 * pass, and the guessed shift that lets these passes run before the max is known. */

/* Row status codes (csoftmax.h): 0 fine, 1 NaN or +inf, 2 no finite entry (3: the max over the
 * temperature overflows T, set where it is computed), from the row's max
 * (NaN ignored, so an all -inf or NaN row looks again for a NaN). */
static int CSM_FN(row_status)(const T *x, ptrdiff_t n, T max)
{
    if (max == (T)INFINITY) return 1;
    if (max == -(T)INFINITY) return CSM_FN(has_nan)(x, n) ? 1 : 2;
    return 0;
}

/* v as computed: an opaque copy, so that -ffp-contract=fast cannot fuse the product x * inv_t
 * into expm's subtraction of the pivot. The pivot is the row's max times inv_t rounded, and the
 * max's own term must be exp(0) exactly (an FMA left 3 * (1 / 1e-5) - c = -1.5e-11, and inf
 * for temperature 1e-30). */
static inline VT CSM_FN(rounded)(VT v)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__("" : "+v"(v));
#endif
    return v;
}

/* sum of expm(x[i] * inv_t, s), stored in out[] unless out is NULL, lane 0 of every vector in
 * sub[] unless sub is NULL (top_p's subsample), the row's max (NaN skipped) in *max unless max is
 * NULL; float partial sums over 16 vectors, then double.
 * Two vectors an iteration with two sums, and one masked tail: the tail test and the single sum
 * made this pass most of top_k_softmax's time. This pass is
 * compute-bound: when next is not NULL it prefetches that row (the next one), as softmax does, so
 * the next row's first pass does not wait on memory. */
CSM_HOT double CSM_FN(scaled_exp_sum)(const T *x, T *out, ptrdiff_t n, T inv_t, CSM_FN(shift) s,
                                      const T *next, T *sub, T *max)
{
    VD wide = {0};
    VT acc0 = CSM_FN(vsplat)(0), acc1 = acc0, m0 = CSM_FN(vsplat)(-(T)INFINITY), m1 = m0;
    int pairs = 0;
    ptrdiff_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        if (next) {
            __builtin_prefetch(next + i, 0, 3);
            __builtin_prefetch(next + i + VL, 0, 3);
        }
        VT v0 = CSM_FN(vload)(x + i), v1 = CSM_FN(vload)(x + i + VL);
        if (max) {
            m0 = CSM_FN(vmax)(v0, m0);
            m1 = CSM_FN(vmax)(v1, m1);
        }
        VT e0 = CSM_FN(expm)(CSM_FN(rounded)(v0 * inv_t), s);
        VT e1 = CSM_FN(expm)(CSM_FN(rounded)(v1 * inv_t), s);
        if (out) {
            CSM_FN(vstore)(out + i, e0);
            CSM_FN(vstore)(out + i + VL, e1);
        }
        if (sub) { /* top_p's subsample, in the pass: a strided pass after it touched a cache
                      * line an entry */
            sub[i / VL] = e0[0];
            sub[i / VL + 1] = e1[0];
        }
        acc0 += e0;
        acc1 += e1;
        if (++pairs == 8) {
            wide += CSM_FN(vwiden_sum)(acc0 + acc1);
            acc0 = acc1 = CSM_FN(vsplat)(0);
            pairs = 0;
        }
    }
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(x + i, rest, -(T)INFINITY);
        if (max) m0 = CSM_FN(vmax)(v, m0);
        VT e = CSM_FN(expm)(CSM_FN(rounded)(v * inv_t), s);
        if (out) CSM_FN(vstore_part)(out + i, e, rest);
        if (sub) sub[i / VL] = e[0];
        acc0 += e;
    }
    if (max) *max = CSM_FN(hmax)(CSM_FN(vmax)(m0, m1));
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc0 + acc1));
}

/* top_k_softmax's one read of a row of nb blocks of 8 vectors (select_top's, past them the tail):
 * the blocks' maxima into tmp as select_top's first pass leaves them, and the sum of expm(x[i] *
 * inv_t, s) as scaled_exp_sum's, where s is the shift of a guess (see GUESS_SLACK). *max gets
 * the row's max, NaN skipped; a NaN or +inf in the row makes the sum NaN. */
CSM_HOT double CSM_FN(block_max_exp_sum)(const T *x, ptrdiff_t n, ptrdiff_t nb, T inv_t,
                                         CSM_FN(shift) s, T *tmp, const T *next, T *max)
{
    const ptrdiff_t B = 8 * VL;
    VD wide = {0};
    VT acc0 = CSM_FN(vsplat)(0), acc1 = acc0, tail = CSM_FN(vsplat)(-(T)INFINITY);
    ptrdiff_t b = 0, i;
    for (; b < nb; b++) {
        const T *p = x + b * B;
        VT v[8];
        for (int q = 0; q < 8; q++) {
            if (next) __builtin_prefetch(next + b * B + q * VL, 0, 3);
            v[q] = CSM_FN(vload)(p + q * VL);
        }
        tmp[b] = tmp[nb + b] = CSM_FN(hmax)(
            CSM_FN(vmax)(CSM_FN(vmax)(CSM_FN(vmax)(v[0], v[1]), CSM_FN(vmax)(v[2], v[3])),
                         CSM_FN(vmax)(CSM_FN(vmax)(v[4], v[5]), CSM_FN(vmax)(v[6], v[7]))));
        for (int q = 0; q < 8; q += 2) {
            acc0 += CSM_FN(expm)(CSM_FN(rounded)(v[q] * inv_t), s);
            acc1 += CSM_FN(expm)(CSM_FN(rounded)(v[q + 1] * inv_t), s);
        }
        if (b & 1) { /* FLUSH (8) terms a lane, then double */
            wide += CSM_FN(vwiden_sum)(acc0 + acc1);
            acc0 = acc1 = CSM_FN(vsplat)(0);
        }
    }
    wide += CSM_FN(vwiden_sum)(acc0 + acc1);
    acc0 = acc1 = CSM_FN(vsplat)(0);
    for (i = nb * B; i < n; i += VL) { /* fewer than 8 vectors */
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(x + i, rest, -(T)INFINITY);
        tail = CSM_FN(vmax)(v, tail);
        acc0 += CSM_FN(expm)(CSM_FN(rounded)(v * inv_t), s);
    }
    T m = CSM_FN(hmax)(tail);
    for (b = 0; b < nb; b++) m = tmp[nb + b] > m ? tmp[nb + b] : m;
    *max = m;
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc0));
}

/* The guess for a pass that takes a row's exps before its max (GUESS_SLACK): the max z of the
 * row's first 4 vectors (n >= 4 VL), and into *sh its shift, c = 0 (known: expm's subtraction
 * folds away); 0 when that z is beyond the pivot or not finite. */
static inline int CSM_FN(guess_shift)(const T *x, double inv_t, T *zg, CSM_FN(shift) *sh)
{
    VT g4 = CSM_FN(vmax)(CSM_FN(vmax)(CSM_FN(vload)(x), CSM_FN(vload)(x + VL)),
                         CSM_FN(vmax)(CSM_FN(vload)(x + 2 * VL), CSM_FN(vload)(x + 3 * VL)));
    *zg = CSM_FN(hmax)(g4) * (T)inv_t;
    if (!(*zg > -T_PIVOT_MIN && *zg < T_PIVOT_MIN)) return 0;
    *sh = CSM_FN(make_shift)(CSM_FN(vsplat)(*zg));
    sh->c = CSM_FN(vsplat)(0);
    return 1;
}
