"""Parameter-tree building blocks shared by the pure-JAX models (dplstm.py,
lstm_baselines.py, wavelet_cnn.py).

A dense layer is {"w": (n_out, n_in), "b": (n_out,)} and a layer norm
{"g": (d,), "b": (d,)}: these tensor names are part of model.safetensors and of
the Swift runtime (Sources/TRWModels), so they never change."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def dense(key, n_out: int, n_in: int, scale: float | None = None) -> dict:
    """A dense layer's parameters: w uniform in [-scale, scale] (default 1/sqrt(n_in)), b = 0."""
    s = scale if scale is not None else 1.0 / np.sqrt(n_in)
    return {"w": jax.random.uniform(key, (n_out, n_in), jnp.float32, -s, s), "b": jnp.zeros((n_out,), jnp.float32)}


def linear(p: dict, x):
    """x @ w.T + b over the last axis of x."""
    return x @ p["w"].T + p["b"]


def layer_norm(p: dict, x, eps: float = 1e-5):
    """Layer normalisation over the last axis with gain g and bias b."""
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / jnp.sqrt(v + eps) * p["g"] + p["b"]
