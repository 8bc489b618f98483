/* Template: one row of sample: the candidates alone under top_k or temperature 0, else the exps
 * in one pass (under a guessed shift when it holds), the top_p and min_p cutoff, the draw. */

/* sample_row with top_k or temperature 0: the candidates alone. Out of line, so that the top_p
 * path's exp pass keeps its own registers (top_p-only calls slowed down when this grew) */
CSM_SHARED int CSM_FN(sample_top_k_row)(const T *x, ptrdiff_t n, const csm_decode_args *a, double u,
                                        CSM_FN(decode_scratch) *s, long long *out)
{
    double inv_t = a->inv_temp;
    {
        ptrdiff_t m = CSM_FN(select_top)(x, n, inv_t == 0 ? 1 : a->k, s->c, s->tmp);
        if (m == 0) return 1;
        T max = s->c[0].v;
        for (ptrdiff_t i = 1; i < m; i++) max = s->c[i].v > max ? s->c[i].v : max;
        int st = CSM_FN(row_status)(x, n, max);
        if (st) return st;
        if (inv_t == 0) {
            ptrdiff_t i = 0;
            while (s->c[i].v != max) i++;
            *out = s->c[i].i;
            return 0;
        }
        for (ptrdiff_t i = 0; i < m; i++) s->w[i] = exp(((double)s->c[i].v - (double)max) * inv_t);
        *out = CSM_FN(draw_candidates)(s->c, s->w, s->sorted, m, a->top_p, a->min_p, u);
        return 0;
    }
}

/* Steps 3 to 5 of sample on the row's exps in s->e (under shift sh, summing to total, the max z
 * being zmax): the top_p and min_p cutoff, then the draw. */
static int CSM_FN(sample_cut_draw)(CSM_FN(decode_scratch) *s, ptrdiff_t n, const csm_decode_args *a,
                                   double u, double total, T zmax, CSM_FN(shift) sh, const T *sub,
                                   long long *out)
{
    T cut = 0;
    double kept = total;
    if (a->top_p < 1)
        cut = CSM_FN(top_p_cutoff)(s->e, n, a->top_p * total, total, s->tmp, sub, (n + VL - 1) / VL,
                                   &kept);
    if (a->min_p > 0) {
        T top = CSM_FN(expm)(CSM_FN(vsplat)(zmax), sh)[0];
        T c2 = (T)(a->min_p * (double)top);
        if (c2 > cut) {
            cut = c2;
            kept = (double)NAN;
        }
    }
    if (kept != kept) kept = CSM_FN(sum_at_least)(s->e, n, cut);
    *out = CSM_FN(draw_scan)(s->e, n, cut, u * kept);
    return 0;
}

/* one row of sample: status (see max_status), the index into *out */
static int CSM_FN(sample_row)(const T *x, ptrdiff_t n, const csm_decode_args *a, double u,
                              CSM_FN(decode_scratch) *s, long long *out, const T *next)
{
    double inv_t = a->inv_temp;
    if (n == 0) return 2;
    if (inv_t == 0 || a->k > 0) return CSM_FN(sample_top_k_row)(x, n, a, u, s, out);
    T *sub = a->top_p < 1 && n >= TOP_P_SUB_MIN ? (T *)s->w : NULL; /* room for n doubles */
    double total;
    T zmax;
    CSM_FN(shift) sh;
    if (n >= 4 * VL) {
        /* The exps under the shift of a guess, the max z of the first 4 vectors, with the max
         * found in the same pass (GUESS_SLACK): no pass for the max first. They differ from
         * those under the max's shift by a power of two, so the cutoff and the draw are the
         * same. */
        T zg, mx;
        if (CSM_FN(guess_shift)(x, inv_t, &zg, &sh)) {
            total = CSM_FN(scaled_exp_sum)(x, s->e, n, (T)inv_t, sh, next, sub, &mx);
            zmax = mx * (T)inv_t;
            if (total == total && zmax - zg <= GUESS_SLACK && zmax < T_PIVOT_MIN)
                return CSM_FN(sample_cut_draw)(s, n, a, u, total, zmax, sh, sub, out);
        }
    }
    T max = CSM_FN(row_max)(x, n);
    int st = CSM_FN(row_status)(x, n, max);
    if (st) return st;
    zmax = max * (T)inv_t;
    if (!(zmax - zmax == 0)) return 3; /* logits / temperature overflow T */
    sh = CSM_FN(make_shift)(CSM_FN(vsplat)(zmax));
    if (zmax < T_PIVOT_MIN && zmax > -T_PIVOT_MIN) {
        sh.c = CSM_FN(vsplat)(0); /* make_shift's c here: known, expm's subtraction folds away */
        total = CSM_FN(scaled_exp_sum)(x, s->e, n, (T)inv_t, sh, next, sub, NULL);
    } else {
        total = CSM_FN(scaled_exp_sum)(x, s->e, n, (T)inv_t, sh, next, sub, NULL);
    }
    if (total != total) return 1;
    return CSM_FN(sample_cut_draw)(s, n, a, u, total, zmax, sh, sub, out);
}
