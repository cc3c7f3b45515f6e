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

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI, ext4 and RFC 3720.
// Baseline: slicing-by-8 tables built once. x86-64 with SSE4.2: the CRC32 instruction
// (same polynomial), chosen at run time. Both give identical results.
static uint32_t crc32c_table[8][256];
static int crc32c_table_ready;

static void crc32c_build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc32c_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc32c_table[0][c & 0xFF] ^ (c >> 8);
            crc32c_table[t][i] = c;
        }
    }
    __atomic_store_n(&crc32c_table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_generic(uint32_t crc, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&crc32c_table_ready, __ATOMIC_ACQUIRE)) crc32c_build_table();  // idempotent
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc32c_table[7][lo & 0xFF] ^ crc32c_table[6][(lo >> 8) & 0xFF] ^ crc32c_table[5][(lo >> 16) & 0xFF]
            ^ crc32c_table[4][lo >> 24] ^ crc32c_table[3][hi & 0xFF] ^ crc32c_table[2][(hi >> 8) & 0xFF]
            ^ crc32c_table[1][(hi >> 16) & 0xFF] ^ crc32c_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = crc32c_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
#include <string.h>
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t trw_crc32c_variant(int hardware, uint32_t crc, const void *data, size_t count) {
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
#if defined(__x86_64__)
    if (hardware && __builtin_cpu_supports("sse4.2")) return ~crc32c_sse42(crc, p, count);
#else
    (void)hardware;
#endif
    return ~crc32c_generic(crc, p, count);
}

uint32_t trw_crc32c(uint32_t crc, const void *data, size_t count) { return trw_crc32c_variant(1, crc, data, count); }
