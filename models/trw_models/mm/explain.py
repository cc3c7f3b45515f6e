"""mm-explain: the degradation / risk maps of DEGRA-GNN and CAUS-RUN's attribution at one instant of
one run, at the IR frame's resolution (NPZ keys in docs/multimodal.md)."""
from __future__ import annotations

import json

import numpy as np

from trw_models import data

from . import causrun, common, png
from .chain import Chain


def explain(directory: str, dataset: str, run: str, at_s, sigma_c: float = 5.0, samples: int = 16,
            region: int = 8, seed: int = 0, ds=None) -> dict:
    chain = Chain(directory)
    if chain.gnn is None:
        raise FileNotFoundError(f"{directory}/degra-gnn: mm-explain needs the trained DEGRA-GNN (mm-train --part degra-gnn)")
    ds = ds or data.load(dataset)
    names = [r.name for r in ds.runs]
    if run not in names:
        raise KeyError(f"run {run!r} is not in {dataset}; it has: {', '.join(names)}")
    one = ds.subset([ds.runs[names.index(run)].index])
    prep = common.prepare(one, chain.norm)
    t = prep.t_s[0]
    if isinstance(at_s, str):
        if at_s == "first-alarm":
            # the first tick whose score passes 0.5 (from onset - 600 s when the run has an onset)
            lo = int(np.searchsorted(t, prep.onset_s[0] - 600)) if prep.has_onset[0] else 0
            ks = np.arange(lo, len(t))
            sc = np.concatenate([chain.score(chain.risk(*common.gather(prep, np.stack([np.zeros(len(c), int), c], 1), chain.window, chain.dilation)[:3]))
                                 for c in np.array_split(ks, max(1, len(ks) // 256))])
            hit = np.nonzero(sc > 0.5)[0]
            if len(hit) == 0:
                raise ValueError(f"run {run!r}: the chain never alarms; give --at in seconds")
            at_s = float(t[ks[hit[0]]])
        elif at_s.startswith("onset"):
            if not prep.has_onset[0]:
                raise ValueError(f"run {run!r} has no runaway_onset label; give --at in seconds")
            at_s = prep.onset_s[0] + float(at_s[5:] or 0)
        else:
            at_s = float(at_s)
    k = int(np.clip(np.searchsorted(t, at_s, side="right") - 1, 0, len(t) - 1))
    f, s, a, y = common.gather(prep, np.array([[0, k]]), chain.window, chain.dilation)
    out = chain.forward(f, s, a)
    g = chain.graph
    H, W = chain.st_cfg["height"], chain.st_cfg["width"]
    node_risk = 1.0 / (1.0 + np.exp(-out["node_logit"][0]))
    risk_map = (g["interp"] @ node_risk).reshape(H, W)                 # Eq. 12 over Eq. 13
    degr_map = (g["interp"] @ out["D"][0]).reshape(H, W)               # Eq. 12 over Eq. 11
    cell = (g["interp"].sum(1) > 0).reshape(H, W)
    window_c = prep.frames[0][common.window_ticks(k, chain.window, chain.dilation)].astype(np.float32)

    def risk_fn(frames_c):
        n = len(frames_c)
        return chain.risk(common.norm_frames(frames_c), np.repeat(s, n, 0), np.repeat(a, n, 0))

    at = causrun.attribute(risk_fn, window_c, sigma_c=sigma_c, samples=samples, region=(region, region),
                           cell_mask=cell, seed=seed)
    meta = {"run": run, "tick": k, "t_s": float(t[k]), "label": int(y[0]), "parts": chain.parts,
            "sigma_c": sigma_c, "samples": samples, "region_px": region, "tau": at.tau,
            "threshold_risk": chain.threshold, "cell_box": g["box"], "nodes": [g["nr"], g["nc"]]}
    return {
        "ir_frame_c": prep.frames[0][k].astype(np.float32),
        "risk_map": risk_map.astype(np.float32),
        "degradation_c": degr_map.astype(np.float32),
        "attribution": at.effect,
        "attribution_mask": at.mask,
        "intervention": at.intervention,
        "cell_mask": cell.astype(np.float32),
        "node_risk": node_risk.reshape(g["nr"], g["nc"]).astype(np.float32),
        "node_degradation_c": out["D"][0].reshape(g["nr"], g["nc"]).astype(np.float32),
        "risk": np.float32(out["risk"][0]),
        "score": np.float32(chain.score(out["risk"])[0]),
        "baseline_risk": np.float32(at.baseline_risk),
        "t_s": np.float64(t[k]),
        "meta_json": np.array([json.dumps(meta)]),
    }


def write_png(result: dict, path: str, scale: int = 4) -> None:
    """Three panels: the IR frame, the predicted risk map over it, the attribution with the mask's edge."""
    fr = result["ir_frame_c"]
    a = png.np.kron(png.colormap(fr), np.ones((scale, scale, 1), np.uint8))
    b = png.overlay(fr, result["risk_map"], None, scale)
    c = png.overlay(fr, result["attribution"], result["attribution_mask"] > 0, scale)
    sep = np.full((a.shape[0], 4, 3), 255, np.uint8)
    png.write_png(path, np.concatenate([a, sep, b, sep, c], axis=1))
