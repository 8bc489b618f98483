/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_rows.h): decoding over long rows, i.e.
 * top_k_softmax and sample (csoftmax/_reference_decoding.py is the specification).
 *
 * No full sort and no full softmax is written. The top k: the maxima of blocks of up to 8
 * vectors bound the k-th largest from below, and only the ~k blocks that reach the bound are
 * read again (short rows: a threshold on the row's order keys), so sampling with top_k reads
 * the row once, and so does top_k_softmax, whose sum of exps is taken in the blocks' pass under
 * a guessed shift (GUESS_SLACK). Without top_k the exps are stored in a scratch row and the top_p
 * cutoff is a radix select on their bits (a histogram of probability mass per 10-bit digit,
 * refined only in the boundary digit), on long rows only over the band a subsample brackets it
 * in; the draw skips whole blocks by their vector sums. */

typedef struct {
    long long i;
    T v;
} CSM_FN(cand);

/* top_p on rows from this long is bracketed by a subsample first (top_p_cutoff) */
#ifndef TOP_P_SUB_MIN
#define TOP_P_SUB_MIN 16384
#endif

/* any lane of a comparison result set: one mask move or test where the ISA has one */
static inline int CSM_FN(vany)(VI m)
{
#if CSM_AVX512
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif CSM_VEC_BYTES == 32 && defined(__AVX__)
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#elif CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return _mm_movemask_epi8((__m128i)m) != 0;
#else
    uint64_t w[CSM_VEC_BYTES / 8], o = 0;
    memcpy(w, &m, sizeof w);
    for (int j = 0; j < CSM_VEC_BYTES / 8; j++) o |= w[j];
    return o != 0;
#endif
}

/* The k-th largest of a[0..m) (1 <= k <= m), by quickselect; a is reordered. */
static T CSM_FN(kth_largest)(T *a, ptrdiff_t m, ptrdiff_t k)
{
    ptrdiff_t lo = 0, hi = m - 1, want = k - 1;
    while (lo < hi) {
        T pivot = a[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot) i++;
            while (a[j] < pivot) j--;
            if (i <= j) {
                T t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return a[want];
    }
    return a[want];
}

/* Keeps the candidates >= the k-th largest of them (ties too), in index order; returns it. */
static T CSM_FN(cut_to_k)(CSM_FN(cand) *c, ptrdiff_t *m, ptrdiff_t k, T *tmp)
{
    ptrdiff_t j = 0;
    for (ptrdiff_t i = 0; i < *m; i++) tmp[i] = c[i].v;
    T thr = CSM_FN(kth_largest)(tmp, *m, k);
    for (ptrdiff_t i = 0; i < *m; i++)
        if (c[i].v >= thr) c[j++] = c[i];
    *m = j;
    return thr;
}

/* The signed integer whose order is the float order of v (not NaN) */
static inline IT CSM_FN(order_key)(T v)
{
    IT b;
    memcpy(&b, &v, sizeof b);
    return b ^ (IT)((UT)(b >> (8 * sizeof(T) - 1)) >> 1);
}

/* A value t with between k and 1.25k of a[0..m) (no NaN, m >= k >= 1) >= t, more only when
 * ties force it (t is then the k-th largest): a bisection on the order keys with vector counts,
 * free of the branch misses that made quickselect cost as much as reading the row. */
static T CSM_FN(kth_bound)(T *a, ptrdiff_t m, ptrdiff_t k)
{
    IT lo = CSM_FN(order_key)(a[0]), hi = lo;
    ptrdiff_t full = m - m % VL;
    for (ptrdiff_t i = 0; i < m; i++) { /* keys in place, and their range */
        IT key = CSM_FN(order_key)(a[i]);
        memcpy(a + i, &key, sizeof key);
        lo = key < lo ? key : lo;
        hi = key > hi ? key : hi;
    }
    while (lo < hi) { /* count(>= lo) >= k > count(> hi) */
        IT mid = (IT)((UT)lo + ((UT)hi - (UT)lo + 1) / 2);
        VI vm = (VI){0} + mid, acc = {0};
        for (ptrdiff_t i = 0; i < full; i += VL) {
            VI key;
            memcpy(&key, a + i, sizeof key);
            acc -= (VI)(key >= vm);
        }
        ptrdiff_t count = 0;
        for (int j = 0; j < VL; j++) count += (ptrdiff_t)acc[j];
        for (ptrdiff_t i = full; i < m; i++) {
            IT key;
            memcpy(&key, a + i, sizeof key);
            count += key >= mid;
        }
        if (count >= k) {
            lo = mid;
            if (4 * count <= 5 * k) break;
        } else {
            hi = mid - 1;
        }
    }
    IT b = lo ^ (IT)((UT)(lo >> (8 * sizeof(T) - 1)) >> 1); /* the key's own inverse */
    T t;
    memcpy(&t, &b, sizeof t);
    return t;
}

/* Every entry >= the k-th largest of the row (1 <= k <= n), in index order, into c (room for
 * n); returns their count, 0 when the row has a NaN. For rows too short for select_top's blocks:
 * the row copied to tmp (room for n) as order keys, kth_bound's threshold (k to 1.25k entries at
 * or above it), one pass gathering those. (A scan keeping the entries above a rising threshold,
 * scalar at first, took ~6 us for a 1000-entry row with k = 50.) */
static ptrdiff_t CSM_FN(select_bounded)(const T *x, ptrdiff_t n, ptrdiff_t k, CSM_FN(cand) *c,
                                        T *tmp)
{
    VI nan = {0};
    ptrdiff_t i = 0, m = 0;
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(x + i, rest, 0);
        nan |= v != v;
        CSM_FN(vstore_part)(tmp + i, v, rest);
    }
    if (CSM_FN(vany)(nan)) return 0;
    T thr = CSM_FN(kth_bound)(tmp, n, k);
    VT vthr = CSM_FN(vsplat)(thr);
    for (i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VI hit = CSM_FN(vload_part)(x + i, rest, -(T)INFINITY) >= vthr;
        if (!CSM_FN(vany)(hit)) continue;
        for (int j = 0; j < rest; j++)
            if (hit[j]) {
                c[m].i = i + j;
                c[m++].v = x[i + j];
            }
    }
    if (m > k) CSM_FN(cut_to_k)(c, &m, k, tmp);
    return m;
}

/* select_top's blocks: 8 vectors, fewer on shorter rows, down to one, as long as there are 2k
 * blocks (the short-row selection took ~2.5 ns an entry: an 8000-entry row with k = 50, 18 us);
 * 0 when there are not (then select_bounded) */
static ptrdiff_t CSM_FN(top_block_vectors)(ptrdiff_t n, ptrdiff_t k)
{
    ptrdiff_t bv = 8;
    while (bv > 1 && n / (bv * VL) < 2 * k) bv /= 2;
    return n / (bv * VL) < 2 * k ? 0 : bv;
}

/* select_top's second half, from the maxima of the nb blocks of B entries in tmp[nb..2nb) (and a
 * copy in tmp[0..nb), which kth_bound reorders): the k-th largest of them bounds the row's k-th
 * largest from below (k blocks hold an entry >= it), so only the blocks whose max reaches it
 * (about k of them) and the entries past the blocks are read again. */
static ptrdiff_t CSM_FN(select_from_blocks)(const T *x, ptrdiff_t n, ptrdiff_t k, ptrdiff_t B,
                                            ptrdiff_t nb, CSM_FN(cand) *c, T *tmp)
{
    ptrdiff_t m = 0;
    T thr = CSM_FN(kth_bound)(tmp + nb, nb, k);
    VT vthr = CSM_FN(vsplat)(thr);
    for (ptrdiff_t b = 0; b < nb; b++) {
        if (!(tmp[b] >= thr)) continue;
        for (ptrdiff_t i = b * B; i < (b + 1) * B; i += VL) {
            VI hit = CSM_FN(vload)(x + i) >= vthr;
            if (!CSM_FN(vany)(hit)) continue;
            for (int j = 0; j < VL; j++)
                if (hit[j]) {
                    c[m].i = i + j;
                    c[m++].v = x[i + j];
                }
        }
    }
    for (ptrdiff_t j = nb * B; j < n; j++)
        if (x[j] >= thr) {
            c[m].i = j;
            c[m++].v = x[j];
        }
    if (m > k) CSM_FN(cut_to_k)(c, &m, k, tmp);
    return m;
}

/* select_bounded's result for rows of at least 2k blocks, in two passes: the blocks' maxima
 * (vector max, one horizontal max per block), then select_from_blocks. */
CSM_SHARED ptrdiff_t CSM_FN(select_top)(const T *x, ptrdiff_t n, ptrdiff_t k, CSM_FN(cand) *c,
                                        T *tmp)
{
    const ptrdiff_t bv = CSM_FN(top_block_vectors)(n, k), B = bv * VL;
    if (!bv) return CSM_FN(select_bounded)(x, n, k, c, tmp);
    const ptrdiff_t nb = n / B;
    VI nan = {0};
    for (ptrdiff_t b = 0; b < nb; b++) {
        const T *p = x + b * B;
        if (bv == 8) {
            VT v0 = CSM_FN(vload)(p), v1 = CSM_FN(vload)(p + VL);
            VT v2 = CSM_FN(vload)(p + 2 * VL), v3 = CSM_FN(vload)(p + 3 * VL);
            VT v4 = CSM_FN(vload)(p + 4 * VL), v5 = CSM_FN(vload)(p + 5 * VL);
            VT v6 = CSM_FN(vload)(p + 6 * VL), v7 = CSM_FN(vload)(p + 7 * VL);
            nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3) | (v4 != v4) | (v5 != v5)
                | (v6 != v6) | (v7 != v7);
            tmp[b] = tmp[nb + b] = CSM_FN(hmax)(
                CSM_FN(vmax)(CSM_FN(vmax)(CSM_FN(vmax)(v0, v1), CSM_FN(vmax)(v2, v3)),
                             CSM_FN(vmax)(CSM_FN(vmax)(v4, v5), CSM_FN(vmax)(v6, v7))));
        } else {
            VT mx = CSM_FN(vload)(p);
            nan |= mx != mx;
            for (ptrdiff_t q = 1; q < bv; q++) {
                VT v = CSM_FN(vload)(p + q * VL);
                nan |= v != v;
                mx = CSM_FN(vmax)(v, mx);
            }
            tmp[b] = tmp[nb + b] = CSM_FN(hmax)(mx);
        }
    }
    for (ptrdiff_t i = nb * B; i < n; i++) nan |= (VI){0} - (x[i] != x[i]);
    if (CSM_FN(vany)(nan)) return 0;
    return CSM_FN(select_from_blocks)(x, n, k, B, nb, c, tmp);
}

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
 * made this pass 5 cycles a vector (a 32000 row: 10k of top_k_softmax's 14.5k). This pass is
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

/* Appends the first `rest` lanes of v where hit is set to buf[j..]; returns the new j. AVX-512
 * compresses them in a register (no branch per lane: the boundary digit's entries are spread
 * at random) and stores a whole vector, so buf needs VL elements of room past the end. Writing
 * in place (buf the source, j <= the lane read) is safe: the vector was loaded first. */
static inline ptrdiff_t CSM_FN(append_hits)(T *buf, ptrdiff_t j, VT v, VI hit, int rest)
{
#if CSM_AVX512 && defined(CSM_F32)
    __mmask16 k = _mm512_movepi32_mask((__m512i)hit) & (__mmask16)((1u << rest) - 1);
    _mm512_storeu_ps(buf + j, _mm512_maskz_compress_ps(k, (__m512)v));
    return j + __builtin_popcount(k);
#elif CSM_AVX512
    __mmask8 k = _mm512_movepi64_mask((__m512i)hit) & (__mmask8)((1u << rest) - 1);
    _mm512_storeu_pd(buf + j, _mm512_maskz_compress_pd(k, (__m512d)v));
    return j + __builtin_popcount(k);
#else
    for (int l = 0; l < rest; l++) {
        buf[j] = v[l];
        j += hit[l] != 0;
    }
    return j;
#endif
}

/* One vector of top_p_cutoff's band pass: of v's first `rest` lanes, those >= hi are added into
 * *top, those in [lo, hi) into *in and appended to buf[j..] (as append_hits); returns the new j.
 * AVX-512 keeps the lane sets in mask registers: through vector masks, gcc's code for the generic
 * form spent 25 instructions a vector on it (a 32000 row's pass: 9k cycles). */
static inline ptrdiff_t CSM_FN(band_split)(T *buf, ptrdiff_t j, VT v, VT lo, VT hi, VT *top, VT *in,
                                           int rest)
{
#if CSM_AVX512 && defined(CSM_F32)
    __mmask16 live = (__mmask16)((1u << rest) - 1);
    __mmask16 kt = _mm512_mask_cmp_ps_mask(live, (__m512)v, (__m512)hi, _CMP_GE_OQ);
    __mmask16 ki = _mm512_mask_cmp_ps_mask(live & (__mmask16)~kt, (__m512)v, (__m512)lo,
                                           _CMP_GE_OQ);
    *top = (VT)_mm512_mask_add_ps((__m512)*top, kt, (__m512)*top, (__m512)v);
    *in = (VT)_mm512_mask_add_ps((__m512)*in, ki, (__m512)*in, (__m512)v);
    _mm512_storeu_ps(buf + j, _mm512_maskz_compress_ps(ki, (__m512)v));
    return j + __builtin_popcount(ki);
#elif CSM_AVX512
    __mmask8 live = (__mmask8)((1u << rest) - 1);
    __mmask8 kt = _mm512_mask_cmp_pd_mask(live, (__m512d)v, (__m512d)hi, _CMP_GE_OQ);
    __mmask8 ki = _mm512_mask_cmp_pd_mask(live & (__mmask8)~kt, (__m512d)v, (__m512d)lo,
                                          _CMP_GE_OQ);
    *top = (VT)_mm512_mask_add_pd((__m512d)*top, kt, (__m512d)*top, (__m512d)v);
    *in = (VT)_mm512_mask_add_pd((__m512d)*in, ki, (__m512d)*in, (__m512d)v);
    _mm512_storeu_pd(buf + j, _mm512_maskz_compress_pd(ki, (__m512d)v));
    return j + __builtin_popcount(ki);
#else
    VT zero = CSM_FN(vsplat)(0);
    VI t = v >= hi, b = (v >= lo) & ~t;
    *top += CSM_FN(vselect)(t, v, zero);
    *in += CSM_FN(vselect)(b, v, zero);
    /* a branch on whether it holds a band entry: vectors without one are most */
    return CSM_FN(vany)(b) ? CSM_FN(append_hits)(buf, j, v, b, rest) : j;
#endif
}

/* The smallest value v of e[] (non-negative, no NaN) whose strictly larger entries sum to less
 * than `target` (> 0): the top_p cutoff. A radix select on the bits (monotone in the value for
 * non-negative floats, whose sign bit is 0; the exps may exceed 2 under a guessed shift, so
 * the top digit takes in the bit below it too): a histogram of mass per digit, from the
 * top; the digits above the boundary digit are all kept, those below all dropped, and only the
 * boundary digit's entries (copied to buf) go on to the next digit. */
static T CSM_FN(top_p_cut)(const T *e, ptrdiff_t n, double target, T floor, T *buf, double *kept)
{
    enum { DIGIT = 10, NDIG = 1 << DIGIT, WAYS = 4 };
    /* WAYS histograms, entry i into mass[i % WAYS] on large sets: a probability mass is spread
     * over few digits, and one histogram made each add wait on the previous add to the same digit
     * (through memory, ~5 cycles an entry) */
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
         * digit cost ~1 us a level, which short rows and the small refining sets felt */
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
 * over the subsample, where two radix selects with their scalar histograms took ~25 us a row. */
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
 * tries, the last the bracket the first two proved. Short rows are resolved whole. */
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
     * few heavy entries sampled or not made miss by up to 10% (logits of standard deviation 3
     * at temperature 0.8: 1844 entries kept of 128256), put both brackets off and the whole row
     * was resolved (100 us a row). The first margin is fixed (that estimate errs by ~0.1 /
     * sqrt(ms) of the total at standard deviation 1; the band, hence its gathering and
     * resolving, grows with it); a missed try anchors the next at its bound on the cutoff's
     * side with 3 standard errors of the estimate (the square root of the subsample's sum of
     * squares on that side bounds one); the last try is the known bracket itself, which holds
     * the cutoff. Rows of 20000, 32000 and 128256 of standard deviation 1 to 8, top_p 0.5 to
     * 0.999 (1440 rows): the first try held 1066, the second 363 (with the fixed margin 151, the
     * 223 others being resolved whole), the known bracket 11. */
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
             * mispredicted (a 32000 row's pass 27k cycles with it, 11k without). Two pairs of
             * sums: one pair made each vector wait on the previous one's add (6.5k -> 4.4k). */
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
        if (m <= 64) { /* insertion sort: qsort's comparator calls took ~2 us for top_k = 50 */
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

typedef struct {
    CSM_FN(cand) *c;
    T *tmp, *e;
    double *w, *sorted;
} CSM_FN(decode_scratch);

/* The scratch rows of this thread, kept from call to call: a fresh 5 MB allocation per call of a
 * 128k row cost more in page faults (~30 us) than the kernel itself. Grown, never shrunk. */
static __thread void *CSM_FN(scratch_mem);
static __thread size_t CSM_FN(scratch_len);

static int CSM_FN(scratch_get)(CSM_FN(decode_scratch) *s, ptrdiff_t n)
{
    size_t len = (size_t)(n > 0 ? n : 1);
    size_t need = len * (sizeof(CSM_FN(cand)) + 2 * sizeof(T) + 2 * sizeof(double))
        + VL * sizeof(T); /* append_hits' room past the end of tmp */
    if (need > CSM_FN(scratch_len)) {
        void *mem = realloc(CSM_FN(scratch_mem), need);
        if (!mem) return -1;
        CSM_FN(scratch_mem) = mem;
        CSM_FN(scratch_len) = need;
    }
    s->c = (CSM_FN(cand) *)CSM_FN(scratch_mem); /* the widest type first: all aligned */
    s->w = (double *)(s->c + len);
    s->sorted = s->w + len;
    s->tmp = (T *)(s->sorted + len);
    s->e = s->tmp + len + VL;
    return 0;
}

/* sample_row with top_k or temperature 0: the candidates alone. Out of line, so that the top_p
 * path's exp pass keeps its own registers (top_p-only calls ran 10-20% slower when this grew) */
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
         * first 4 vectors, beside the blocks' maxima (64x32000, k = 20: 12.5k -> 10.0k cycles a
         * row). Else, or when the guess is off by more than GUESS_SLACK, two passes. */
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
        /* insertion sort: qsort's calls through a comparator took ~0.25 us for k = 20, 5% of
         * a 32000-entry row's time. Candidates come in index order, so a stable sort by value
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

/* rows r0..r1 of either function (which = 0: top_k_softmax, 1: sample); -1 when out of memory */
static int CSM_FN(decode_rows)(const csm_decode_args *a, int which, ptrdiff_t r0, ptrdiff_t r1)
{
    CSM_FN(decode_scratch) s;
    if (CSM_FN(scratch_get)(&s, a->n) != 0) return -1;
    const T *x = (const T *)a->x;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const T *row = x + r * a->ldx, *next = r + 1 < r1 ? row + a->ldx : NULL;
        if (which)
            a->status[r] = (signed char)CSM_FN(sample_row)(row, a->n, a, a->u[r], &s,
                                                           a->indices + r, next);
        else
            a->status[r] = (signed char)CSM_FN(top_k_row)(
                row, a->n, a, &s, (T *)a->values + r * a->k, a->indices + r * a->k, next);
    }
    return 0;
}

static int CSM_FN(top_k_softmax_entry)(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1)
{
    return CSM_FN(decode_rows)(a, 0, r0, r1);
}

static int CSM_FN(sample_entry)(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1)
{
    return CSM_FN(decode_rows)(a, 1, r0, r1);
}
