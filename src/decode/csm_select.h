/* Template: the top k of a row (candidates, in index order): quickselect, a bisection on order
 * keys for short rows, and on long rows a pass over blocks' maxima that bounds the k-th largest
 * so that only ~k blocks are read again. */

typedef struct {
    long long i;
    T v;
} CSM_FN(cand);

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
 * scalar at first, was several times slower.) */
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
 * blocks (the short-row selection costs more per entry than a pass over blocks); 0 when there
 * are not (then select_bounded) */
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
