/* Template: the scratch rows of decoding (candidates, order keys, exps, weights), one set per
 * thread, kept from call to call. */

typedef struct {
    CSM_FN(cand) *c;
    T *tmp, *e;
    double *w, *sorted;
} CSM_FN(decode_scratch);

/* The scratch rows of this thread, kept from call to call: a fresh 5 MB allocation per call of a
 * 128k row cost more in page faults than the kernel itself. Grown, never shrunk. */
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
