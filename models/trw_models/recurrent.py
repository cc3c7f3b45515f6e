"""Training and serving of the step-form recurrent models (dp-lstm, lstm, attn-lstm).

Training is truncated BPTT: every epoch each training run is cut at a random
offset into pieces of `--piece` ticks; pieces are processed 64 at a time
(`--batch`), each from a zero state, in chunks of `--chunk` ticks with the
state carried from chunk to chunk (gradients stop at chunk borders). One Adam
update per chunk. Validation runs every validation run from its first tick
with the state carried through the whole run, exactly as online serving does;
its loss drives early stopping (training.fit, the loop shared by every
supervised trainer).

Normalisation (config.json "norm", applied identically by serve and by the
Swift runtime): missing values (NaN) are carried forward (0 before the first
value); xn = clip((x - mean) / std, -clip, clip); the mask drive is
(dt_c / drive_scale[0], dv_v / drive_scale[1]). mean, std and drive_scale are
fitted on the training runs' ticks before onset.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import data, dplstm, lstm_baselines, training, weights

FAMILIES = {"dp-lstm": dplstm, "lstm": lstm_baselines.LSTM, "attn-lstm": lstm_baselines.ATTN_LSTM}
CLIP = 10.0


def fit_norm(ds: data.Dataset, run_ids, features) -> dict:
    rows = []
    for r in ds.runs:
        if r.index in run_ids:
            x = data.fill_nan(r.features)
            keep = r.mask & ~r.post_onset
            rows.append(x[keep])
    x = np.concatenate(rows)
    mean = x.mean(0)
    std = x.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    i_dt, i_dv = features.index("dt_c"), features.index("dv_v")
    return {"mean": mean.astype(np.float32).tolist(), "std": std.astype(np.float32).tolist(), "clip": CLIP,
            "drive_features": ["dt_c", "dv_v"],
            "drive_scale": [float(max(std[i_dt], 1e-6)), float(max(std[i_dv], 1e-6))]}


def prepare(x_raw: np.ndarray, norm: dict, features) -> tuple:
    """(T, F) raw features, NaN already filled -> (xn, drive), float32."""
    mean = np.asarray(norm["mean"], np.float32)
    std = np.asarray(norm["std"], np.float32)
    xn = np.clip((x_raw.astype(np.float32) - mean) / std, -norm["clip"], norm["clip"]).astype(np.float32)
    idx = [features.index(n) for n in norm["drive_features"]]
    drive = (np.abs(x_raw[:, idx]).astype(np.float32) / np.asarray(norm["drive_scale"], np.float32)).astype(np.float32)
    return xn, drive


def _run_arrays(ds, run_ids, norm, features):
    out = []
    for r in ds.runs:
        if r.index in run_ids:
            xn, drive = prepare(data.fill_nan(r.features), norm, features)
            out.append((xn, drive, r.target.astype(np.float32), r.mask.astype(np.float32), r.name))
    return out


def _pieces(runs, piece, rng):
    ps = []
    for xn, drive, y, w, _ in runs:
        T = xn.shape[0]
        o = int(rng.integers(0, piece))
        cuts = [0] + list(range(o, T, piece))[1 if o == 0 else 0:] + [T]
        cuts = sorted(set(c for c in cuts if 0 <= c <= T))
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b > a:
                ps.append((xn[a:b], drive[a:b], y[a:b], w[a:b]))
    return ps


def _stack(pieces, length):
    B = len(pieces)
    F = pieces[0][0].shape[1]
    xn = np.zeros((length, B, F), np.float32)
    dr = np.zeros((length, B, 2), np.float32)
    y = np.zeros((length, B), np.float32)
    w = np.zeros((length, B), np.float32)
    for j, (a, b, c, d) in enumerate(pieces):
        n = a.shape[0]
        xn[:n, j], dr[:n, j], y[:n, j], w[:n, j] = a, b, c, d
    return xn, dr, y, w


def make_chunk_fns(family, cfg):
    def chunk_loss(params, state, xs, drs, ys, ws, key, train):
        def body(carry, inp):
            st, k = carry
            x, d = inp
            k, sub = jax.random.split(k)
            st, out = family.step(params, cfg, st, x, d, sub, train)
            return (st, k), out
        (state, _), outs = jax.lax.scan(body, (state, key), (xs, drs))
        total, parts = family.loss_terms(params, cfg, outs, ys, ws)
        extra = {"wsum": ws.sum(), "active": (dplstm.active_fraction(outs) * ws).sum()} if "m" in outs else {"wsum": ws.sum()}
        return total, (jax.lax.stop_gradient(state), parts, extra)

    grad_fn = jax.jit(jax.value_and_grad(lambda *a: chunk_loss(*a, True), has_aux=True))
    eval_fn = jax.jit(lambda *a: chunk_loss(*a, False))
    return grad_fn, eval_fn


def evaluate(eval_fn, family, cfg, params, runs, chunk):
    """Loss over whole runs, state carried from the first tick (as served). Returns weighted means."""
    if not runs:
        return {"loss": math.nan}
    T = max(r[0].shape[0] for r in runs)
    T = int(math.ceil(T / chunk) * chunk)
    xn, dr, y, w = _stack([r[:4] for r in runs], T)
    state = family.init_state(cfg, len(runs))
    sums: dict = {}
    wsum = 0.0
    active = 0.0
    key = jax.random.PRNGKey(0)
    for a in range(0, T, chunk):
        total, (state, parts, extra) = eval_fn(params, state, xn[a:a + chunk], dr[a:a + chunk], y[a:a + chunk], w[a:a + chunk], key)
        ws = float(extra["wsum"])
        wsum += ws
        sums["loss"] = sums.get("loss", 0.0) + float(total) * ws
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v) * ws
        if "active" in extra:
            active += float(extra["active"])
    out = {k: v / max(wsum, 1.0) for k, v in sums.items()}
    if active:
        out["active_fraction"] = active / max(wsum, 1.0)
    return out


def train(ds: data.Dataset, split, args, log) -> tuple:
    family = FAMILIES[args.model]
    features = list(ds.feature_names)
    train_ids, val_ids, _ = split
    norm = fit_norm(ds, set(train_ids), features)
    cfg = family.default_config(len(features))
    if args.model == "dp-lstm":
        if args.hidden:
            cfg["hidden"] = args.hidden
        if args.layers:
            cfg["layers"] = args.layers
    elif args.hidden:
        cfg["hidden"] = args.hidden
    tr = _run_arrays(ds, set(train_ids), norm, features)
    va = _run_arrays(ds, set(val_ids), norm, features)
    key = jax.random.PRNGKey(args.seed)
    key, k0 = jax.random.split(key)
    params = family.init_params(k0, cfg)
    opt = optax.adam(args.lr)
    grad_fn, eval_fn = make_chunk_fns(family, cfg)
    state = training.TrainState(params, opt.init(params), key, np.random.default_rng(args.seed))

    @jax.jit
    def apply(params, opt_state, grads):
        upd, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, upd), opt_state

    def train_epoch(st: training.TrainState) -> dict:
        """Random pieces of every training run, `batch` at a time, each from a zero state through
        chunks of `chunk` ticks with the state carried; one Adam update per chunk."""
        pieces = _pieces(tr, args.piece, st.rng)
        order = st.rng.permutation(len(pieces))
        tl, tw, ta = 0.0, 0.0, 0.0
        for g in range(0, len(order), args.batch):
            group = [pieces[i] for i in order[g:g + args.batch]]
            L = int(math.ceil(max(p[0].shape[0] for p in group) / args.chunk) * args.chunk)
            xn, dr, y, w = _stack(group, L)
            rstate = family.init_state(cfg, len(group))
            for a in range(0, L, args.chunk):
                if w[a:a + args.chunk].sum() == 0:
                    continue
                (loss, (rstate, parts, extra)), grads = grad_fn(st.params, rstate, xn[a:a + args.chunk], dr[a:a + args.chunk],
                                                                y[a:a + args.chunk], w[a:a + args.chunk], st.next_key())
                st.params, st.opt_state = apply(st.params, st.opt_state, grads)
                ws = float(extra["wsum"])
                tl += float(loss) * ws
                tw += ws
                ta += float(extra.get("active", 0.0))
            if args.max_groups and g // args.batch + 1 >= args.max_groups:
                break
        rec = {"train_loss": tl / max(tw, 1)}
        if args.model == "dp-lstm":
            rec["train_active_fraction"] = ta / max(tw, 1)
        return rec

    def validate(params) -> dict:
        return {f"val_{k}": v for k, v in evaluate(eval_fn, family, cfg, params, va, 4 * args.chunk).items()}

    res = training.fit(state, train_epoch, validate if va else None, epochs=args.epochs, patience=args.patience, log=log)
    config = {"model": args.model, "module": "trw_models.recurrent", "features": features, "norm": norm,
              "arch": cfg, "history": res.history, "best_val_loss": res.best, "best_epoch": res.best_epoch}
    return jax.tree_util.tree_map(np.asarray, res.params), config


class Online:
    """serve.OnlineModel over a trained step-form model: one jitted step per tick."""
    wants_events = False  # scores from tick features only

    def __init__(self, directory: str):
        params, config = weights.load(directory)
        self.config = config
        self.family = FAMILIES[config["model"]]
        self.cfg = config["arch"]
        self.features = config["features"]
        self.norm = config["norm"]
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        cfg, fam = self.cfg, self.family
        self._step = jax.jit(lambda p, s, x, d: fam.step(p, cfg, s, x, d, None, False))
        self.reset(self.features)

    def reset(self, feature_names) -> None:
        missing = [n for n in self.features if n not in feature_names]
        if missing:
            raise SystemExit(f"trw_models serve: the replay lacks features {missing} this model was trained on")
        self.state = self.family.init_state(self.cfg, 1)
        self.last = np.zeros(len(self.features), np.float32)

    def step_array(self, x_raw: np.ndarray):
        x = np.where(np.isnan(x_raw), self.last, x_raw).astype(np.float32)
        self.last = x
        xn, drive = prepare(x[None], self.norm, self.features)
        self.state, out = self._step(self.params, self.state, jnp.asarray(xn), jnp.asarray(drive))
        return out

    def step(self, features: dict, events: list) -> float:
        x = np.array([features.get(n, math.nan) for n in self.features], np.float32)
        return float(self.step_array(x)["score"][0])


def load_online(directory: str):
    return Online(directory)
