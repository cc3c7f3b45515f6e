"""The dynamic pruned LSTM (DP-LSTM) in step form, pure JAX.

One function, `step`, advances the model by one tick; training scans it over
chunks (truncated BPTT, recurrent.py), serving calls it once per tick, and the
Swift runtime (Sources/TRWModels/DPLSTM.swift) re-implements exactly the same
step. Design decisions (models/README.md has the full text):

* Inputs: x_t normalised per feature, xn = clip((x - mean) / std, -clip, clip),
  with mean/std fitted on the training runs' pre-onset ticks. The mask's drive
  uses the raw non-negative changes scaled by their pre-onset std:
  d_t = (dT_t / s_dT, dV_t / s_dV). All constants are in config.json.
* Policy: a 2-layer streaming transformer encoder (4 heads, d = 128) over the
  last W ticks. Each layer attends over its own last W positions with a
  learned relative-position bias (no absolute positions), so keys/values are
  computed once per tick and cached: the policy costs O(W d + d^2) per tick.
  z_t = the top layer's output for the current tick (the policy's summary of
  the recent inputs); p_t = sigmoid(W_p z_t + b_p) gives one keep probability
  per cell of every layer (Eq. 13).
* Mask (Eqs. 9-10): u_t = alpha * dT^ + beta * dV^ per cell; threshold gate
  g_t = sigmoid((u_t - tau) / kappa); the cell's keep probability is the
  probabilistic OR k_t = 1 - (1 - p_t)(1 - g_t) (the policy keeps what slow
  state needs, the threshold wakes cells when the input moves);
  M_t = [k_t > 0.5]. Gradients: straight-through (forward M_t, backward dk_t).
* All L layers are pruned, each with its own mask. A pruned cell is not
  evaluated: its memory c keeps its previous value, and it emits h~ = 0 to the
  next layer and to its own layer's recurrence (Eq. 11 uses h~ everywhere).
  So an active cell only needs the columns of active inputs, and a pruned
  cell's four gate rows are skipped entirely.
* Score s_t = sigmoid(W_s [h~_t ; z_t] + b_s) on the top layer (Eq. 14).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .layers import dense, layer_norm, linear

NAME = "dp-lstm"


def default_config(n_in: int) -> dict:
    return {"n_in": n_in, "hidden": 256, "layers": 4, "dropout": 0.2,
            "policy": {"d": 128, "heads": 4, "layers": 2, "window": 16, "ff": 256},
            "kappa": 0.1, "tau_init": [0.1, 0.3],
            "loss": {"l1": 1.0, "l2": 0.05, "l3": 0.01, "focal_gamma": 2.0, "focal_alpha": 0.75}}


def init_params(key, cfg: dict) -> dict:
    H, L, F = cfg["hidden"], cfg["layers"], cfg["n_in"]
    pc = cfg["policy"]
    d, W, ff = pc["d"], pc["window"], pc["ff"]
    keys = iter(jax.random.split(key, 64))
    lstm = {}
    for l in range(L):
        n_in = F if l == 0 else H
        s = 1.0 / np.sqrt(H)
        b = jnp.zeros((4 * H,), jnp.float32).at[H:2 * H].set(1.0)  # forget-gate bias 1
        lstm[f"l{l}"] = {"w_ih": jax.random.uniform(next(keys), (4 * H, n_in), jnp.float32, -s, s),
                         "w_hh": jax.random.uniform(next(keys), (4 * H, H), jnp.float32, -s, s), "b": b}
    lo, hi = cfg["tau_init"]
    gate = {"alpha": jax.random.uniform(next(keys), (L, H), jnp.float32, 0.01, 0.1),
            "beta": jax.random.uniform(next(keys), (L, H), jnp.float32, 0.01, 0.1),
            "tau": jax.random.uniform(next(keys), (L, H), jnp.float32, lo, hi)}
    pol = {"embed": dense(next(keys), d, F)}
    for j in range(pc["layers"]):
        pol[f"l{j}"] = {"q": dense(next(keys), d, d), "k": dense(next(keys), d, d), "v": dense(next(keys), d, d),
                        "o": dense(next(keys), d, d), "rel_bias": jnp.zeros((pc["heads"], W), jnp.float32),
                        "ln1": {"g": jnp.ones((d,), jnp.float32), "b": jnp.zeros((d,), jnp.float32)},
                        "ln2": {"g": jnp.ones((d,), jnp.float32), "b": jnp.zeros((d,), jnp.float32)},
                        "ff1": dense(next(keys), ff, d), "ff2": dense(next(keys), d, ff)}
    pol["head"] = dense(next(keys), L * H, d)
    head = dense(next(keys), 1, H + d)
    return {"lstm": lstm, "gate": gate, "policy": pol, "head": head}


def init_state(cfg: dict, batch: int) -> dict:
    H, L = cfg["hidden"], cfg["layers"]
    pc = cfg["policy"]
    W, d = pc["window"], pc["d"]
    z = lambda *s: jnp.zeros(s, jnp.float32)
    return {"h": z(batch, L, H), "c": z(batch, L, H),
            "k": z(pc["layers"], batch, W, d), "v": z(pc["layers"], batch, W, d),
            "n": jnp.zeros((batch,), jnp.int32)}


def policy_step(pp, pc, kcache, vcache, n, xn):
    """One tick of the streaming transformer. kcache/vcache: (layers, B, W, d), oldest first.
    n: ticks seen before this one. Returns z (B, d) and the new caches."""
    W, nh, d = pc["window"], pc["heads"], pc["d"]
    dh = d // nh
    B = xn.shape[0]
    valid = (jnp.arange(W)[None, :] >= (W - 1 - jnp.minimum(n, W - 1))[:, None])  # (B, W): slots holding a token
    x = linear(pp["embed"], xn)
    ks, vs = [], []
    for j in range(pc["layers"]):
        p = pp[f"l{j}"]
        q, k, v = linear(p["q"], x), linear(p["k"], x), linear(p["v"], x)
        kc = jnp.concatenate([kcache[j][:, 1:], k[:, None]], axis=1)
        vc = jnp.concatenate([vcache[j][:, 1:], v[:, None]], axis=1)
        ks.append(kc)
        vs.append(vc)
        qh = q.reshape(B, nh, dh)
        kh = kc.reshape(B, W, nh, dh)
        vh = vc.reshape(B, W, nh, dh)
        logits = jnp.einsum("bhe,bwhe->bhw", qh, kh) / np.sqrt(dh) + p["rel_bias"][None, :, ::-1]  # slot W-1 has age 0
        logits = jnp.where(valid[:, None, :], logits, -1e30)
        a = jax.nn.softmax(logits, axis=-1)
        att = jnp.einsum("bhw,bwhe->bhe", a, vh).reshape(B, d)
        x = layer_norm(p["ln1"], x + linear(p["o"], att))
        x = layer_norm(p["ln2"], x + linear(p["ff2"], jax.nn.relu(linear(p["ff1"], x))))
    return x, jnp.stack(ks), jnp.stack(vs)


def step(params, cfg, state, xn, drive, key=None, train: bool = False):
    """Advances one tick. xn: (B, F) normalised inputs; drive: (B, 2) = (dT/s_dT, dV/s_dV).
    Returns (new_state, out) with out = {score, k (keep prob), m (hard mask), u (drive)}."""
    H, L = cfg["hidden"], cfg["layers"]
    pc = cfg["policy"]
    B = xn.shape[0]
    z, kc, vc = policy_step(params["policy"], pc, state["k"], state["v"], state["n"], xn)
    p = jax.nn.sigmoid(linear(params["policy"]["head"], z)).reshape(B, L, H)
    g_ = params["gate"]
    u = g_["alpha"][None] * drive[:, 0, None, None] + g_["beta"][None] * drive[:, 1, None, None]
    g = jax.nn.sigmoid((u - g_["tau"][None]) / cfg["kappa"])
    keep = 1.0 - (1.0 - p) * (1.0 - g)
    hard = (keep > 0.5).astype(jnp.float32)
    m = hard + keep - jax.lax.stop_gradient(keep)  # straight-through
    hs, cs = [], []
    inp = xn
    for l in range(L):
        lp = params["lstm"][f"l{l}"]
        if train and l > 0 and cfg["dropout"] > 0:
            key, sub = jax.random.split(key)
            inp = inp * jax.random.bernoulli(sub, 1 - cfg["dropout"], inp.shape) / (1 - cfg["dropout"])
        gates = inp @ lp["w_ih"].T + state["h"][:, l] @ lp["w_hh"].T + lp["b"]
        i, f, gg, o = jnp.split(gates, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * state["c"][:, l] + jax.nn.sigmoid(i) * jnp.tanh(gg)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        ml = m[:, l]
        c = ml * c_new + (1 - ml) * state["c"][:, l]
        h = ml * h_new
        hs.append(h)
        cs.append(c)
        inp = h
    score = jax.nn.sigmoid(linear(params["head"], jnp.concatenate([inp, z], axis=-1)))[:, 0]
    new = {"h": jnp.stack(hs, 1), "c": jnp.stack(cs, 1), "k": kc, "v": vc, "n": state["n"] + 1}
    return new, {"score": score, "keep": keep, "m": hard, "u": u}


def focal(s, y, gamma, alpha, eps=1e-7):
    """Binary focal loss per element (Lin et al.), alpha weighting the positive class."""
    s = jnp.clip(s, eps, 1 - eps)
    return -(alpha * y * (1 - s) ** gamma * jnp.log(s) + (1 - alpha) * (1 - y) * s ** gamma * jnp.log(1 - s))


def loss_terms(params, cfg, outs, y, w):
    """Eqs. 15-18 over a chunk. outs: stacked step outputs (T, B, ...); y, w: (T, B)."""
    lc = cfg["loss"]
    wsum = jnp.maximum(w.sum(), 1.0)
    fl = (focal(outs["score"], y, lc["focal_gamma"], lc["focal_alpha"]) * w).sum() / wsum
    sp = (outs["keep"].mean(axis=(-1, -2)) * w).sum() / wsum
    hinge = jnp.maximum(0.0, params["gate"]["tau"][None, None] - outs["u"]).mean(axis=(-1, -2))
    pol = (hinge * w).sum() / wsum
    total = lc["l1"] * fl + lc["l2"] * sp + lc["l3"] * pol
    return total, {"focal": fl, "sparsity": sp, "policy": pol}


def active_fraction(outs) -> jnp.ndarray:
    return outs["m"].mean(axis=(-1, -2))
