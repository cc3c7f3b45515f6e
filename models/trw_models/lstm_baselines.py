"""Recurrent baselines of the DP-LSTM paper, in the same step form as dplstm.py
(trained by recurrent.py with truncated BPTT, served one tick at a time):

* `lstm`: vanilla LSTM, one layer of 128 units, sigmoid dense head.
* `attn-lstm`: the same LSTM plus dot-product attention over its last W hidden
  states (a ring of W states is part of the online state); the head reads
  [h_t ; context_t].
Both use the focal loss of the DP-LSTM (Eq. 15) and no sparsity terms."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import dplstm, layers


def default_config(n_in: int, attention: bool) -> dict:
    return {"n_in": n_in, "hidden": 128, "attention": attention, "window": 16,
            "loss": {"focal_gamma": 2.0, "focal_alpha": 0.75}}


def init_params(key, cfg):
    H, F = cfg["hidden"], cfg["n_in"]
    k1, k2, k3, k4 = jax.random.split(key, 4)
    s = 1.0 / np.sqrt(H)
    p = {"lstm": {"w_ih": jax.random.uniform(k1, (4 * H, F), jnp.float32, -s, s),
                  "w_hh": jax.random.uniform(k2, (4 * H, H), jnp.float32, -s, s),
                  "b": jnp.zeros((4 * H,), jnp.float32).at[H:2 * H].set(1.0)}}
    if cfg["attention"]:
        p["attn"] = {"w": jax.random.uniform(k3, (H, H), jnp.float32, -s, s)}
        p["head"] = layers.dense(k4, 1, 2 * H)
    else:
        p["head"] = layers.dense(k4, 1, H)
    return p


def init_state(cfg, batch):
    H, W = cfg["hidden"], cfg["window"]
    st = {"h": jnp.zeros((batch, H), jnp.float32), "c": jnp.zeros((batch, H), jnp.float32),
          "n": jnp.zeros((batch,), jnp.int32)}
    if cfg["attention"]:
        st["ring"] = jnp.zeros((batch, W, H), jnp.float32)
    return st


def step(params, cfg, state, xn, drive, key=None, train=False):
    lp = params["lstm"]
    gates = xn @ lp["w_ih"].T + state["h"] @ lp["w_hh"].T + lp["b"]
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * state["c"] + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    new = {"h": h, "c": c, "n": state["n"] + 1}
    if cfg["attention"]:
        W, H = cfg["window"], cfg["hidden"]
        ring = jnp.concatenate([state["ring"][:, 1:], h[:, None]], axis=1)
        valid = jnp.arange(W)[None, :] >= (W - 1 - jnp.minimum(state["n"], W - 1))[:, None]
        q = h @ params["attn"]["w"].T
        logits = jnp.einsum("bh,bwh->bw", q, ring) / np.sqrt(H)
        a = jax.nn.softmax(jnp.where(valid, logits, -1e30), axis=-1)
        ctx = jnp.einsum("bw,bwh->bh", a, ring)
        new["ring"] = ring
        feat = jnp.concatenate([h, ctx], axis=-1)
    else:
        feat = h
    score = jax.nn.sigmoid(layers.linear(params["head"], feat))[:, 0]
    return new, {"score": score}


def loss_terms(params, cfg, outs, y, w):
    lc = cfg["loss"]
    fl = (dplstm.focal(outs["score"], y, lc["focal_gamma"], lc["focal_alpha"]) * w).sum() / jnp.maximum(w.sum(), 1.0)
    return fl, {"focal": fl}


class _Family:
    def __init__(self, name, attention):
        self.NAME = name
        self.attention = attention

    def default_config(self, n_in):
        return default_config(n_in, self.attention)

    init_params = staticmethod(init_params)
    init_state = staticmethod(init_state)
    step = staticmethod(step)
    loss_terms = staticmethod(loss_terms)


LSTM = _Family("lstm", False)
ATTN_LSTM = _Family("attn-lstm", True)
