#include "trw_codec_kernels.h"

// Wrapping arithmetic is done in uint32_t (defined overflow), then reinterpreted.
#define AI static inline __attribute__((always_inline))

AI void row_terms_body(const uint16_t *v, long width, int32_t *asRow1, int32_t *asRow2) {
    for (long x = 3; x < width - 3; x++) {
        uint32_t a = v[x - 3], b = v[x - 2], c = v[x - 1], d = v[x];
        uint32_t e = v[x + 1], f = v[x + 2], g = v[x + 3];
        uint32_t s0 = a + b + c + d + e + f + g;
        uint32_t ramp = 23u * (3u * (g - a) + 2u * (f - b) + (e - c));
        asRow1[x] = (int32_t)(105u * s0 + ramp + 512u);
        asRow2[x] = (int32_t)((uint32_t)(-53) * s0 + ramp);
    }
}

AI void encode_interior_body(const uint16_t *cur, const int32_t *t1, const int32_t *t2, long width,
                             uint8_t *lo, uint8_t *hi) {
    for (long x = 3; x < width - 3; x++) {
        uint32_t acc = (uint32_t)t1[x] + (uint32_t)t2[x] + 256u * cur[x - 1] + 180u * cur[x - 2] + 224u * cur[x - 3];
        int32_t pred = ((int32_t)acc) >> 10;  // arithmetic shift (clang/gcc on two's complement)
        int16_t e = (int16_t)(uint16_t)((uint32_t)cur[x] - (uint32_t)pred);
        uint16_t z = (uint16_t)(((uint16_t)e << 1) ^ (uint16_t)(e >> 15));
        lo[x] = (uint8_t)z;
        hi[x] = (uint8_t)(z >> 8);
    }
}

static void row_terms_generic(const uint16_t *v, long w, int32_t *r1, int32_t *r2) { row_terms_body(v, w, r1, r2); }
static void encode_interior_generic(const uint16_t *c, const int32_t *t1, const int32_t *t2, long w, uint8_t *lo, uint8_t *hi) {
    encode_interior_body(c, t1, t2, w, lo, hi);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("avx2")))
static void row_terms_avx2(const uint16_t *v, long w, int32_t *r1, int32_t *r2) { row_terms_body(v, w, r1, r2); }
__attribute__((target("avx2")))
static void encode_interior_avx2(const uint16_t *c, const int32_t *t1, const int32_t *t2, long w, uint8_t *lo, uint8_t *hi) {
    encode_interior_body(c, t1, t2, w, lo, hi);
}
int trw_codec_kernels_avx2(void) { return __builtin_cpu_supports("avx2") ? 1 : 0; }
#else
int trw_codec_kernels_avx2(void) { return 0; }
#endif

void trw_pfit_row_terms(const uint16_t *v, long width, int32_t *asRow1, int32_t *asRow2) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("avx2")) { row_terms_avx2(v, width, asRow1, asRow2); return; }
#endif
    row_terms_generic(v, width, asRow1, asRow2);
}

void trw_pfit_encode_interior(const uint16_t *cur, const int32_t *t1, const int32_t *t2, long width,
                              uint8_t *lo, uint8_t *hi) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("avx2")) { encode_interior_avx2(cur, t1, t2, width, lo, hi); return; }
#endif
    encode_interior_generic(cur, t1, t2, width, lo, hi);
}

int trw_pfit_row_terms_variant(int wide, const uint16_t *v, long width, int32_t *asRow1, int32_t *asRow2) {
    if (!wide) { row_terms_generic(v, width, asRow1, asRow2); return 1; }
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("avx2")) { row_terms_avx2(v, width, asRow1, asRow2); return 1; }
#endif
    return 0;
}

int trw_pfit_encode_interior_variant(int wide, const uint16_t *cur, const int32_t *t1, const int32_t *t2, long width,
                                     uint8_t *lo, uint8_t *hi) {
    if (!wide) { encode_interior_generic(cur, t1, t2, width, lo, hi); return 1; }
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("avx2")) { encode_interior_avx2(cur, t1, t2, width, lo, hi); return 1; }
#endif
    return 0;
}
