/* trw._codec: decoders of trw's payload codecs (schemas/payload-codecs.md), in C.
 *
 * The plane-fit row terms and CRC-32C come from the repository's own kernels
 * (Sources/CTRWCodecKernels/kernels.c, compiled into this extension); the rest
 * mirrors Sources/TRWCodec/{FrameCodec,PlaneFitPredictor,PCMCodec,Zstd}.swift.
 * Every function checks its input and raises trw._codec.CodecError (a ValueError)
 * or its subclass ChecksumError, naming the codec and what was expected; none trusts
 * a length or a size from the payload. The GIL is held throughout (one shared
 * ZSTD_DCtx and scratch buffer per interpreter). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <zstd.h>
#include "trw_codec_kernels.h"

#define MAX_ELEMENTS (1L << 28) /* codecMaxElements in CodecError.swift */

static PyObject *CodecError;
static PyObject *ChecksumError;
static ZSTD_DCtx *dctx;
static uint8_t *scratch;
static size_t scratch_cap;
static int32_t *rowbuf;
static size_t rowbuf_cap;

static uint8_t *reserve_scratch(size_t n) {
    if (n > scratch_cap) {
        uint8_t *p = PyMem_Realloc(scratch, n ? n : 1);
        if (!p) { PyErr_NoMemory(); return NULL; }
        scratch = p;
        scratch_cap = n;
    }
    return scratch;
}

static int32_t *reserve_rows(size_t n) {
    if (n > rowbuf_cap) {
        int32_t *p = PyMem_Realloc(rowbuf, (n ? n : 1) * sizeof(int32_t));
        if (!p) { PyErr_NoMemory(); return NULL; }
        rowbuf = p;
        rowbuf_cap = n;
    }
    return rowbuf;
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Checks and strips the CRC-32C trailer; returns the inner length or -1 with an exception set. */
static Py_ssize_t verify_crc(const char *codec, const uint8_t *p, Py_ssize_t n) {
    if (n < 4) {
        PyErr_Format(CodecError, "%s payload truncated: needed at least 4 bytes, got %zd", codec, n);
        return -1;
    }
    uint32_t stored = rd32(p + n - 4);
    uint32_t computed = trw_crc32c(0, p, (size_t)(n - 4));
    if (stored != computed) {
        PyErr_Format(ChecksumError,
                     "damaged %s payload: CRC-32C is 0x%08X, the payload says 0x%08X (the stored bytes changed after they were written)",
                     codec, computed, stored);
        return -1;
    }
    return n - 4;
}

/* Inverse of ZstdCompressor.compress(planes:planeSize:into:): src holds exactly the zstd
 * frames that fill dst, plane bytes each (the last may be shorter). */
static int zstd_planes(const char *codec, const uint8_t *src, size_t srcn, size_t plane, uint8_t *dst, size_t dstn) {
    size_t in = 0, out = 0;
    if (plane == 0) plane = 1;
    while (out < dstn) {
        size_t want = dstn - out < plane ? dstn - out : plane;
        if (in >= srcn) {
            PyErr_Format(CodecError, "%s payload truncated: needed at least %zu bytes, got %zu", codec, in + 1, srcn);
            return -1;
        }
        size_t fsize = ZSTD_findFrameCompressedSize(src + in, srcn - in);
        if (ZSTD_isError(fsize)) {
            PyErr_Format(CodecError, "zstd ZSTD_findFrameCompressedSize failed on the %s payload at byte %zu: %s", codec, in,
                         ZSTD_getErrorName(fsize));
            return -1;
        }
        unsigned long long declared = ZSTD_getFrameContentSize(src + in, fsize);
        if (declared != (unsigned long long)want && declared != ZSTD_CONTENTSIZE_UNKNOWN) {
            PyErr_Format(CodecError, "corrupt %s payload: zstd frame at byte %zu holds %llu bytes, expected %zu", codec, in,
                         declared, want);
            return -1;
        }
        size_t got = ZSTD_decompressDCtx(dctx, dst + out, want, src + in, fsize);
        if (ZSTD_isError(got)) {
            PyErr_Format(CodecError, "zstd ZSTD_decompressDCtx failed on the %s payload at byte %zu: %s", codec, in,
                         ZSTD_getErrorName(got));
            return -1;
        }
        if (got != want) {
            PyErr_Format(CodecError, "corrupt %s payload: zstd frame at byte %zu decoded to %zu bytes, expected %zu", codec, in,
                         got, want);
            return -1;
        }
        in += fsize;
        out += want;
    }
    if (in != srcn) {
        PyErr_Format(CodecError, "corrupt %s payload: %zu bytes after the last zstd frame, expected none", codec, srcn - in);
        return -1;
    }
    return 0;
}

/* ---- thermal frames ---------------------------------------------------------------- */

static inline int32_t unzig16(uint16_t z) { return (int32_t)(int16_t)(uint16_t)((z >> 1) ^ (uint16_t)(0u - (z & 1u))); }
static inline int32_t border(const uint16_t *cur, const uint16_t *prev, long x) {
    return x == 0 ? (int32_t)prev[0] : ((int32_t)cur[x - 1] + (int32_t)prev[x] + 1) >> 1;
}

/* PlaneFit.decode (PlaneFitPredictor.swift). */
static void pfit_decode(const uint8_t *lo, const uint8_t *hi, long w, long h, uint16_t *p, int32_t *rows) {
#define GET(i, pred) ((uint16_t)((uint32_t)(pred) + (uint32_t)unzig16((uint16_t)(lo[i] | hi[i] << 8))))
    int32_t *r1a = rows, *r1b = rows + w, *r2a = rows + 2 * w, *r2b = rows + 3 * w;
    p[0] = GET(0, 0);
    for (long x = 1; x < w; x++) p[x] = GET(x, p[x - 1]);
    for (long y = 1; y < h; y++) {
        uint16_t *cur = p + y * w;
        const uint16_t *prev = cur - w;
        long base = y * w;
        if (y == 1 || w < 7) {
            for (long x = 0; x < w; x++) cur[x] = GET(base + x, border(cur, prev, x));
            continue;
        }
        if (y == 2) {
            trw_pfit_row_terms(p, w, r2a, r2b);
        } else {
            int32_t *ta = r1a, *tb = r1b;
            r1a = r2a; r1b = r2b; r2a = ta; r2b = tb;
        }
        trw_pfit_row_terms(prev, w, r1a, r1b);
        const int32_t *t1 = r1a, *t2 = r2b;
        for (long x = 0; x < 3; x++) cur[x] = GET(base + x, border(cur, prev, x));
        const uint8_t *lo2 = lo + base, *hi2 = hi + base;
        uint32_t l1 = cur[2], l2 = cur[1], l3 = cur[0];
        for (long x = 3; x < w - 3; x++) {
            /* floor((t + 256*l1 + 180*l2 + 224*l3) / 1024) == floor((floor((t + 180*l2 + 224*l3) / 256) + l1) / 4) */
            int32_t b = (int32_t)((uint32_t)t1[x] + (uint32_t)t2[x] + 180u * l2 + 224u * l3) >> 8;
            int32_t pred = (int32_t)((uint32_t)b + l1) >> 2;
            uint16_t v = (uint16_t)((uint32_t)pred + (uint32_t)unzig16((uint16_t)(lo2[x] | hi2[x] << 8)));
            cur[x] = v;
            l3 = l2; l2 = l1; l1 = v;
        }
        for (long x = w - 3; x < w; x++) cur[x] = GET(base + x, border(cur, prev, x));
    }
#undef GET
}

/* DeltaShuffle.decode. */
static void delta_decode(const uint8_t *lo, const uint8_t *hi, long w, long h, uint16_t *p) {
    for (long y = 0; y < h; y++) {
        uint16_t *cur = p + y * w;
        long base = y * w;
        int32_t prev = y == 0 ? 0 : (int32_t)cur[-w];
        for (long x = 0; x < w; x++) {
            uint16_t v = (uint16_t)((uint32_t)prev + (uint32_t)unzig16((uint16_t)(lo[base + x] | hi[base + x] << 8)));
            cur[x] = v;
            prev = v;
        }
    }
}

enum { F_RAW, F_DELTA, F_PFIT };

/* Decodes one frame payload into out (n = w*h uint16, native endianness). */
static int frame_decode(const char *codec, const uint8_t *p, Py_ssize_t n, long w, long h, uint16_t *out) {
    int kind, checked = 0;
    if (!strcmp(codec, "raw16le")) kind = F_RAW;
    else if (!strcmp(codec, "raw16le-crc32c")) { kind = F_RAW; checked = 1; }
    else if (!strcmp(codec, "delta16-shuffle-zstd1")) kind = F_DELTA;
    else if (!strcmp(codec, "pfit16-zstd-v1")) kind = F_PFIT;
    else if (!strcmp(codec, "pfit16-zstd-v2")) { kind = F_PFIT; checked = 1; }
    else {
        PyErr_Format(CodecError, "unknown codec \"%s\"; expected one of: raw16le, delta16-shuffle-zstd1, pfit16-zstd-v1, "
                     "pfit16-zstd-v2, raw16le-crc32c", codec);
        return -1;
    }
    if (w < 1 || h < 1 || w > MAX_ELEMENTS || h > MAX_ELEMENTS || w * h > MAX_ELEMENTS) {
        PyErr_Format(CodecError, "frame geometry %ldx%ld; expected width >= 1, height >= 1, width*height <= %ld", w, h, MAX_ELEMENTS);
        return -1;
    }
    size_t px = (size_t)(w * h);
    if (checked && (n = verify_crc(codec, p, n)) < 0) return -1;
    if (kind == F_RAW) {
        if ((size_t)n != 2 * px) {
            PyErr_Format(CodecError, "%s payload has %zd bytes, expected %zu for %ldx%ld", codec, n, 2 * px, w, h);
            return -1;
        }
        for (size_t i = 0; i < px; i++) out[i] = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        return 0;
    }
    uint8_t *planes = reserve_scratch(2 * px);
    if (!planes) return -1;
    if (kind == F_DELTA) {
        if (zstd_planes(codec, p, (size_t)n, 2 * px, planes, 2 * px) < 0) return -1;
        delta_decode(planes, planes + px, w, h, out);
        return 0;
    }
    if (n < 10) {
        PyErr_Format(CodecError, "%s payload truncated: needed at least 10 bytes, got %zd", codec, n);
        return -1;
    }
    if (p[0] != 1 || p[1] != 1) {
        PyErr_Format(CodecError, "corrupt %s payload: header version %u predictor %u, expected version 1 predictor 1", codec, p[0], p[1]);
        return -1;
    }
    uint32_t pw = rd32(p + 2), ph = rd32(p + 6);
    if ((long)pw != w || (long)ph != h) {
        PyErr_Format(CodecError, "corrupt %s payload: payload is %ux%u, expected %ldx%ld", codec, pw, ph, w, h);
        return -1;
    }
    if (n == 10) {
        PyErr_Format(CodecError, "%s payload truncated: needed at least 11 bytes, got 10", codec);
        return -1;
    }
    if (zstd_planes(codec, p + 10, (size_t)n - 10, px, planes, 2 * px) < 0) return -1;
    int32_t *rows = reserve_rows(4 * (size_t)w);
    if (!rows) return -1;
    pfit_decode(planes, planes + px, w, h, out, rows);
    return 0;
}

static int writable_buffer(PyObject *obj, Py_buffer *view, size_t bytes, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if ((size_t)view->len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s buffer has %zd bytes, expected %zu", what, view->len, bytes);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* decode_frame_into(payload, codec, width, height, out): out is a writable C-contiguous
 * buffer of width*height uint16 (e.g. a numpy array). */
static PyObject *py_decode_frame_into(PyObject *self, PyObject *args) {
    Py_buffer in, out;
    const char *codec;
    long w, h;
    PyObject *dst;
    if (!PyArg_ParseTuple(args, "y*sllO", &in, &codec, &w, &h, &dst)) return NULL;
    if (w < 1 || h < 1 || w > MAX_ELEMENTS || h > MAX_ELEMENTS || w * h > MAX_ELEMENTS) {
        PyBuffer_Release(&in);
        PyErr_Format(CodecError, "frame geometry %ldx%ld; expected width >= 1, height >= 1, width*height <= %ld", w, h, MAX_ELEMENTS);
        return NULL;
    }
    if (writable_buffer(dst, &out, (size_t)(w * h) * 2, "output") < 0) { PyBuffer_Release(&in); return NULL; }
    int rc = frame_decode(codec, in.buf, in.len, w, h, out.buf);
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* ---- PCM ----------------------------------------------------------------------------- */

static inline int32_t unzig32(uint32_t z) { return (int32_t)((z >> 1) ^ (0u - (z & 1u))); }

enum { P_RAW, P_FIXED };

static int pcm_decode(const char *codec, const uint8_t *p, Py_ssize_t n, long channels, long frames, int32_t *out) {
    int kind, checked = 0;
    if (!strcmp(codec, "pcm-raw-s32le")) kind = P_RAW;
    else if (!strcmp(codec, "pcm-raw-s32le-crc32c")) { kind = P_RAW; checked = 1; }
    else if (!strcmp(codec, "pcm-fixed-zstd-v1")) kind = P_FIXED;
    else if (!strcmp(codec, "pcm-fixed-zstd-v2")) { kind = P_FIXED; checked = 1; }
    else {
        PyErr_Format(CodecError, "unknown codec \"%s\"; expected one of: pcm-raw-s32le, pcm-fixed-zstd-v1, pcm-fixed-zstd-v2, "
                     "pcm-raw-s32le-crc32c", codec);
        return -1;
    }
    if (channels < 1 || channels > 255 || frames < 0 || frames > MAX_ELEMENTS || frames * channels > MAX_ELEMENTS) {
        PyErr_Format(CodecError, "%ld frames in %ld channels; expected 1...255 channels and at most %ld samples", frames, channels,
                     MAX_ELEMENTS);
        return -1;
    }
    size_t count = (size_t)(frames * channels);
    if (checked && (n = verify_crc(codec, p, n)) < 0) return -1;
    if (kind == P_RAW) {
        if ((size_t)n != 4 * count) {
            PyErr_Format(CodecError, "%s payload has %zd bytes, expected %zu for %ld frames of %ld channels", codec, n, 4 * count,
                         frames, channels);
            return -1;
        }
        for (size_t i = 0; i < count; i++) out[i] = (int32_t)rd32(p + 4 * i);
        return 0;
    }
    Py_ssize_t hsize = 6 + channels;
    if (n < hsize) {
        PyErr_Format(CodecError, "%s payload truncated: needed at least %zd bytes, got %zd", codec, hsize, n);
        return -1;
    }
    if (p[0] != 1) {
        PyErr_Format(CodecError, "corrupt %s payload: header version %u, expected 1", codec, p[0]);
        return -1;
    }
    if ((long)p[1] != channels || (long)rd32(p + 2) != frames) {
        PyErr_Format(CodecError, "corrupt %s payload: payload holds %u frames of %u channels, expected %ld of %ld", codec,
                     rd32(p + 2), p[1], frames, channels);
        return -1;
    }
    const uint8_t *orders = p + 6;
    for (long c = 0; c < channels; c++) {
        if (orders[c] > 4) {
            PyErr_Format(CodecError, "corrupt %s payload: predictor order %u, expected 0...4", codec, orders[c]);
            return -1;
        }
    }
    if (count == 0) {
        if (n != hsize) {
            PyErr_Format(CodecError, "corrupt %s payload: %zd bytes after an empty chunk, expected none", codec, n - hsize);
            return -1;
        }
        return 0;
    }
    if (n == hsize) {
        PyErr_Format(CodecError, "%s payload truncated: needed at least %zd bytes, got %zd", codec, hsize + 1, n);
        return -1;
    }
    uint8_t *pl = reserve_scratch(4 * count);
    if (!pl) return -1;
    if (zstd_planes(codec, p + hsize, (size_t)(n - hsize), count, pl, 4 * count) < 0) return -1;
    const uint8_t *b0 = pl, *b1 = pl + count, *b2 = pl + 2 * count, *b3 = pl + 3 * count;
    for (long c = 0; c < channels; c++) {
        int order = orders[c];
        uint32_t x1 = 0, x2 = 0, x3 = 0, x4 = 0;
        size_t i = (size_t)c;
        for (long k = 0; k < frames; k++, i += (size_t)channels) {
            uint32_t z = (uint32_t)b0[i] | (uint32_t)b1[i] << 8 | (uint32_t)b2[i] << 16 | (uint32_t)b3[i] << 24;
            uint32_t pred;
            switch (k < order ? (int)k : order) {
            case 0: pred = 0; break;
            case 1: pred = x1; break;
            case 2: pred = 2u * x1 - x2; break;
            case 3: pred = 3u * (x1 - x2) + x3; break;
            default: pred = 4u * (x1 + x3) - 6u * x2 - x4; break;
            }
            uint32_t x = (uint32_t)unzig32(z) + pred;
            out[i] = (int32_t)x;
            x4 = x3; x3 = x2; x2 = x1; x1 = x;
        }
    }
    return 0;
}

/* decode_pcm_into(payload, codec, channels, frame_count, out): out is a writable buffer of
 * channels*frame_count int32 (interleaved). */
static PyObject *py_decode_pcm_into(PyObject *self, PyObject *args) {
    Py_buffer in, out;
    const char *codec;
    long channels, frames;
    PyObject *dst;
    if (!PyArg_ParseTuple(args, "y*sllO", &in, &codec, &channels, &frames, &dst)) return NULL;
    if (channels < 1 || channels > 255 || frames < 0 || frames > MAX_ELEMENTS || frames * channels > MAX_ELEMENTS) {
        PyBuffer_Release(&in);
        PyErr_Format(CodecError, "%ld frames in %ld channels; expected 1...255 channels and at most %ld samples", frames, channels,
                     MAX_ELEMENTS);
        return NULL;
    }
    if (writable_buffer(dst, &out, (size_t)(frames * channels) * 4, "output") < 0) { PyBuffer_Release(&in); return NULL; }
    int rc = pcm_decode(codec, in.buf, in.len, channels, frames, out.buf);
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_crc32c(PyObject *self, PyObject *args) {
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*", &in)) return NULL;
    uint32_t c = trw_crc32c(0, in.buf, (size_t)in.len);
    PyBuffer_Release(&in);
    return PyLong_FromUnsignedLong(c);
}

static PyObject *py_zstd_version(PyObject *self, PyObject *noargs) { return PyUnicode_FromString(ZSTD_versionString()); }

static PyMethodDef methods[] = {
    {"decode_frame_into", py_decode_frame_into, METH_VARARGS,
     "decode_frame_into(payload, codec, width, height, out): decode a thermal_frame payload into out (width*height uint16)."},
    {"decode_pcm_into", py_decode_pcm_into, METH_VARARGS,
     "decode_pcm_into(payload, codec, channels, frame_count, out): decode an audio_chunk payload into out (int32, interleaved)."},
    {"crc32c", py_crc32c, METH_VARARGS, "crc32c(data) -> int: CRC-32C (Castagnoli) of data."},
    {"zstd_version", py_zstd_version, METH_NOARGS, "The libzstd version this extension runs."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "trw._codec", "trw payload decoders (C).", -1, methods};

PyMODINIT_FUNC PyInit__codec(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    dctx = ZSTD_createDCtx();
    if (!dctx) { Py_DECREF(m); return PyErr_NoMemory(); }
    CodecError = PyErr_NewExceptionWithDoc("trw._codec.CodecError", "A payload that does not decode to what its row says.",
                                           PyExc_ValueError, NULL);
    ChecksumError = PyErr_NewExceptionWithDoc("trw._codec.ChecksumError",
                                              "A payload whose CRC-32C trailer does not match its bytes.", CodecError, NULL);
    if (!CodecError || !ChecksumError || PyModule_AddObjectRef(m, "CodecError", CodecError) < 0
        || PyModule_AddObjectRef(m, "ChecksumError", ChecksumError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
