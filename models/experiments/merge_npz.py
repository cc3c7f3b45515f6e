#!/usr/bin/env python3
"""Merges trw-dataset-1 NPZs (`trw export` outputs, e.g. one per session) into one dataset.

    python3 models/experiments/merge_npz.py OUT.npz IN1.npz IN2.npz ...

Per-tick arrays are concatenated, per-session arrays appended, session_index renumbered; meta_json
is the first input's (all inputs must share rate, horizon, IR size and AE bins)."""
import json
import sys

import numpy as np

PER_SESSION_PREFIX = "session_"


def merge(paths):
    out, n_sessions = {}, 0
    metas = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        metas.append(json.loads(str(a["meta_json"][0])) if "meta_json" in a else {})
        if out and list(a["feature_names"]) != list(out["feature_names"][0]):
            raise ValueError(f"{p}: feature names differ from {paths[0]}")
        for k, v in a.items():
            if k in ("feature_names", "meta_json"):
                out.setdefault(k, [v])
                continue
            if k == "session_index":
                v = v + n_sessions
            out.setdefault(k, []).append(v)
        n_sessions += len(a["session_name"])
    for key in ("rate_hz", "horizon_s", "ir_frame_size", "ae_stft_bins"):
        vals = {m.get(key) for m in metas}
        if len(vals) > 1:
            raise ValueError(f"inputs disagree on {key}: {vals}")
    return {k: (v[0] if k in ("feature_names", "meta_json") else np.concatenate(v)) for k, v in out.items()}


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    m = merge(sys.argv[2:])
    np.savez(sys.argv[1], **m)
    print(f"{sys.argv[1]}: {len(m['session_name'])} sessions, {len(m['t_s'])} ticks")
