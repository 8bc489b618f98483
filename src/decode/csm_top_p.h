/* Template: the top_p cutoff over a row's exps: a radix select on their bits (top_p_cut), and on
 * long rows first a bracket of the cutoff from a subsample (mass_thresholds, top_p_cutoff). */

/* The smallest value v of e[] (non-negative, no NaN) whose strictly larger entries sum to less
 * than `target` (> 0): the top_p cutoff. A radix select on the bits (monotone in the value for
 * non-negative floats, whose sign bit is 0; the exps may exceed 2 under a guessed shift, so
 * the top digit takes in the bit below it too): a histogram of mass per digit, from the
 * top; the digits above the boundary digit are all kept, those below all dropped, and only the
 * boundary digit's entries (copied to buf) go on to the next digit.
 * One function (~110 lines): a level's steps (the probe of lo, the narrowed digit, the
 * histogram, the walk, the gather) share its state (src, m, shift, lo, above, the histograms),
 * which separate functions would pass through pointers in this hot loop. */
static T CSM_FN(top_p_cut)(const T *e, ptrdiff_t n, double target, T floor, T *buf, double *kept)
{
    enum { DIGIT = 10, NDIG = 1 << DIGIT, WAYS = 4 };
    /* WAYS histograms, entry i into mass[i % WAYS] on large sets: a probability mass is spread
     * over few digits, and one histogram made each add wait on the previous add to the same digit
     * (through memory) */
    double mass[WAYS][NDIG];
    double above = 0;
    int shift = (int)(8 * sizeof(T)) - 1 - DIGIT;
    const T *src = e;
    ptrdiff_t m = n;
    while (m > 16 && shift >= 0) {
        const int ways = m >= 2048 ? WAYS : 1;
        memset(mass, 0, (size_t)ways * sizeof mass[0]);
        T lo = src == e ? floor : 0;
        if (lo > 0) { /* worth it only when most of the row is below: else a missed branch */
            ptrdiff_t probe = m < 4096 ? m : 4096, above_lo = 0;
            for (ptrdiff_t i = 0; i < probe; i++) above_lo += src[i] >= lo;
            if (4 * above_lo > probe) lo = 0;
        }
        VT vlo = CSM_FN(vsplat)(lo);
        if (m <= 8192) {
            /* the entries (at or above lo) share every bit above the highest one in which their
             * min and max differ: the digit starts there, or a level would put them all in one
             * digit (a top_p band, whose values are ~1% apart, took three scalar levels). On
             * small sets only: on a whole row the extra pass cost more than it saved. */
            VT mn = CSM_FN(vsplat)((T)INFINITY), mx = CSM_FN(vsplat)(0);
            for (ptrdiff_t i = 0; i < m; i += VL) {
                VT v = CSM_FN(vload_part)(src + i, m - i < VL ? (int)(m - i) : VL, -1); /* not in */
                VI in = v >= vlo;
                mn = CSM_FN(vselect)(in & (v < mn), v, mn);
                mx = CSM_FN(vmax)(v, mx);
            }
            T tmn = mn[0], tmx = CSM_FN(hmax)(mx);
            for (int l = 1; l < VL; l++) tmn = mn[l] < tmn ? mn[l] : tmn;
            UT bmn, bmx;
            memcpy(&bmn, &tmn, sizeof bmn);
            memcpy(&bmx, &tmx, sizeof bmx);
            UT diff = bmn ^ bmx;
            int high = 0;
            while (high < (int)(8 * sizeof(UT)) - 1 && (diff >> (high + 1))) high++;
            int start = high - DIGIT + 1 > 0 ? high - DIGIT + 1 : 0;
            if (tmn <= tmx && start < shift) shift = start;
        }
        for (ptrdiff_t i = 0; i < m; i += VL) { /* vectors wholly below lo skipped */
            int rest = m - i < VL ? (int)(m - i) : VL;
            if (!CSM_FN(vany)(CSM_FN(vload_part)(src + i, rest, 0) >= vlo)) continue;
            for (int l = 0; l < rest; l++) { /* those below lo add 0: no branch to miss */
                UT b;
                T v = src[i + l];
                memcpy(&b, &v, sizeof b);
                mass[ways == 1 ? 0 : l % WAYS][(b >> shift) & (NDIG - 1)] += v >= lo ? v : 0;
            }
        }
        for (int w = 1; w < ways; w++)
            for (int q = 0; q < NDIG; q++) mass[0][q] += mass[w][q];
        /* the walk down from the top digit, 32 digits at a time first: one dependent add per
         * digit was a cost short rows and the small refining sets felt */
        double group[NDIG / 32];
        for (int g = 0; g < NDIG / 32; g++) {
            double t = 0;
            for (int q = 0; q < 32; q++) t += mass[0][g * 32 + q];
            group[g] = t;
        }
        int g = NDIG / 32 - 1;
        for (; g > 0 && above + group[g] < target; g--) above += group[g];
        int d = g * 32 + 31;
        for (; d > g * 32; d--) {
            if (above + mass[0][d] >= target) break;
            above += mass[0][d];
        }
        /* on to the entries of digit d (all share the digits above it) */
        ptrdiff_t j = 0;
        VU vd = (VU){0} + (UT)d;
        for (ptrdiff_t i = 0; i < m; i += VL) { /* vectors without one skipped */
            int rest = m - i < VL ? (int)(m - i) : VL;
            VU bits = (VU)CSM_FN(vload_part)(src + i, rest, 0);
            /* below lo: not in the histogram, and no longer sharing the digits above shift */
            VI hit = (VI)(((bits >> shift) & (NDIG - 1)) == vd) & ((VT)bits >= vlo);
            if (CSM_FN(vany)(hit)) j = CSM_FN(append_hits)(buf, j, (VT)bits, hit, rest);
        }
        src = buf;
        m = j;
        if (shift == 0) break;
        shift = shift > DIGIT ? shift - DIGIT : 0;
    }
    if (src != buf) {
        for (ptrdiff_t i = 0; i < m; i++) buf[i] = src[i];
    }
    /* insertion sort, descending, then the groups of equal values from the top */
    for (ptrdiff_t i = 1; i < m; i++) {
        T v = buf[i];
        ptrdiff_t j = i;
        for (; j > 0 && buf[j - 1] < v; j--) buf[j] = buf[j - 1];
        buf[j] = v;
    }
    T cut = m ? buf[0] : 0;
    for (ptrdiff_t i = 0; i < m;) {
        if (above >= target) break;
        cut = buf[i];
        ptrdiff_t j = i;
        for (; j < m && buf[j] == cut; j++) above += buf[j];
        i = j;
    }
    /* above started below target, so it now holds the mass of every entry >= cut: the draw's
     * total, without another pass (NaN when nothing was left to pick a cut from) */
    if (kept) *kept = m ? above : (double)NAN;
    return cut;
}

/* Approximate mass thresholds of v[0..m) (non-negative, no NaN), for the bracket below: *hi, a
 * value whose entries at or above it sum to less than want_hi (just), and *lo, one whose entries
 * at or above it sum to at least want_lo (just). Two bisections on the bit patterns (which order
 * non-negative floats) share each vector pass, and stop 2^-7 apart in relative value: ~15 passes
 * over the subsample, where two radix selects with their scalar histograms took longer. */
static void CSM_FN(mass_thresholds)(const T *v, ptrdiff_t m, double want_hi, double want_lo, T *hi,
                                    T *lo)
{
    VT mx = CSM_FN(vsplat)(0), zero = mx;
    for (ptrdiff_t i = 0; i < m; i += VL)
        mx = CSM_FN(vmax)(CSM_FN(vload_part)(v + i, m - i < VL ? (int)(m - i) : VL, 0), mx);
    T top = CSM_FN(hmax)(mx);
    UT a[2] = {0, 0}, b[2], stop = (UT)1 << (T_MANT - 7);
    memcpy(&b[0], &top, sizeof top);
    b[0] += 1; /* nothing at or above: a sum of 0, below either want */
    b[1] = b[0];
    const double want[2] = {want_hi, want_lo};
    while (b[0] - a[0] > stop || b[1] - a[1] > stop) {
        UT mid[2] = {a[0] + (b[0] - a[0]) / 2, a[1] + (b[1] - a[1]) / 2};
        T t0, t1;
        memcpy(&t0, &mid[0], sizeof t0);
        memcpy(&t1, &mid[1], sizeof t1);
        VT s0 = zero, s1 = zero, vt0 = CSM_FN(vsplat)(t0), vt1 = CSM_FN(vsplat)(t1);
        for (ptrdiff_t i = 0; i < m; i += VL) {
            VT x = CSM_FN(vload_part)(v + i, m - i < VL ? (int)(m - i) : VL, 0);
            s0 += CSM_FN(vselect)(x >= vt0, x, zero);
            s1 += CSM_FN(vselect)(x >= vt1, x, zero);
        }
        double got[2] = {CSM_FN(hsum_d)(CSM_FN(vwiden_sum)(s0)),
                         CSM_FN(hsum_d)(CSM_FN(vwiden_sum)(s1))};
        for (int k = 0; k < 2; k++) {
            if (got[k] >= want[k]) a[k] = mid[k];
            else b[k] = mid[k];
        }
    }
    memcpy(hi, &b[0], sizeof *hi);
    memcpy(lo, &a[1], sizeof *lo);
}

/* top_p_cut of e[0..n) summing to total. Entries below (total - target) / n are all dropped
 * (those at or below one of them sum to less than total - target, so the rest, strictly above
 * it, reach target): the first histogram leaves them out, which is exact (the walk stops at or
 * above their digit) and skips most of a real vocabulary, whose long tail holds little mass.
 * Rows of at least TOP_P_SUB_MIN first bracket the cutoff between mass thresholds of a
 * subsample (sub[0..ms), the first lane of every vector, which the exp pass kept; see the tries
 * below); one vector pass then sums the entries above the bracket and gathers those inside it,
 * and when the cutoff is indeed inside (checked exactly), only they are resolved. At most three
 * tries, the last the bracket the first two proved. Short rows are resolved whole.
 * One function (~100 lines, a third of them the comment on the tries): each try's bracket, band
 * pass and new anchor read and update the same state (the known bracket, the anchor's exact and
 * subsampled mass, the spread q). */
static T CSM_FN(top_p_cutoff)(const T *e, ptrdiff_t n, double target, double total, T *buf,
                              const T *sub, ptrdiff_t ms, double *kept)
{
    const T floor = (T)((total - target) / (double)n);
    if (n < TOP_P_SUB_MIN) return CSM_FN(top_p_cut)(e, n, target, floor, buf, kept);
    ptrdiff_t j = 0;
    double above = 0, band = 0;
    VT part = CSM_FN(vsplat)(0);
    for (ptrdiff_t i = 0; i < ms; i += VL)
        part += CSM_FN(vload_part)(sub + i, ms - i < VL ? (int)(ms - i) : VL, 0);
    double sub_total = CSM_FN(hsum_d)(CSM_FN(vwiden_sum)(part));
    /* Each try brackets the cutoff from an anchor: a threshold whose exact mass at or above it is
     * known (at first 0, with the total), the subsample's own mass there, and the mass between
     * the anchor and the cutoff, target - that exact mass, which the subsample (one entry in
     * VL) estimates scaled by ms / n. From 0 that is the mass below the cutoff, which light
     * entries make up and the subsample samples well: the subsample's mass fractions, which a
     * few heavy entries sampled or not made miss, put both brackets off and the whole row was
     * resolved. The first margin is fixed (that estimate errs by ~0.1 /
     * sqrt(ms) of the total at standard deviation 1; the band, hence its gathering and
     * resolving, grows with it); a missed try anchors the next at its bound on the cutoff's
     * side with 3 standard errors of the estimate (the square root of the subsample's sum of
     * squares on that side bounds one); the last try is the known bracket itself, which holds
     * the cutoff. Most rows are done by the first try, nearly all by the second
     * (docs/PERFORMANCE.md). */
    T hi_known = (T)INFINITY, lo_known = floor; /* the cutoff is known to be in [lo, hi) */
    T anchor = 0;
    double mass_a = total, s_a = sub_total, q = 0;
    int cutoff_above = 0; /* the cutoff is above the anchor */
    const double scale = (double)ms / (double)n;
    for (int t = 0; t < 3; t++) {
        T hi = hi_known, lo = lo_known;
        if (t < 2) {
            const double center = s_a + (target - mass_a) * scale;
            const double mg = t == 0 ? 0.25 / sqrt((double)ms) * total * scale : 3 * sqrt(q);
            CSM_FN(mass_thresholds)(sub, ms, center - mg, center + mg, &hi, &lo);
            if (center - mg <= 0) hi = (T)INFINITY;
            if (center + mg >= sub_total) lo = floor;
            hi = hi < hi_known ? hi : hi_known;
            lo = lo > lo_known ? lo : lo_known;
            if (!(lo < hi)) { /* an estimate off the known bracket: take that */
                lo = lo_known;
                hi = hi_known;
            }
        }
        VT vhi = CSM_FN(vsplat)(hi), vlo = CSM_FN(vsplat)(lo), zero = CSM_FN(vsplat)(0);
        VD wide = {0}, wide_in = {0};
        j = 0;
        for (ptrdiff_t b = 0; b < n; b += 64 * VL) { /* float sums over 64 vectors, then double */
            ptrdiff_t end = b + 64 * VL < n ? b + 64 * VL : n;
            VT acc = zero, acc_in = zero, acc1 = zero, acc_in1 = zero;
            ptrdiff_t i = b;
            /* AVX-512 compresses every vector: a branch on whether it holds a band entry
             * mispredicted. Two pairs of sums: one pair made each vector wait on the previous
             * one's add. */
            for (; i + 2 * VL <= end; i += 2 * VL) {
                j = CSM_FN(band_split)(buf, j, CSM_FN(vload)(e + i), vlo, vhi, &acc, &acc_in, VL);
                j = CSM_FN(band_split)(buf, j, CSM_FN(vload)(e + i + VL), vlo, vhi, &acc1, &acc_in1,
                                       VL);
            }
            for (; i < end; i += VL) {
                int rest = end - i < VL ? (int)(end - i) : VL;
                j = CSM_FN(band_split)(buf, j, CSM_FN(vload_part)(e + i, rest, 0), vlo, vhi, &acc,
                                       &acc_in, rest);
            }
            acc += acc1;
            acc_in += acc_in1;
            wide += CSM_FN(vwiden_sum)(acc);
            wide_in += CSM_FN(vwiden_sum)(acc_in);
        }
        above = CSM_FN(hsum_d)(wide);
        band = CSM_FN(hsum_d)(wide_in);
        if ((above < target && above + band >= target) || t == 2) break;
        if (above >= target) { /* the cutoff is at or above hi */
            lo_known = anchor = hi;
            mass_a = above;
            cutoff_above = 1;
        } else { /* below lo */
            hi_known = anchor = lo;
            mass_a = above + band;
            cutoff_above = 0;
        }
        /* the subsample's mass at or above the anchor, and its sum of squares on the cutoff's side */
        VT va = CSM_FN(vsplat)(anchor), ps = CSM_FN(vsplat)(0), pq = ps, z = ps;
        for (ptrdiff_t i = 0; i < ms; i += VL) {
            VT v = CSM_FN(vload_part)(sub + i, ms - i < VL ? (int)(ms - i) : VL, 0);
            VI at = v >= va;
            ps += CSM_FN(vselect)(at, v, z);
            pq += CSM_FN(vselect)(cutoff_above ? at : ~at, v * v, z);
        }
        s_a = CSM_FN(hsum_d)(CSM_FN(vwiden_sum)(ps));
        q = CSM_FN(hsum_d)(CSM_FN(vwiden_sum)(pq));
    }
    T cut = CSM_FN(top_p_cut)(buf, j, target - above, 0, buf, kept);
    *kept += above;
    return cut;
}
