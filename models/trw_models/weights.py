"""Model files: `DIR/model.safetensors` (float32 tensors, flat names "a/b/c")
and `DIR/config.json` (architecture, feature names, normalisation, training log).
The Swift runtime (TRWModels) reads the same two files."""
from __future__ import annotations

import json
import os

import numpy as np
from safetensors.numpy import load_file, save_file


def flatten(tree, prefix: str = "") -> dict:
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}/{k}" if prefix else str(k)))
    else:
        out[prefix] = np.array(tree, dtype=np.float32, order="C")  # keeps 0-d scalars 0-d
    return out


def unflatten(flat: dict) -> dict:
    tree: dict = {}
    for name, v in flat.items():
        node = tree
        parts = name.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return tree


def save(directory: str, params, config: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    save_file(flatten(params), os.path.join(directory, "model.safetensors"), metadata={"format": "trw-model-1"})
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(_finite(config), f, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
        f.write("\n")


def load(directory: str):
    cfg_path = os.path.join(directory, "config.json")
    w_path = os.path.join(directory, "model.safetensors")
    for p in (cfg_path, w_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p}: missing; expected a model directory written by `python -m trw_models train`")
    with open(cfg_path) as f:
        config = json.load(f)
    return unflatten(load_file(w_path)), config


def _finite(o):
    """NaN and infinities become null: config.json must be strict JSON (Swift's JSONSerialization rejects NaN)."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, (float, np.floating)) and not np.isfinite(o):
        return None
    if isinstance(o, np.ndarray) and o.dtype.kind == "f":
        return _finite(o.tolist())
    return o


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")
