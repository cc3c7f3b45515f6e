"""Wavelet-CNN baseline: continuous wavelet transform (Mexican hat, scales
1..8) of the last 64 normalised ticks of every input, stacked as F x 8
channels over time, then two strided 1-D convolutions (32 filters, width 5,
ReLU), global average pooling and a sigmoid dense head. Trained on causal
windows (every 4th tick, every positive tick) with the focal loss, Adam,
batch 64 and early stopping on the validation runs' loss (training.fit).

Tensors: conv{0,1}/w (width, c_in, c_out), conv{0,1}/b, head/w, head/b.
The CWT is recomputed each tick by PyWavelets in serving, as in training."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pywt

from . import data, dplstm, layers, recurrent, training, weights, windowed

WINDOW, SCALES, WAVELET = 64, np.arange(1, 9), "mexh"


def cwt_features(win: np.ndarray) -> np.ndarray:
    """(N, W, F) normalised windows -> (N, W, F * len(SCALES)) wavelet coefficients."""
    c, _ = pywt.cwt(win, SCALES, WAVELET, axis=1)  # (S, N, W, F)
    c = np.transpose(c, (1, 2, 3, 0))
    return c.reshape(c.shape[0], c.shape[1], -1).astype(np.float32)


def init_params(key, c_in, width=5, filters=32):
    k0, k1, k2 = jax.random.split(key, 3)
    s0, s1 = 1 / np.sqrt(width * c_in), 1 / np.sqrt(width * filters)
    return {"conv0": {"w": jax.random.uniform(k0, (width, c_in, filters), jnp.float32, -s0, s0), "b": jnp.zeros((filters,))},
            "conv1": {"w": jax.random.uniform(k1, (width, filters, filters), jnp.float32, -s1, s1), "b": jnp.zeros((filters,))},
            "head": layers.dense(k2, 1, filters)}


def forward(p, x):
    """x: (N, W, C) -> scores (N,)."""
    for name in ("conv0", "conv1"):
        x = jax.lax.conv_general_dilated(x, p[name]["w"], (2,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))
        x = jax.nn.relu(x + p[name]["b"])
    return jax.nn.sigmoid(layers.linear(p["head"], x.mean(axis=1)))[:, 0]


def _windows(ds, run_ids, norm, features, stride, all_positive):
    X, Y, Wt = [], [], []
    for r in ds.runs:
        if r.index not in run_ids:
            continue
        xn, _ = recurrent.prepare(data.fill_nan(r.features), norm, features)
        w, y = data.windows(xn, r.target, WINDOW, 1)
        keep = (np.arange(len(y)) % stride == 0) | ((y > 0) if all_positive else False)
        keep &= r.mask
        X.append(w[keep])
        Y.append(y[keep].astype(np.float32))
    X = np.concatenate(X)
    return cwt_features(X), np.concatenate(Y)


def train(ds, split, args, log):
    features = list(ds.feature_names)
    tr, va, _ = split
    norm = recurrent.fit_norm(ds, set(tr), features)
    Xt, yt = _windows(ds, set(tr), norm, features, 4, True)
    Xv, yv = _windows(ds, set(va), norm, features, 4, False) if va else (None, None)
    log({"train_windows": int(len(yt)), "val_windows": 0 if yv is None else int(len(yv))})
    key = jax.random.PRNGKey(args.seed)
    params = init_params(key, Xt.shape[2])
    opt = optax.adam(args.lr)
    gamma, alpha = 2.0, 0.75

    def loss_fn(p, x, y):
        return dplstm.focal(forward(p, x), y, gamma, alpha).mean()

    update = training.make_update(opt, loss_fn)
    ev = jax.jit(loss_fn)
    state = training.TrainState(params, opt.init(params), key, np.random.default_rng(args.seed))

    def train_epoch(st: training.TrainState) -> dict:
        """The training windows in a random order, `batch` at a time (at most 8 * --max-groups batches)."""
        order = st.rng.permutation(len(yt))
        tl = []
        n_batches = len(order) // args.batch
        if args.max_groups:
            n_batches = min(n_batches, args.max_groups * 8)
        for b in range(max(n_batches, 1)):
            i = order[b * args.batch:(b + 1) * args.batch]
            st.params, st.opt_state, l, _ = update(st.params, st.opt_state, Xt[i], yt[i])
            tl.append(float(l))
        return {"train_loss": float(np.mean(tl))}

    def validate(p) -> dict:
        vl = sum(float(ev(p, Xv[a:a + 4096], yv[a:a + 4096])) * len(yv[a:a + 4096]) for a in range(0, len(yv), 4096)) / len(yv)
        return {"val_loss": vl}

    res = training.fit(state, train_epoch, validate if yv is not None and len(yv) else None,
                       epochs=args.epochs, patience=args.patience, log=log)
    cfg = {"model": "wavelet-cnn", "module": "trw_models.wavelet_cnn", "features": features, "norm": norm,
           "arch": {"window": WINDOW, "scales": SCALES.tolist(), "wavelet": WAVELET}, "history": res.history,
           "best_val_loss": res.best, "best_epoch": res.best_epoch}
    return jax.tree_util.tree_map(np.asarray, res.params), cfg


class Online:
    wants_events = False  # scores from tick features only
    def __init__(self, directory):
        p, self.config = weights.load(directory)
        self.p = jax.tree_util.tree_map(jnp.asarray, p)
        self.features = self.config["features"]
        self.norm = self.config["norm"]
        self._f = jax.jit(forward)
        self.reset(self.features)

    def reset(self, feature_names):
        self.hist = windowed.History(self.features, WINDOW)

    def step(self, features, events):
        h = self.hist.push(features)
        xn, _ = recurrent.prepare(h, self.norm, self.features)
        return float(self._f(self.p, jnp.asarray(cwt_features(xn[None])))[0])


def load_online(directory):
    return Online(directory)
