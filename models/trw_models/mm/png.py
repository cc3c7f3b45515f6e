"""A minimal PNG writer (zlib + struct, numpy only) and matplotlib's colour maps (tables in colormap_tables.py), so maps can be looked at
without matplotlib."""
from __future__ import annotations

import struct
import zlib

import numpy as np

from .colormap_tables import TABLES


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


def write_png(path: str, rgb: np.ndarray) -> None:
    """Writes an (H, W, 3) uint8 image as an 8-bit RGB PNG (filter 0 on every row)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def read_png(path: str) -> np.ndarray:
    """Reads back what write_png writes (8-bit RGB, filter 0): for tests."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        tag, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            w, h = struct.unpack(">II", payload[:8])
        elif tag == b"IDAT":
            idat += payload
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    return raw[:, 1:].reshape(h, w, 3)


def colormap(x: np.ndarray, lo: float | None = None, hi: float | None = None, name: str = "inferno") -> np.ndarray:
    """Maps values through matplotlib's 8-bit table `name` (inferno or gray; the same table trw's
    Swift ColorMap uses, from schemas/colormaps/) over [lo, hi] (default: the data's range), with
    matplotlib's rule: entry floor(256 u) of u = (x - lo) / (hi - lo), clamped to 0..255; NaN is
    entry 0. Returns (.., 3) uint8, equal to `matplotlib.colormaps[name](u, bytes=True)[..., :3]`
    for finite values."""
    if name not in TABLES:
        raise ValueError(f"colour map '{name}' is not one of {sorted(TABLES)}")
    x = np.asarray(x, np.float64)
    lo = float(np.nanmin(x)) if lo is None else lo
    hi = float(np.nanmax(x)) if hi is None else hi
    u = (x - lo) / (hi - lo if hi > lo else 1.0)
    idx = np.nan_to_num(u * 256, nan=0.0, posinf=255.0, neginf=0.0)
    idx = np.clip(idx, 0, 255).astype(np.intp)
    return np.asarray(TABLES[name], np.uint8)[idx]


def overlay(frame_c: np.ndarray, value: np.ndarray, mask: np.ndarray | None = None, scale: int = 4) -> np.ndarray:
    """The IR frame in grey with `value` (0..1 after normalisation) blended in colour, and the mask's edge in
    cyan; upscaled by `scale` (nearest)."""
    g = frame_c - np.nanmin(frame_c)
    g = (255 * g / (np.nanmax(g) if np.nanmax(g) > 0 else 1.0)).astype(np.float64)
    grey = np.repeat(g[..., None], 3, axis=2)
    v = np.nan_to_num(value.astype(np.float64))
    vmax = v.max() if v.max() > 0 else 1.0
    a = np.clip(v / vmax, 0, 1)[..., None] * 0.7
    img = grey * (1 - a) + colormap(v, 0.0, vmax).astype(np.float64) * a
    if mask is not None:
        m = mask.astype(bool)
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        img[edge] = [0, 255, 255]
    img = img.round().clip(0, 255).astype(np.uint8)
    return np.kron(img, np.ones((scale, scale, 1), np.uint8))
