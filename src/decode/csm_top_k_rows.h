/* Template: one row of top_k_softmax: the top k candidates (with the sum of exps in the same
 * read of the row when the guess holds), sorted by value, and their probabilities. */

static int CSM_FN(cand_order)(const void *pa, const void *pb)
{
    const CSM_FN(cand) *a = (const CSM_FN(cand) *)pa, *b = (const CSM_FN(cand) *)pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* one row of top_k_softmax: status; k values and indices */
static int CSM_FN(top_k_row)(const T *x, ptrdiff_t n, const csm_decode_args *a,
                             CSM_FN(decode_scratch) *s, T *values, long long *indices,
                             const T *next)
{
    double inv_t = a->inv_temp, total = 0;
    if (n == 0) return 0;
    const ptrdiff_t k = a->k > 0 ? a->k : 1;
    ptrdiff_t m = 0;
    int fused = 0;
    CSM_FN(shift) sh;
    if (CSM_FN(top_block_vectors)(n, k) == 8) {
        /* One read of the row, not two: the exps under the shift of a guess, the max z of the
         * first 4 vectors, beside the blocks' maxima. Else, or when the guess is off by more
         * than GUESS_SLACK, two passes. */
        T zg, mx;
        if (CSM_FN(guess_shift)(x, inv_t, &zg, &sh)) {
            total = CSM_FN(block_max_exp_sum)(x, n, n / (8 * VL), (T)inv_t, sh, s->tmp, next, &mx);
            T zmax = mx * (T)inv_t;
            if (total == total && zmax - zg <= GUESS_SLACK && zmax < T_PIVOT_MIN) {
                m = CSM_FN(select_from_blocks)(x, n, k, 8 * VL, n / (8 * VL), s->c, s->tmp);
                fused = 1;
            }
        }
    }
    if (!fused) m = CSM_FN(select_top)(x, n, k, s->c, s->tmp);
    if (m == 0) return 1;
    if (m <= 64) {
        /* insertion sort: qsort's calls through a comparator cost a noticeable part of a
         * long row's time. Candidates come in index order, so a stable sort by value
         * alone keeps ties by lower index first, as cand_order does. */
        for (ptrdiff_t i = 1; i < m; i++) {
            CSM_FN(cand) t = s->c[i];
            ptrdiff_t j = i;
            for (; j > 0 && s->c[j - 1].v < t.v; j--) s->c[j] = s->c[j - 1];
            s->c[j] = t;
        }
    } else {
        qsort(s->c, (size_t)m, sizeof *s->c, CSM_FN(cand_order));
    }
    T max = s->c[0].v;
    int st = CSM_FN(row_status)(x, n, max);
    if (st) return st;
    T zmax = max * (T)inv_t;
    if (!(zmax - zmax == 0)) return 3; /* logits / temperature overflow T */
    if (!fused) {
        sh = CSM_FN(make_shift)(CSM_FN(vsplat)(zmax));
        if (zmax < T_PIVOT_MIN && zmax > -T_PIVOT_MIN) {
            sh.c = CSM_FN(vsplat)(
                0); /* make_shift's c here: known, expm's subtraction folds away */
            total = CSM_FN(scaled_exp_sum)(x, NULL, n, (T)inv_t, sh, next, NULL, NULL);
        } else {
            total = CSM_FN(scaled_exp_sum)(x, NULL, n, (T)inv_t, sh, next, NULL, NULL);
        }
    }
    double top = (double)CSM_FN(expm)(CSM_FN(vsplat)(zmax), sh)[0];
    double log_pmax = log(top) - log(total); /* log p of the max */
    for (ptrdiff_t j = 0; j < a->k; j++) {
        double lp = log_pmax + ((double)s->c[j].v - (double)max) * inv_t;
        values[j] = (T)(a->log ? lp : exp(lp));
        indices[j] = s->c[j].i;
    }
    return 0;
}
