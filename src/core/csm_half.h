/* float16 and bfloat16 <-> float32, exact widening and round-to-nearest-even narrowing, written
 * with integer and float32 operations only (no F16C: the baseline build has none, and branch-free
 * code lets gcc vectorize the row loops of csm_rows_fused.h in every build). The float16 pair is
 * Maratyszcza's FP16 library's (MIT): the float32 arithmetic does the rounding. Type-independent:
 * included once per build. */
#ifndef CSM_HALF_H
#define CSM_HALF_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "csm_tuning.h"
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

static inline float csm_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t csm_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float csm_bf16_to_f32(uint16_t h) { return csm_bits_f32((uint32_t)h << 16); }

/* Round to nearest even on the 16 bits dropped; a NaN stays a (quiet) NaN. */
static inline uint16_t csm_f32_to_bf16(float f)
{
    uint32_t u = csm_f32_bits(f);
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x40u : r);
}

static inline float csm_f16_to_f32(uint16_t h)
{
    uint32_t w = (uint32_t)h << 16, sign = w & 0x80000000u, two_w = w + w;
    /* normal and inf/NaN: the exponent rebiased by a multiplication by 2^-112 */
    float normal = csm_bits_f32((two_w >> 4) + (0xE0u << 23)) * 0x1p-112f;
    /* subnormal: the mantissa placed under 0.5's exponent, then 0.5 taken away */
    float denormal = csm_bits_f32((two_w >> 17) | (126u << 23)) - 0.5f;
    return csm_bits_f32(sign
                        | (two_w < (1u << 27) ? csm_f32_bits(denormal) : csm_f32_bits(normal)));
}

static inline uint16_t csm_f32_to_f16(float f)
{
    /* scaling by 2^112 then 2^-110 rounds the mantissa at float16's precision (and overflows
     * to inf above its range); adding the bias then rounds to nearest even */
    float base = (__builtin_fabsf(f) * 0x1p+112f) * 0x1p-110f;
    uint32_t w = csm_f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = csm_bits_f32((bias >> 1) + 0x07800000u) + base;
    uint32_t bits = csm_f32_bits(base);
    uint32_t nonsign = ((bits >> 13) & 0x00007C00u) + (bits & 0x00000FFFu);
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

/* Rows of them: one instruction per 16 values where the build has it (AVX-512F's vcvtph2ps and
 * vcvtps2ph, rounding to nearest even; F16C's if a build enables it; on aarch64 two per 8 values,
 * NEON's fcvtl/fcvtn), the functions above elsewhere and for the tail. */
static inline void csm_f16_row_to_f32(float *dst, const uint16_t *src, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    for (; j + 16 <= n; j += 16) {
        __builtin_prefetch((const char *)(src + j) + CSM_HALF_AHEAD_BYTES, 0, 3);
        _mm512_storeu_ps(dst + j, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + j))));
    }
#elif defined(__F16C__)
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + j))));
#elif defined(__aarch64__)
    for (; j + 8 <= n; j += 8) { /* fcvtl, fcvtl2: 8 values in 4 instructions, not 29 */
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(src + j));
        vst1q_f32(dst + j, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + j + 4, vcvt_high_f32_f16(h));
    }
#endif
    for (; j < n; j++) dst[j] = csm_f16_to_f32(src[j]);
}

static inline void csm_f32_row_to_f16(uint16_t *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    for (; j + 16 <= n; j += 16)
        _mm256_storeu_si256((__m256i *)(dst + j),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + j), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__)
    for (; j + 8 <= n; j += 8)
        _mm_storeu_si128((__m128i *)(dst + j),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + j), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__aarch64__)
    for (; j + 8 <= n; j += 8) { /* fcvtn, fcvtn2, rounding to nearest even (FPCR's default) */
        float16x4_t lo = vcvt_f16_f32(vld1q_f32(src + j));
        vst1q_u16(dst + j, vreinterpretq_u16_f16(vcvt_high_f16_f32(lo, vld1q_f32(src + j + 4))));
    }
#endif
    for (; j < n; j++) dst[j] = csm_f32_to_f16(src[j]);
}

/* bfloat16 rows: the same, with AVX-512's integer instructions (widening is a shift; narrowing
 * adds 0x7FFF plus the lowest kept bit, and keeps NaNs quiet NaNs) */
static inline void csm_bf16_row_to_f32(float *dst, const uint16_t *src, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    for (; j + 16 <= n; j += 16) {
        __builtin_prefetch((const char *)(src + j) + CSM_HALF_AHEAD_BYTES, 0, 3);
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + j)));
        _mm512_storeu_ps(dst + j, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
#endif
    for (; j < n; j++) dst[j] = csm_bf16_to_f32(src[j]);
}

static inline void csm_f32_row_to_bf16(uint16_t *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7FFF);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(src + j);
        __m512i u = _mm512_castps_si512(v);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, half), lsb), 16);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), quiet);
        _mm256_storeu_si256((__m256i *)(dst + j), _mm512_cvtepi32_epi16(r));
    }
#endif
    for (; j < n; j++) dst[j] = csm_f32_to_bf16(src[j]);
}

#endif
