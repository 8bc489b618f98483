/* Template: the draw (sample's last steps): over a row's exps, skipping blocks by their vector
 * sums, or over the candidates of a top_k with their top_p and min_p cutoff. */

/* Sum of the e[i] >= cut. */
static double CSM_FN(sum_at_least)(const T *e, ptrdiff_t n, T cut)
{
    VT acc = CSM_FN(vsplat)(0), vc = CSM_FN(vsplat)(cut), zero = acc;
    VD wide = {0};
    ptrdiff_t i = 0;
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(e + i, rest, 0);
        acc += CSM_FN(vselect)(v >= vc, v, zero);
        if ((i / VL) % 64 == 63) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = zero;
        }
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}

/* The first i with e[i] >= cut at which the running sum of those exceeds target; the last
 * positive one if rounding never gets there. Blocks whose (vector) sum cannot get there are
 * skipped whole. */
static long long CSM_FN(draw_scan)(const T *e, ptrdiff_t n, T cut, double target)
{
    enum { BLK = 256 };
    double acc = 0;
    long long last = -1;
    for (ptrdiff_t b = 0; b < n; b += BLK) {
        ptrdiff_t end = b + BLK < n ? b + BLK : n;
        if (end - b == BLK) {
            double s = CSM_FN(sum_at_least)(e + b, BLK, cut);
            if (acc + s <= target) {
                acc += s;
                if (s > 0)
                    for (ptrdiff_t i = end - 1; i >= b; i--)
                        if (e[i] >= cut && e[i] > 0) {
                            last = i;
                            break;
                        }
                continue;
            }
        }
        for (ptrdiff_t i = b; i < end; i++) {
            if (!(e[i] >= cut) || !(e[i] > 0)) continue;
            acc += e[i];
            last = i;
            if (acc > target) return i;
        }
    }
    return last;
}

static int CSM_FN(descending)(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a < b) - (a > b);
}

/* Steps 3 to 5 of sample over the m kept candidates of a top_k (index order), with weights
 * w[i] = exp(z_i - max z) in double. */
CSM_SHARED long long CSM_FN(draw_candidates)(const CSM_FN(cand) *c, double *w, double *sorted,
                                             ptrdiff_t m, double top_p, double min_p, double u)
{
    double total = 0, cut = 0, kept = 0, acc = 0;
    long long last = c[0].i;
    for (ptrdiff_t i = 0; i < m; i++) total += w[i];
    if (top_p < 1) {
        double above = 0;
        memcpy(sorted, w, (size_t)m * sizeof *w);
        if (m <= 64) { /* insertion sort: qsort's comparator calls cost more on so few */
            for (ptrdiff_t i = 1; i < m; i++) {
                double v = sorted[i];
                ptrdiff_t j = i;
                for (; j > 0 && sorted[j - 1] < v; j--) sorted[j] = sorted[j - 1];
                sorted[j] = v;
            }
        } else {
            qsort(sorted, (size_t)m, sizeof *sorted, CSM_FN(descending)); /* m is top_k or so */
        }
        for (ptrdiff_t i = 0; i < m && above < top_p * total;) {
            cut = sorted[i];
            for (; i < m && sorted[i] == cut; i++) above += sorted[i];
        }
    }
    if (min_p > cut) cut = min_p; /* w of the max is exactly 1 */
    for (ptrdiff_t i = 0; i < m; i++)
        if (w[i] >= cut) kept += w[i];
    for (ptrdiff_t i = 0; i < m; i++) {
        if (!(w[i] >= cut) || !(w[i] > 0)) continue;
        acc += w[i];
        last = c[i].i;
        if (acc > u * kept) return c[i].i;
    }
    return last;
}
