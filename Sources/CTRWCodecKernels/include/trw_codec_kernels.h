#ifndef TRW_CODEC_KERNELS_H
#define TRW_CODEC_KERNELS_H
// Hot loops of TRWCodec's plane-fit predictor, in C so that x86-64 machines
// with AVX2 get 8-lane integer code (selected at run time) while the package
// still builds for baseline x86-64 and other architectures. Integer-only:
// every variant gives bit-identical results. Internal to TRWCodec.
#include <stddef.h>
#include <stdint.h>

/// For 3 <= x < width-3: asRow1[x] = 105*S0 + 23*S1 + 512, asRow2[x] = -53*S0 + 23*S1,
/// with S0 = sum v[x-3..x+3], S1 = sum d*v[x+d].
void trw_pfit_row_terms(const uint16_t *v, long width, int32_t *asRow1, int32_t *asRow2);

/// For 3 <= x < width-3: z = zigzag16(cur[x] - ((t1[x] + t2[x] + 256*cur[x-1] + 180*cur[x-2] + 224*cur[x-3]) >> 10)),
/// lo[x] = z & 0xFF, hi[x] = z >> 8.
void trw_pfit_encode_interior(const uint16_t *cur, const int32_t *t1, const int32_t *t2, long width,
                              uint8_t *lo, uint8_t *hi);

/// 1 when the AVX2 variants are in use (for the benchmark's report).
int trw_codec_kernels_avx2(void);

/// Test hooks: run the baseline (wide == 0) or AVX2 (wide != 0) variant.
/// Return 0 if that variant is not available on this CPU/build (nothing written), 1 otherwise.
int trw_pfit_row_terms_variant(int wide, const uint16_t *v, long width, int32_t *asRow1, int32_t *asRow2);
int trw_pfit_encode_interior_variant(int wide, const uint16_t *cur, const int32_t *t1, const int32_t *t2, long width,
                                     uint8_t *lo, uint8_t *hi);

/// CRC-32C (Castagnoli) of `count` bytes, continuing from `crc` (0 to start):
/// trw_crc32c(0, "123456789", 9) == 0xE3069283. SSE4.2 instruction when available.
uint32_t trw_crc32c(uint32_t crc, const void *data, size_t count);
/// Test hook: hardware == 0 forces the table variant (hardware != 0 uses SSE4.2 if present).
uint32_t trw_crc32c_variant(int hardware, uint32_t crc, const void *data, size_t count);
#endif
