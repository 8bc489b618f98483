/* Template (see csm_types.h; after csm_rows.h and csm_half.h): softmax, log_softmax and logsumexp
 * of z = x * scale + bias with where= (csoftmax.h: csm_call), for attention-style calls.
 *
 * Rows are done a block at a time: z is formed in a per-thread buffer of FUSED_BLOCK_BYTES that
 * stays in L1/L2 (the input converted from its storage on the way, half precision included; the
 * bias read through its own offsets and step, so a broadcast bias is never expanded), then the
 * row kernels of csm_rows.h run on the buffer, writing straight into the output when it has the
 * compute type and contiguous rows, else back into the buffer and from there, converted, out.
 * x * scale is rounded before + bias (no FMA: CSM_PIN, or separate loops), so z has the
 * reference's two roundings, and x * scale overflowing to inf plus a -inf bias gives NaN in both. */

#ifndef CSM_FUSED_TUNING /* once per build: the template is included for each type */
#define CSM_FUSED_TUNING
/* the buffer of one block of rows (at least one row); with the block's output rows it stays in
 * a 48 KB L1 (larger blocks measured slower: docs/PERFORMANCE.md) */
#define FUSED_BLOCK_BYTES 8192
/* The input is prefetched this many bytes ahead of the pass that reads it into the buffer (the row
 * that many bytes later in the rows' order, through its offset; for other storage types, the bytes
 * that far on in memory), one request per line spread over that pass: the lines of later blocks
 * then arrive while this block is computed, and the pass does not wait on memory (measured against
 * bursts between kernel calls and other distances: docs/PERFORMANCE.md). */
#define FUSED_AHEAD_BYTES 16384
#endif

/* z[0..n) = the row at p (elements step bytes apart) converted to T */
static void CSM_FN(load_row)(T *z, const char *p, ptrdiff_t step, ptrdiff_t n, csm_storage kind)
{
/* unit steps: a line at a time, each with the prefetch of the line FUSED_AHEAD_BYTES on */
#define CSM_LOAD(ST, CONV)                                                                         \
    if (step == (ptrdiff_t)sizeof(ST))                                                             \
        for (ptrdiff_t j0 = 0; j0 < n; j0 += 64 / (ptrdiff_t)sizeof(ST)) {                         \
            ptrdiff_t j1 = j0 + 64 / (ptrdiff_t)sizeof(ST) < n ? j0 + 64 / (ptrdiff_t)sizeof(ST)   \
                                                               : n;                                \
            __builtin_prefetch(p + j0 * (ptrdiff_t)sizeof(ST) + FUSED_AHEAD_BYTES, 0, 3);          \
            for (ptrdiff_t j = j0; j < j1; j++) z[j] = (T)CONV(((const ST *)p)[j]);                \
        }                                                                                          \
    else                                                                                           \
        for (ptrdiff_t j = 0; j < n; j++) z[j] = (T)CONV(*(const ST *)(p + j * step));
    if (kind == CSM_STORE_F16 && step == 2 && sizeof(T) == sizeof(float)) {
        csm_f16_row_to_f32((float *)z, (const uint16_t *)p, n);
        return;
    }
    if (kind == CSM_STORE_BF16 && step == 2 && sizeof(T) == sizeof(float)) {
        csm_bf16_row_to_f32((float *)z, (const uint16_t *)p, n);
        return;
    }
    switch (kind) {
    case CSM_STORE_F32:
        CSM_LOAD(float, ) break;
    case CSM_STORE_F64:
        CSM_LOAD(double, ) break;
    case CSM_STORE_F16:
        CSM_LOAD(uint16_t, csm_f16_to_f32) break;
    default:
        CSM_LOAD(uint16_t, csm_bf16_to_f32) break;
    }
#undef CSM_LOAD
}

/* the row at p (elements step bytes apart) = y[0..n), rounded to its storage */
static void CSM_FN(store_row)(char *p, ptrdiff_t step, const T *y, ptrdiff_t n, csm_storage kind)
{
#define CSM_STORE(ST, CONV)                                                                        \
    if (step == (ptrdiff_t)sizeof(ST))                                                             \
        for (ptrdiff_t j = 0; j < n; j++) ((ST *)p)[j] = (ST)CONV((float)y[j]);                    \
    else                                                                                           \
        for (ptrdiff_t j = 0; j < n; j++) *(ST *)(p + j * step) = (ST)CONV((float)y[j]);
#define CSM_STORE_WIDE(ST)                                                                         \
    if (step == (ptrdiff_t)sizeof(ST))                                                             \
        for (ptrdiff_t j = 0; j < n; j++) ((ST *)p)[j] = (ST)y[j];                                 \
    else                                                                                           \
        for (ptrdiff_t j = 0; j < n; j++) *(ST *)(p + j * step) = (ST)y[j];
    if (kind == CSM_STORE_F16 && step == 2 && sizeof(T) == sizeof(float)) {
        csm_f32_row_to_f16((uint16_t *)p, (const float *)y, n);
        return;
    }
    if (kind == CSM_STORE_BF16 && step == 2 && sizeof(T) == sizeof(float)) {
        csm_f32_row_to_bf16((uint16_t *)p, (const float *)y, n);
        return;
    }
    switch (kind) {
    case CSM_STORE_F32:
        CSM_STORE_WIDE(float) break;
    case CSM_STORE_F64:
        CSM_STORE_WIDE(double) break;
    case CSM_STORE_F16:
        CSM_STORE(uint16_t, csm_f32_to_f16) break;
    default:
        CSM_STORE(uint16_t, csm_f32_to_bf16) break;
    }
#undef CSM_STORE
#undef CSM_STORE_WIDE
}

/* v as it is, in a register: the product before it is kept from fusing into an FMA */
#if defined(__x86_64__) || defined(__i386__)
#define CSM_PIN(v) __asm__("" : "+v"(v))
#else
#define CSM_PIN(v) ((void)0)
#endif

/* -1 in lane l < k where w[l] is not 0, else 0 (AVX-512: one masked byte load and a test) */
static inline VI CSM_FN(vselected)(const unsigned char *w, int k)
{
#if CSM_AVX512
    __m128i bytes = _mm_maskz_loadu_epi8((__mmask16)((1u << k) - 1), w);
    __mmask16 sel = _mm_test_epi8_mask(bytes, bytes);
#if defined(CSM_F32)
    return (VI)_mm512_movm_epi32(sel);
#else
    return (VI)_mm512_movm_epi64((__mmask8)sel);
#endif
#else
    VI r;
    for (int l = 0; l < VL; l++) r[l] = l < k && w[l] ? -1 : 0;
    return r;
#endif
}

/* The common case in one pass: z = x * s + b with x in T and unit steps; s NULL for none; b NULL,
 * one value (bstep 0) or a row of unit steps; w NULL, or bytes with unit steps whose 0 entries
 * make z -inf. Returns z's max (NaN ignored, as row_max) when want_max (a constant where
 * inlined), else -inf; *end (when end is not NULL): past the last vector with an entry other than
 * -inf (NaN counts), so the exps of a masked tail (a causal or padding mask) can be skipped. */
static inline T CSM_FN(form_row)(T *z, const T *x, ptrdiff_t n, const T *s, const T *b,
                                 ptrdiff_t bstep, const unsigned char *w, const T *next,
                                 const int want_max, ptrdiff_t *end)
{
    ptrdiff_t last = 0;
    const VT vs = CSM_FN(vsplat)(s ? *s : (T)1), vb = CSM_FN(vsplat)(b && !bstep ? *b : (T)0);
    const VT ninf = CSM_FN(vsplat)(-(T)INFINITY);
    VT m = ninf;
    ptrdiff_t j = 0;
    /* whole vectors without masks, then the tail: per-vector masks and counts cost as much as
     * the arithmetic here */
    for (; j + VL <= n; j += VL) {
        /* into L1 (prefetcht0): the non-temporal hint's placement differs by CPU, and on Intel
         * the lines were gone again before the next row was formed */
        if (next) __builtin_prefetch(next + j, 0, 3);
        VT v = CSM_FN(vload)(x + j);
        if (s) {
            v *= vs;
            CSM_PIN(v);
        }
        if (b) v += bstep ? CSM_FN(vload)(b + j) : vb;
        if (w) v = CSM_FN(vselect)(CSM_FN(vselected)(w + j, VL), v, ninf);
        CSM_FN(vstore)(z + j, v);
        if (want_max) m = CSM_FN(vmax)(v, m);
        if (end && CSM_FN(vany_ne)(v, -(T)INFINITY)) last = j + VL;
    }
    if (j < n) {
        int k = (int)(n - j);
        if (next) __builtin_prefetch(next + j, 0, 3);
        VT v = CSM_FN(vload_part)(x + j, k, 0);
        if (s) {
            v *= vs;
            CSM_PIN(v);
        }
        if (b) v += bstep ? CSM_FN(vload_part)(b + j, k, 0) : vb;
        if (w) v = CSM_FN(vselect)(CSM_FN(vselected)(w + j, k), v, ninf);
        CSM_FN(vstore_part)(z + j, v, k);
        v = CSM_FN(vload_part)(z + j, k, -(T)INFINITY); /* the row's lanes only */
        if (want_max) m = CSM_FN(vmax)(v, m);
        if (end && CSM_FN(vany_ne)(v, -(T)INFINITY)) last = n;
    }
    if (end) *end = last;
    return CSM_FN(hmax)(m);
}

/* dst[0..n) = src[0..n) * f with non-temporal stores from the first vector-aligned element: the
 * output of a large call goes to memory without being read first (no read-for-ownership) and
 * without pushing the inputs, the bias above all, out of the caches */
static void CSM_FN(stream_row)(T *dst, const T *src, ptrdiff_t n, T f)
{
    const VT fv = CSM_FN(vsplat)(f);
    ptrdiff_t j = 0;
    for (; j < n && ((uintptr_t)(dst + j) & (CSM_VEC_BYTES - 1)); j++) dst[j] = src[j] * f;
    for (; j + VL <= n; j += VL) CSM_FN(vstream)(dst + j, CSM_FN(vload)(src + j) * fv);
    for (; j < n; j++) dst[j] = src[j] * f;
}

/* z += the bias row at b (elements step bytes apart, 0: one value) */
static void CSM_FN(add_bias)(T *z, ptrdiff_t n, const char *b, ptrdiff_t step)
{
    if (step == (ptrdiff_t)sizeof(T))
        for (ptrdiff_t j = 0; j < n; j++) z[j] += ((const T *)b)[j];
    else
        for (ptrdiff_t j = 0; j < n; j++) z[j] += *(const T *)(b + j * step);
}

/* the first index where w is not 0, or -1 when there is none */
static ptrdiff_t CSM_FN(first_selected)(const unsigned char *w, ptrdiff_t n, ptrdiff_t step)
{
    ptrdiff_t j = 0;
    while (j < n && !w[j * step]) j++;
    return j < n ? j : -1;
}

/* z = -inf where w is 0; returns the first selected index, or -1 when there is none */
static ptrdiff_t CSM_FN(select_row)(T *z, ptrdiff_t n, const unsigned char *w, ptrdiff_t step)
{
    const T ninf = -(T)INFINITY;
    if (step == 1)
        for (ptrdiff_t i = 0; i < n; i++) z[i] = w[i] ? z[i] : ninf;
    else
        for (ptrdiff_t i = 0; i < n; i++) z[i] = w[i * step] ? z[i] : ninf;
    return CSM_FN(first_selected)(w, n, step);
}

/* The where= rule on a result row y: excluded entries are exactly `fill` (0 or -inf). The
 * kernels already give them that unless the row is special (NaN or +inf selected: all NaN), and
 * a row with nothing selected (all -inf: NaN) is all `fill`. */
static void CSM_FN(fix_row)(T *y, ptrdiff_t n, const unsigned char *w, ptrdiff_t step,
                            ptrdiff_t first, T fill)
{
    if (first < 0) {
        for (ptrdiff_t j = 0; j < n; j++) y[j] = fill;
    } else if (y[first] != y[first]) {
        for (ptrdiff_t j = 0; j < n; j++)
            if (!w[j * step]) y[j] = fill;
    }
}

/* Rows r..r+nb of the output as one T matrix (pointer and row stride in elements), when they are
 * stored in T with unit steps and evenly spaced: the kernels then write there directly. */
static T *CSM_FN(direct_rows)(const csm_call *a, ptrdiff_t r, ptrdiff_t nb, ptrdiff_t *ld)
{
    ptrdiff_t gap = nb > 1 ? CSM_AT(a, o, r + 1) - CSM_AT(a, o, r) : a->n * (ptrdiff_t)sizeof(T);
    if (a->okind != (sizeof(T) == 4 ? CSM_STORE_F32 : CSM_STORE_F64)
        || (a->ostep != (ptrdiff_t)sizeof(T) && a->n > 1) || gap % (ptrdiff_t)sizeof(T))
        return NULL;
    for (ptrdiff_t i = 2; a->ooff && i < nb; i++)
        if (a->ooff[r + i] - a->ooff[r + i - 1] != gap) return NULL;
    *ld = gap / (ptrdiff_t)sizeof(T);
    return (T *)(a->out + CSM_AT(a, o, r));
}

#include "csm_rows_half.h"

/* Softmax of z = x * scale + bias with where=, x and the output in T with unit steps (where= as
 * bytes with unit steps), rows of the lengths that softmax_rows takes one (or two) at a time: z
 * is formed, excluded entries -inf, in the max pass, and the scale pass writes the output row
 * (streamed when large), where the block path made a max pass over z and copied the block out.
 * The same operations per row as softmax_row: the same bits. */
static void CSM_FN(fused_softmax_direct)(const csm_call *a, T *z, int stream)
{
    const ptrdiff_t n = a->n, ahead = 1 + FUSED_AHEAD_BYTES / (n * (ptrdiff_t)sizeof(T));
    for (ptrdiff_t r = 0; r < a->nrows; r++) {
        T s = a->scale ? (T)a->scale[r * a->sstep] : (T)1;
        const T *next = r + ahead < a->nrows ? (const T *)(a->x + CSM_AT(a, x, r + ahead)) : NULL;
        T *o = (T *)(a->out + CSM_AT(a, o, r));
        const unsigned char *w = a->where ? (const unsigned char *)a->where + CSM_AT(a, w, r)
                                          : NULL;
        ptrdiff_t end = n; /* a -inf tail only where a bias or where= can make one */
        T max = CSM_FN(form_row)(z, (const T *)(a->x + CSM_AT(a, x, r)), n, a->scale ? &s : NULL,
                                 a->bias ? (const T *)(a->bias + CSM_AT(a, b, r)) : NULL, a->bstep,
                                 w, next, 1, a->bias || w ? &end : NULL);
        int special = CSM_FN(row_is_special)(max);
        T inv = 1;
        if (special) {
            CSM_FN(softmax_row)(z, z, n, NULL);
        } else {
            /* the exps of the -inf tail are 0: a causal mask leaves half the exps to compute */
            inv = (T)(1.0 / CSM_FN(exp_store_sum_max)(z, z, end, max, NULL));
            for (ptrdiff_t j = end; j < n; j++) z[j] = 0;
        }
        if (w && (special || inv != inv)) {
            /* the where= rule where it matters: a selected NaN or +inf makes the selected entries
             * NaN and the excluded 0; nothing selected (all -inf) gives 0 */
            for (ptrdiff_t j = 0; j < n; j++) z[j] *= inv;
            CSM_FN(fix_row)(z, n, w, 1, CSM_FN(first_selected)(w, n, 1), 0);
            inv = 1;
        }
        if (stream) {
            CSM_FN(stream_row)(o, z, n, inv);
            continue;
        }
        VT iv = CSM_FN(vsplat)(inv);
        ptrdiff_t j = 0;
        for (; j + VL <= n; j += VL) CSM_FN(vstore)(o + j, CSM_FN(vload)(z + j) * iv);
        if (j < n)
            CSM_FN(vstore_part)(o + j, CSM_FN(vload_part)(z + j, (int)(n - j), 0) * iv,
                                (int)(n - j));
    }
}

/* The fused kernel of the planner (rows a->nrows of a csm_call): plain-storage softmax goes to
 * fused_softmax_direct; otherwise a block of rows at a time is formed in buf (form_row, or
 * load_row + scale + bias), masked (select_row), run through the row kernels and stored. One
 * function of ~85 lines: the block's buffers and the per-call choices (stream, direct rows) are
 * shared by every step, and its loops are not hot (the row kernels are). */
static int CSM_FN(fused_rows)(const csm_call *a, csm_op op)
{
    const ptrdiff_t n = a->n, per = FUSED_BLOCK_BYTES / (ptrdiff_t)sizeof(T);
    ptrdiff_t nb = per / (n > 0 ? n : 1);
    if (nb < 1) nb = 1;
    if (nb > a->nrows) nb = a->nrows;
    if (n < 1) { /* empty rows: logsumexp's -inf; the other ops write nothing */
        const T ninf = -(T)INFINITY;
        for (ptrdiff_t r = 0; op == CSM_LOGSUMEXP && r < a->nrows; r++)
            CSM_FN(store_row)(a->out + CSM_AT(a, o, r), 0, &ninf, 1, a->okind);
        return 0;
    }
    if (nb < 1) return 0;
    /* the block, then its rows' first selected entries, then logsumexp's results */
    size_t zbytes = ((size_t)(nb * n) * sizeof(T) + 63) & ~(size_t)63;
    size_t bytes = zbytes + (size_t)nb * (sizeof(ptrdiff_t) + sizeof(T));
    bytes = (bytes + 63) & ~(size_t)63;
    char *mem = (char *)aligned_alloc(64, bytes);
    if (!mem) return -1;
    T *buf = (T *)mem;
    ptrdiff_t *first = (ptrdiff_t *)(mem + zbytes);
    T *lse = (T *)(first + nb);
    const T fill = op == CSM_SOFTMAX ? (T)0 : -(T)INFINITY;
    const csm_storage own = sizeof(T) == 4 ? CSM_STORE_F32 : CSM_STORE_F64;
    /* the row whose input is prefetched while a row is formed: FUSED_AHEAD_BYTES on, in the
     * rows' order (which need not be memory order) */
    const ptrdiff_t ahead = 1 + FUSED_AHEAD_BYTES / (n * (ptrdiff_t)sizeof(T));
    /* in-cache inputs are not prefetched (as next_row: only the cost of the requests) */
    const ptrdiff_t fetch_rows = a->nrows * n * (ptrdiff_t)sizeof(T) >= PREFETCH_TOTAL_MIN
        ? a->nrows
        : 0;
    const int stream = op != CSM_LOGSUMEXP && a->okind == own
        && (a->ostep == (ptrdiff_t)sizeof(T) || n == 1)
        && a->nrows * n * (ptrdiff_t)sizeof(T) >= STREAM_MIN_BYTES; /* csm_tuning.h */
    if (op == CSM_SOFTMAX && a->xkind == own && a->xstep == (ptrdiff_t)sizeof(T)
        && (!a->where || a->wstep == 1) && a->okind == own && a->ostep == (ptrdiff_t)sizeof(T)
        && (!a->bias || a->bstep == 0 || a->bstep == (ptrdiff_t)sizeof(T)) && n > SMALL_ROW_MAX
        && !CSM_FN(reg_row_length)(n) && !CSM_FN(is_long_row)(n)) {
        CSM_FN(fused_softmax_direct)(a, buf, stream);
        if (stream) CSM_FN(vstream_fence)();
        free(mem);
        return 0;
    }
    for (ptrdiff_t r = 0; r < a->nrows; r += nb) {
        ptrdiff_t m = a->nrows - r < nb ? a->nrows - r : nb, ld = n;
        T *y = op == CSM_LOGSUMEXP || stream ? NULL : CSM_FN(direct_rows)(a, r, m, &ld);
        T *dst = y ? y : buf;
        if (!y) ld = n;
        for (ptrdiff_t i = 0; i < m; i++) {
            T *z = buf + i * n;
            T s = a->scale ? (T)a->scale[(r + i) * a->sstep] : (T)1;
            const char *b = a->bias ? a->bias + CSM_AT(a, b, r + i) : NULL;
            const unsigned char *w = a->where ? a->where + CSM_AT(a, w, r + i) : NULL;
            if (a->xkind == own && a->xstep == (ptrdiff_t)sizeof(T)
                && (!b || a->bstep == 0 || a->bstep == (ptrdiff_t)sizeof(T))) {
                /* where= with unit steps in the same pass, a vector at a time */
                const int w_in = w && a->wstep == 1;
                CSM_FN(form_row)(z, (const T *)(a->x + CSM_AT(a, x, r + i)), n,
                                 a->scale ? &s : NULL, (const T *)b, a->bstep, w_in ? w : NULL,
                                 r + i + ahead < fetch_rows
                                     ? (const T *)(a->x + CSM_AT(a, x, r + i + ahead))
                                     : NULL,
                                 0, NULL);
                if (w_in) {
                    first[i] = CSM_FN(first_selected)(w, n, 1);
                    w = NULL;
                }
            } else {
                CSM_FN(load_row)(z, a->x + CSM_AT(a, x, r + i), a->xstep, n, a->xkind);
                if (a->scale)
                    for (ptrdiff_t j = 0; j < n; j++) z[j] *= s;
                if (b) CSM_FN(add_bias)(z, n, b, a->bstep);
            }
            if (w) first[i] = CSM_FN(select_row)(z, n, w, a->wstep);
        }
        if (op == CSM_LOGSUMEXP) CSM_FN(logsumexp_rows)(buf, lse, m, n, n, 1);
        else if (op == CSM_SOFTMAX) CSM_FN(softmax_rows)(buf, dst, m, n, n, ld);
        else CSM_FN(log_softmax_rows)(buf, dst, m, n, n, ld);
        if (op == CSM_LOGSUMEXP) {
            for (ptrdiff_t i = 0; i < m; i++)
                CSM_FN(store_row)(a->out + CSM_AT(a, o, r + i), 0, lse + i, 1, a->okind);
            continue;
        }
        for (ptrdiff_t i = 0; i < m; i++) {
            if (a->where)
                CSM_FN(fix_row)(dst + i * ld, n, a->where + CSM_AT(a, w, r + i), a->wstep, first[i],
                                fill);
            if (stream) CSM_FN(stream_row)((T *)(a->out + CSM_AT(a, o, r + i)), buf + i * n, n, 1);
            else if (!y)
                CSM_FN(store_row)(a->out + CSM_AT(a, o, r + i), a->ostep, buf + i * n, n, a->okind);
        }
    }
    if (stream) CSM_FN(vstream_fence)();
    free(mem);
    return 0;
}

#undef CSM_PIN
