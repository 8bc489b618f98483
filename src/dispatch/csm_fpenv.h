/* The floating-point environment of a kernel call: flush-to-zero and denormals-are-zero on for
 * the call, in the calling thread and in each OpenMP thread (csm_split_rows), and the caller's
 * modes back after it. No subnormal then reaches or leaves an arithmetic instruction of a
 * kernel, whatever the input: on Intel each one costs a microcode assist of ~100+ cycles per
 * instruction (AMD handles most in hardware). Subnormal inputs read as 0 and subnormal results
 * are 0 on every build (x86-64: MXCSR's FTZ and DAZ; aarch64: FPCR.FZ, which does both).
 * The status flags raised during the call stay raised, as IEEE 754's sticky flags do: the tests
 * read them to show that typical rows raise no underflow at all. */
#ifndef CSM_FPENV_H
#define CSM_FPENV_H

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define CSM_FP_FLUSH 0x8040u  /* MXCSR: FTZ (bit 15) and DAZ (bit 6) */
#define CSM_FP_STATUS 0x003Fu /* MXCSR: the six exception flags */
static inline unsigned csm_fp_get(void) { return _mm_getcsr(); }
static inline void csm_fp_set(unsigned v) { _mm_setcsr(v); }
#elif defined(__aarch64__)
#define CSM_FP_FLUSH (1u << 24) /* FPCR.FZ */
#define CSM_FP_STATUS 0u        /* the flags live in FPSR, which this leaves alone */
static inline unsigned csm_fp_get(void)
{
    unsigned long v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return (unsigned)v;
}
static inline void csm_fp_set(unsigned v)
{
    unsigned long w = v;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(w));
}
#else
#define CSM_FP_FLUSH 0u
#define CSM_FP_STATUS 0u
static inline unsigned csm_fp_get(void) { return 0; }
static inline void csm_fp_set(unsigned v) { (void)v; }
#endif

/* returns the caller's state, for csm_fp_leave */
static inline unsigned csm_fp_enter(void)
{
    unsigned old = csm_fp_get();
    if ((old & CSM_FP_FLUSH) != CSM_FP_FLUSH) csm_fp_set(old | CSM_FP_FLUSH);
    return old;
}

static inline void csm_fp_leave(unsigned old)
{
    if ((old & CSM_FP_FLUSH) != CSM_FP_FLUSH) csm_fp_set((csm_fp_get() & CSM_FP_STATUS) | old);
}

#endif
