"""Writes the JAX-vs-Swift parity fixture for the DP-LSTM runtime:
Tests/TRWModelsTests/Fixtures/dplstm_small/{model.safetensors, config.json, sequence.json}.

The model has the full architecture (4 layers, 2-layer 4-head streaming
transformer policy, threshold + policy mask) at a small size (hidden 16,
d 16, window 4) so the fixture stays a few tens of kB. Its weights are the
initialisation perturbed so that both mask states occur; the input sequence
is nominal drift, then a pre-runaway ramp (with NaNs to exercise the carry).
sequence.json holds the raw inputs, the JAX scores and the JAX hard masks.

    cd models && python3 tools/make_dplstm_fixture.py
"""
from __future__ import annotations

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trw_models import data, dplstm, recurrent, weights  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TRWModelsTests", "Fixtures", "dplstm_small")


def make(out=OUT, T=48, seed=3):
    features = list(data.DP_LSTM_FEATURES)
    cfg = dplstm.default_config(len(features))
    cfg.update(hidden=16, layers=4)
    cfg["policy"].update(d=16, heads=4, window=4, ff=32)
    key = jax.random.PRNGKey(seed)
    k0, k1, k2 = jax.random.split(key, 3)
    p = dplstm.init_params(k0, cfg)
    p = jax.tree_util.tree_map(np.asarray, p)
    rng = np.random.default_rng(seed)
    p["policy"]["head"]["b"] = rng.normal(0, 1.5, p["policy"]["head"]["b"].shape).astype(np.float32)
    for j in range(cfg["policy"]["layers"]):
        p["policy"][f"l{j}"]["rel_bias"] = rng.normal(0, 0.5, p["policy"][f"l{j}"]["rel_bias"].shape).astype(np.float32)
    p["head"]["w"] = (p["head"]["w"] * 4).astype(np.float32)
    norm = {"mean": [0.05, 0.002, 40.0, 4.2], "std": [0.1, 0.004, 20.0, 0.5], "clip": 10.0,
            "drive_features": ["dt_c", "dv_v"], "drive_scale": [0.1, 0.004]}
    t = np.arange(T, dtype=np.float32)
    temp = np.where(t < 30, 30 + 0.02 * t, 30.6 + 0.02 * 30 + 0.8 * np.maximum(t - 30, 0) ** 1.3).astype(np.float32)
    volt = np.where(t < 30, 4.2 + 0.001 * t, 4.23 - 0.01 * np.maximum(t - 30, 0) ** 1.5).astype(np.float32)
    raw = np.stack([np.abs(np.diff(temp, prepend=temp[0])), np.abs(np.diff(volt, prepend=volt[0])), temp, volt], 1).astype(np.float32)
    raw[5, 1] = np.nan
    raw[6, 3] = np.nan
    filled = data.fill_nan(raw)
    xn, drive = recurrent.prepare(filled, norm, features)
    jp = jax.tree_util.tree_map(jnp.asarray, p)
    state = dplstm.init_state(cfg, 1)
    scores, masks, margins = [], [], []
    for i in range(T):
        state, o = dplstm.step(jp, cfg, state, jnp.asarray(xn[i:i + 1]), jnp.asarray(drive[i:i + 1]))
        scores.append(float(o["score"][0]))
        masks.append(np.asarray(o["m"][0]).astype(int).reshape(-1).tolist())
        margins.append(float(np.abs(np.asarray(o["keep"][0]) - 0.5).min()))
    config = {"model": "dp-lstm", "module": "trw_models.recurrent", "features": features, "norm": norm, "arch": cfg,
              "note": "parity fixture written by models/tools/make_dplstm_fixture.py"}
    weights.save(out, p, config)
    seq = {"raw": [[None if np.isnan(v) else float(v) for v in row] for row in raw], "scores": scores, "masks": masks,
           "min_keep_margin": min(margins), "active_fraction": float(np.mean(masks))}
    with open(os.path.join(out, "sequence.json"), "w") as f:
        json.dump(seq, f)
    return seq


if __name__ == "__main__":
    s = make()
    print(f"wrote {OUT}: {len(s['scores'])} ticks, active fraction {s['active_fraction']:.2f}, "
          f"smallest |keep - 0.5| = {s['min_keep_margin']:.2e}, scores {min(s['scores']):.3f}..{max(s['scores']):.3f}")
