"""The chain as an online replay-protocol model (trw_models.serve.OnlineModel).

Per tick it needs the IR frame at the tick's end (a downsampled °C array at the export's size, 64x48),
the BMS sensors and the AE band powers. The tick line carries the features; the frame comes from
the last `frame` line with `pixels_c` before the tick (`trw replay --frames 64x48`), or, while
`trw predict`/`trw score` cannot yet ask for pixels, from the exported dataset given with
--frames-npz (looked up by the session's uuid and the tick's index)."""
from __future__ import annotations

import math
import sys
from collections import deque

import numpy as np

from . import common
from .chain import Chain


def resize_block(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Nearest/area-free resize by index mapping (exact when sizes match)."""
    H, W = img.shape
    if (H, W) == (h, w):
        return img
    ys = (np.arange(h) * H // h)
    xs = (np.arange(w) * W // w)
    return img[ys][:, xs]


class FrameStore:
    """Frames of an exported dataset by session uuid and tick index."""

    def __init__(self, path: str):
        z = np.load(path, allow_pickle=False)
        if "ir_frames_c" not in z.files:
            raise ValueError(f"{path}: no ir_frames_c; export with --ir-frames 64x48")
        self.frames = z["ir_frames_c"]
        si = z["session_index"]
        self.rows = {str(u): np.nonzero(si == s)[0] for s, u in enumerate(z["session_uuid"])}
        self.by_name = {str(n): str(u) for n, u in zip(z["session_name"], z["session_uuid"])}

    def frame(self, uuid: str, name: str, k: int):
        rows = self.rows.get(uuid)
        if rows is None and name in self.by_name:
            rows = self.rows[self.by_name[name]]
        if rows is None or len(rows) == 0:
            return None
        return self.frames[rows[min(k, len(rows) - 1)]].astype(np.float32)


class MMOnline:
    def __init__(self, directory: str, frames_npz: str | None = None):
        self.chain = Chain(directory)
        self.store = FrameStore(frames_npz) if frames_npz else None
        self.h, self.w = self.chain.st_cfg["height"], self.chain.st_cfg["width"]
        n = self.chain.norm
        self.s_mean, self.s_std = np.asarray(n["sensor_mean"], np.float32), np.asarray(n["sensor_std"], np.float32)
        self.a_mean, self.a_std = np.asarray(n["ae_mean"], np.float32), np.asarray(n["ae_std"], np.float32)
        self.a_floor = np.asarray(n["ae_floor"], np.float32)
        self.header = {}
        self.reset([])

    def reset(self, feature_names) -> None:
        need = list(common.SENSORS) + list(self.chain.norm["ae_names"])
        missing = [n for n in need if feature_names and n not in feature_names]
        if missing:
            print(f"trw_models mm-serve: the stream lacks features {missing}; they are treated as unavailable", file=sys.stderr)
        span = (self.chain.window - 1) * self.chain.dilation + 1
        self.buf = deque(maxlen=span)
        self.first = None
        self.k = 0
        self.frame = None
        self.last_sensor = np.zeros(len(common.SENSORS), np.float32)

    def _frame_from_events(self, events):
        for e in events:
            if e.get("type") == "frame" and isinstance(e.get("pixels_c"), dict):
                px = e["pixels_c"]
                arr = np.array([np.nan if v is None else v for v in px["data"]], np.float32).reshape(px["height"], px["width"])
                if np.isnan(arr).any():
                    arr = np.where(np.isnan(arr), np.nanmedian(arr) if np.isfinite(arr).any() else common.T_REF_C, arr)
                self.frame = resize_block(arr, self.h, self.w)

    def step(self, features: dict, events: list) -> float:
        self._frame_from_events(events)
        if self.store is not None:
            f = self.store.frame(self.header.get("uuid", ""), self.header.get("name", ""), self.k)
            if f is not None:
                self.frame = f
        frame = self.frame
        if frame is None:
            if self.store is not None:
                raise RuntimeError(f"session {self.header.get('name')!r} ({self.header.get('uuid')}) is not in the --frames-npz dataset")
            if self.k > 30:
                self._warned_no_frames()
            amb = features.get("ambient_c", math.nan)
            frame = np.full((self.h, self.w), amb if math.isfinite(amb) else common.T_REF_C, np.float32)
        s = np.array([features.get(n, math.nan) for n in common.SENSORS], np.float32)
        s = np.where(np.isfinite(s), s, self.last_sensor)
        self.last_sensor = s
        a = np.array([features.get(n, math.nan) for n in self.chain.norm["ae_names"]], np.float32)
        a = np.where(np.isfinite(a), a, self.a_floor)
        item = (frame, (s - self.s_mean) / self.s_std, (a - self.a_mean) / self.a_std)
        if self.first is None:
            self.first = item
        self.buf.append(item)
        ks = common.window_ticks(self.k, self.chain.window, self.chain.dilation)
        base = self.k - (len(self.buf) - 1)               # tick index of buf[0]
        rows = [self.buf[int(kk) - base] if kk >= base else self.first for kk in ks]
        f = common.norm_frames(np.stack([r[0] for r in rows]))[None]
        se = np.stack([r[1] for r in rows])[None].astype(np.float32)
        ae = np.stack([r[2] for r in rows])[None].astype(np.float32)
        self.k += 1
        return float(self.chain.score(self.chain.risk(f, se, ae))[0])

    _warned = False

    def _warned_no_frames(self) -> bool:
        if not self._warned:
            print("trw_models mm-serve: no frame line with pixels_c seen after 30 ticks; the model is running on a "
                  "uniform ambient frame. Replay with `--frames 64x48` or pass --frames-npz DATASET.npz", file=sys.stderr)
            self._warned = True
        return True


def header_tap(lines, model: MMOnline):
    """Passes lines through, remembering the session header's uuid and name for --frames-npz."""
    import json
    for raw in lines:
        if '"session"' in raw:
            try:
                e = json.loads(raw)
                if e.get("type") == "session":
                    model.header = {"uuid": e.get("uuid", ""), "name": e.get("name", "")}
            except json.JSONDecodeError:
                pass
        yield raw
