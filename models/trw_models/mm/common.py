"""Shared data handling of the multimodal parts: window gathering over exported runs,
normalisation, the cell's geometry on the IR frame, metrics."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trw_models import data

# ST-Former sensor tokens (issue 12: voltage, current, ambient at 1 Hz).
SENSORS = ("voltage_v", "current_a", "ambient_c")
# Temperature normalisation of IR pixels: (T - 25 degC) / 50 K, clipped.
T_REF_C, T_SCALE_K = 25.0, 50.0
DEFAULTS = dict(window=8, dilation=4, patch=16)


def ae_columns(ds: data.Dataset) -> list:
    """The AE spectrum input of FUSE-GEN: the STFT band powers over the AE band that the dataset has
    (ae_band_*_log10 columns that are not all NaN, i.e. below Nyquist)."""
    cols = []
    for n in ds.feature_names:
        if n.startswith("ae_band_") and any(np.isfinite(r.features[:, ds.column(n)]).any() for r in ds.runs):
            cols.append(n)
    if not cols:
        raise ValueError("the dataset has no usable ae_band_*_log10 feature; export with AE recorded")
    return cols


@dataclass
class Prepared:
    """Per-run arrays ready to be windowed."""
    names: list
    frames: list       # (T, H, W) float16 degC per run
    sensors: list      # (T, 3) float32 standardised
    ae: list           # (T, A) float32 standardised
    feats: list        # (T, F) float32 raw features, NaN filled causally
    target: list       # (T,) int8
    mask: list         # (T,) bool
    t_s: list
    onset_s: list
    has_onset: list
    run_index: list


def prepare(ds: data.Dataset, norm: dict) -> Prepared:
    """Normalises sensors and AE with the statistics in `norm` (fitted on training runs by fit_norm)."""
    p = Prepared([], [], [], [], [], [], [], [], [], [], [])
    s_cols = [ds.column(n) for n in SENSORS]
    a_cols = [ds.column(n) for n in norm["ae_names"]]
    for r in ds.runs:
        if "ir_frames_c" not in r.extras:
            raise ValueError(f"run {r.name}: the dataset has no ir_frames_c; export with --ir-frames 64x48")
        f = data.fill_nan(r.features)
        p.names.append(r.name)
        p.frames.append(r.extras["ir_frames_c"])
        p.sensors.append(((f[:, s_cols] - norm["sensor_mean"]) / norm["sensor_std"]).astype(np.float32))
        ae = r.features[:, a_cols].copy()
        ae = np.where(np.isfinite(ae), ae, np.asarray(norm["ae_floor"])[None, :])
        p.ae.append(((ae - norm["ae_mean"]) / norm["ae_std"]).astype(np.float32))
        p.feats.append(f)
        p.target.append(r.target)
        p.mask.append(r.mask)
        p.t_s.append(r.t_s)
        p.onset_s.append(r.onset_s)
        p.has_onset.append(r.has_onset)
        p.run_index.append(r.index)
    return p


def fit_norm(ds: data.Dataset, train_runs) -> dict:
    tr = ds.subset(train_runs)
    ae_names = ae_columns(ds)
    s = np.concatenate([data.fill_nan(r.features)[:, [ds.column(n) for n in SENSORS]] for r in tr.runs])
    a = np.concatenate([r.features[:, [ds.column(n) for n in ae_names]] for r in tr.runs])
    floor = np.nanpercentile(a, 1, axis=0)
    a = np.where(np.isfinite(a), a, floor[None, :])
    st_s, st_a = data.Standardizer.fit(s), data.Standardizer.fit(a)
    return {"sensor_mean": st_s.mean.tolist(), "sensor_std": st_s.std.tolist(), "ae_names": ae_names,
            "ae_mean": st_a.mean.tolist(), "ae_std": st_a.std.tolist(), "ae_floor": floor.tolist()}


def window_ticks(k: np.ndarray, window: int, dilation: int) -> np.ndarray:
    """Tick indices of the causal window ending at tick k: k - dilation*(window-1-j), clipped at 0."""
    offs = dilation * (np.arange(window) - (window - 1))
    return np.maximum(np.asarray(k)[..., None] + offs, 0)


def norm_frames(f) -> np.ndarray:
    return np.clip((np.asarray(f, np.float32) - T_REF_C) / T_SCALE_K, -2.0, 10.0)


def gather(p: Prepared, pairs: np.ndarray, window: int, dilation: int):
    """pairs (N, 2) of (position in p, tick) -> frames (N, L, H, W) normalised, sensors (N, L, 3),
    ae (N, L, A), labels (N,)."""
    fr, se, ae, y = [], [], [], []
    for ri, k in pairs:
        ks = window_ticks(int(k), window, dilation)
        fr.append(p.frames[ri][ks])
        se.append(p.sensors[ri][ks])
        ae.append(p.ae[ri][ks])
        y.append(p.target[ri][k])
    return (norm_frames(np.stack(fr)), np.stack(se), np.stack(ae), np.asarray(y, np.float32))


def balanced_pairs(p: Prepared, n: int, rng: np.random.Generator, pos_fraction: float = 0.5) -> np.ndarray:
    """n (run, tick) pairs from unmasked ticks, positives drawn with probability pos_fraction."""
    pos, neg = [], []
    for ri in range(len(p.frames)):
        idx = np.nonzero(p.mask[ri])[0]
        y = p.target[ri][idx]
        pos.append(np.stack([np.full((y == 1).sum(), ri), idx[y == 1]], 1))
        neg.append(np.stack([np.full((y == 0).sum(), ri), idx[y == 0]], 1))
    pos, neg = np.concatenate(pos), np.concatenate(neg)
    n_pos = int(round(n * pos_fraction)) if len(pos) else 0
    out = []
    if n_pos:
        out.append(pos[rng.integers(0, len(pos), n_pos)])
    out.append(neg[rng.integers(0, len(neg), n - n_pos)])
    return np.concatenate(out).astype(np.int64)


def all_pairs(p: Prepared, stride: int = 1) -> np.ndarray:
    return np.concatenate([np.stack([np.full(len(range(0, len(t), stride)), ri), np.arange(0, len(t), stride)], 1)
                           for ri, t in enumerate(p.t_s)]).astype(np.int64)


def cell_box(frames_list, margin_c: float = 3.0) -> tuple:
    """The cell's bounding box (y0, y1, x0, x1) on the frame: pixels whose temperature range over
    the training runs exceeds margin_c above the background's."""
    rng_ = None
    for f in frames_list:
        f = f.astype(np.float32)
        r = f.max(0) - f.min(0)
        rng_ = r if rng_ is None else np.maximum(rng_, r)
    thr = np.median(rng_) + margin_c
    ys, xs = np.nonzero(rng_ > thr)
    if len(ys) == 0:
        h, w = rng_.shape
        return (0, h, 0, w)
    return (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


# ---- metrics ----

def auc_roc(y: np.ndarray, s: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = y.sum(), (~y).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ss = np.asarray(s)[order]
    i = 0
    while i < len(ss):                      # average ranks of ties
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def table_metrics(p: Prepared, scores: list, threshold: float = 0.5, early_s: float = 600.0, late_s: float = 10.0) -> dict:
    """Tick-level accuracy/precision/recall/F1/AUC over unmasked ticks (and AUC over the ticks before onset
    only, the early-warning part: positives are then the 60 s before onset), and event-level figures as
    `trw score` counts them (docs/metrics.md): an alarm (score > threshold) in [onset - early, onset + late]
    detects; alarm episodes outside it are false alarms; lead time = onset - first alarm in the window."""
    ys, ss, ye, se = [], [], [], []
    fa, leads, detected, n_pos, neg_alarmed, hours = 0, [], 0, 0, 0, 0.0
    for ri, s in enumerate(scores):
        m = p.mask[ri]
        ys.append(p.target[ri][m])
        ss.append(s[m])
        t = p.t_s[ri]
        pre = m & (t < p.onset_s[ri]) if p.has_onset[ri] else m     # early warning: ticks before onset only
        ye.append(p.target[ri][pre])
        se.append(s[pre])
        a = s > threshold
        hours += (t[-1] - t[0] + 1) / 3600.0
        rising = a & ~np.concatenate([[False], a[:-1]])
        if p.has_onset[ri]:
            n_pos += 1
            on = p.onset_s[ri]
            inwin = (t >= on - early_s) & (t <= on + late_s)
            fa += int((rising & ~inwin & (t < on - early_s)).sum())
            hit = np.nonzero(a & inwin)[0]
            if len(hit):
                detected += 1
                leads.append(float(on - t[hit[0]]))
        else:
            fa += int(rising.sum())
            neg_alarmed += int(a.any())
    y, s = np.concatenate(ys), np.concatenate(ss)
    pred = s > threshold
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"ticks": int(len(y)), "accuracy": (tp + tn) / max(1, len(y)), "precision": prec, "recall": rec,
            "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "auc_roc": auc_roc(y, s),
            "auc_pre_onset": auc_roc(np.concatenate(ye), np.concatenate(se)),
            "runs": len(scores), "pos_runs": n_pos, "event_recall": f"{detected}/{n_pos}", "false_alarms": fa,
            "fa_per_h": fa / hours if hours else 0.0, "neg_alarmed": neg_alarmed,
            "lead_s_mean": float(np.mean(leads)) if leads else float("nan"),
            "lead_s_median": float(np.median(leads)) if leads else float("nan"), "leads_s": leads}


def strided(p: Prepared, stride: int) -> Prepared:
    """The labels and times of every stride-th tick (frames etc. are not needed for metrics)."""
    if stride == 1:
        return p
    q = Prepared(**{k: list(v) for k, v in p.__dict__.items()})
    for name in ("t_s", "target", "mask", "feats"):
        setattr(q, name, [x[::stride] for x in getattr(p, name)])
    return q


def format_table(rows: dict) -> str:
    head = f"{'model':34s} {'acc':>6s} {'prec':>6s} {'rec':>6s} {'F1':>6s} {'AUC':>6s} {'AUCpre':>6s} {'events':>7s} {'FA':>4s} {'FA/h':>6s} {'lead s':>8s}"
    lines = [head]
    for name, m in rows.items():
        lead = f"{m['lead_s_mean']:.1f}" if not math.isnan(m["lead_s_mean"]) else "-"
        lines.append(f"{name:34s} {m['accuracy']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
                     f"{m['auc_roc']:6.3f} {m['auc_pre_onset']:6.3f} {m['event_recall']:>7s} {m['false_alarms']:4d} {m['fa_per_h']:6.2f} {lead:>8s}")
    return "\n".join(lines)
