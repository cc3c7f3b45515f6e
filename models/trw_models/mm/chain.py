"""Training the chain part by part into one directory, and running it.

DIR/st-former/          ST-Former with sensor tokens (R_t, risk head)
DIR/st-former-thermal/  the thermal-only ablation (--no-sensors)
DIR/fuse-gen/           FUSE-GEN on the frozen ST-Former
DIR/degra-gnn/          DEGRA-GNN on the frozen FUSE-GEN
DIR/sensor-rl/          the SENSOR-RL policy (sensorrl.py)

Each part is a trw_models.weights model directory (model.safetensors + config.json). The chain's risk
is the deepest trained part's: DEGRA-GNN's cell risk, else FUSE-GEN's, else ST-Former's."""
from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trw_models import data, training, weights

from . import common
from .degragnn import DegraGNN, geometry
from .fusegen import FuseGen, elbo_terms
from .stformer import STFormer

PARTS = ("st-former", "fuse-gen", "degra-gnn")
TRAIN_DEFAULTS = {"st-former": dict(lr=5e-4, epochs=12, steps=40, batch=32, patience=3, max_minutes=None),
                  "fuse-gen": dict(lr=5e-4, epochs=10, steps=40, batch=32, patience=3, max_minutes=None),
                  "degra-gnn": dict(lr=1e-3, epochs=10, steps=40, batch=32, patience=3, max_minutes=None)}


def part_dir(root: str, part: str, no_sensors: bool = False) -> str:
    return os.path.join(root, "st-former-thermal" if (part == "st-former" and no_sensors) else part)


def bce(logits, y):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))


def stformer_module(cfg) -> STFormer:
    return STFormer(window=cfg["window"], height=cfg["height"], width=cfg["width"], patch=cfg["patch"], d=cfg["d"],
                    depth=cfg["depth"], heads=cfg["heads"], r_dim=cfg["r_dim"], use_sensors=cfg["use_sensors"])


def to_jnp(tree):
    return jax.tree_util.tree_map(jnp.asarray, tree)


class Chain:
    """The trained parts of one directory, with one jitted forward over windows."""

    def __init__(self, root: str, upto: str | None = None, st_dir: str | None = None):
        self.root = root
        st_dir = st_dir or os.path.join(root, "st-former")
        p, self.st_cfg = weights.load(st_dir)
        self.params = {"st": to_jnp(p)}
        self.cfg = self.st_cfg
        self.st = stformer_module(self.st_cfg)
        self.parts = ["st-former"]
        self.fg = self.gnn = None
        order = PARTS[:PARTS.index(upto) + 1] if upto else PARTS
        if "fuse-gen" in order and os.path.exists(os.path.join(root, "fuse-gen", "config.json")):
            p, self.fg_cfg = weights.load(os.path.join(root, "fuse-gen"))
            self.params["fg"] = to_jnp(p)
            self.fg = FuseGen(latent=self.fg_cfg["latent"], r_dim=self.st_cfg["r_dim"], ae_dim=self.fg_cfg["ae_dim"])
            self.parts.append("fuse-gen")
            self.cfg = self.fg_cfg
            if "degra-gnn" in order and os.path.exists(os.path.join(root, "degra-gnn", "config.json")):
                p, self.gnn_cfg = weights.load(os.path.join(root, "degra-gnn"))
                self.params["gnn"] = to_jnp(p)
                self.gnn = DegraGNN(d=self.gnn_cfg["d"], layers=self.gnn_cfg["layers"], dilation=float(self.st_cfg["dilation"]))
                g = self.gnn_cfg["graph"]
                self.graph = geometry(g["box"], g["nr"], g["nc"], self.st_cfg["height"], self.st_cfg["width"])
                self.geom = {k: jnp.asarray(self.graph[k]) for k in ("pool", "interp", "adj", "etype", "gamma")}
                self.parts.append("degra-gnn")
                self.cfg = self.gnn_cfg
        self.norm = self.st_cfg["norm"]
        self.window, self.dilation = self.st_cfg["window"], self.st_cfg["dilation"]
        self.threshold = float(self.cfg.get("threshold", 0.5))
        self._fwd = jax.jit(self._forward)

    def _forward(self, params, frames, sensors, ae):
        r, logit = self.st.apply({"params": params["st"]}, frames, sensors)
        out = {"R": r, "logit": logit}
        if self.fg is not None:
            rn = (r - jnp.asarray(self.fg_cfg["r_mean"])) / jnp.asarray(self.fg_cfg["r_std"])
            j, mu, logvar, _, _, flogit = self.fg.apply({"params": params["fg"]}, rn, ae.reshape(ae.shape[0], -1))
            out.update(J=mu, logit=flogit)
            if self.gnn is not None:
                g = self.geom
                z, cell, d_int, t = self.gnn.apply({"params": params["gnn"]}, mu, frames, g["pool"], g["adj"], g["etype"], g["gamma"])
                out.update(node_logit=z, D=d_int, node_t=t, logit=cell)
        out["risk"] = jax.nn.sigmoid(out["logit"])
        return out

    def forward(self, frames, sensors, ae) -> dict:
        return {k: np.asarray(v) for k, v in self._fwd(self.params, jnp.asarray(frames), jnp.asarray(sensors), jnp.asarray(ae)).items()}

    def risk(self, frames, sensors, ae, batch: int = 256) -> np.ndarray:
        """Risks of a stack of windows; batches are padded to a few fixed sizes so jit compiles once each."""
        out = []
        for i in range(0, len(frames), batch):
            f, s, a = frames[i:i + batch], sensors[i:i + batch], ae[i:i + batch]
            m = len(f)
            size = next(b for b in (1, 8, 32, 128, batch, m) if b >= m)
            if size > m:
                pad = lambda x: np.concatenate([x, np.repeat(x[-1:], size - m, 0)])
                f, s, a = pad(f), pad(s), pad(a)
            out.append(np.asarray(self._fwd(self.params, jnp.asarray(f), jnp.asarray(s), jnp.asarray(a))["risk"])[:m])
        return np.concatenate(out) if out else np.zeros((0,), np.float32)

    def score(self, risk) -> np.ndarray:
        """The served score: risk mapped monotonically so that the threshold chosen on validation runs is 0.5."""
        return calibrate(np.asarray(risk), self.threshold)


def calibrate(p, thr: float):
    p = np.asarray(p, np.float64)
    return np.where(p <= thr, 0.5 * p / max(thr, 1e-9), 0.5 + 0.5 * (p - thr) / max(1 - thr, 1e-9))


def predict_runs(chain: Chain, prep: common.Prepared, stride: int = 1, batch: int = 256) -> list:
    """Chain risk at every `stride`-th tick of every run (causal windows)."""
    out = []
    for ri in range(len(prep.frames)):
        ks = np.arange(0, len(prep.t_s[ri]), stride)
        rs = []
        for i in range(0, len(ks), batch):
            pairs = np.stack([np.full(len(ks[i:i + batch]), ri), ks[i:i + batch]], 1)
            f, s, a, _ = common.gather(prep, pairs, chain.window, chain.dilation)
            rs.append(chain.risk(f, s, a, batch=batch))
        out.append(np.concatenate(rs))
    return out


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The tick-level F1-maximising threshold on validation predictions."""
    best, thr = -1.0, 0.5
    for t in np.unique(np.quantile(p, np.linspace(0.5, 0.999, 200))):
        pred = p > t
        tp = (pred & (y == 1)).sum()
        f1 = 2 * tp / max(1, pred.sum() + (y == 1).sum())
        if f1 > best:
            best, thr = f1, float(t)
    return thr


def val_pairs(prep: common.Prepared, neg_stride: int = 25) -> np.ndarray:
    """All positive unmasked ticks of the validation runs and every neg_stride-th negative one."""
    out = []
    for ri in range(len(prep.frames)):
        k = np.arange(len(prep.t_s[ri]))
        keep = prep.mask[ri] & ((prep.target[ri] == 1) | (k % neg_stride == 0))
        out.append(np.stack([np.full(keep.sum(), ri), k[keep]], 1))
    return np.concatenate(out).astype(np.int64)


def fit(params, loss_fn, val_metrics, batch_fn, hp, seed, log_name):
    """Adam (AdamW, weight decay 1e-4) with gradient clipping, `steps` sampled batches per epoch, in
    training.fit: after each epoch the validation log-loss and AUC; the parameters with the lowest
    validation log-loss are kept (AUC saturates early); stops after `patience` epochs without an
    improvement of 1e-4, or after `max_minutes`. Returns (best parameters, best log-loss, epoch log)."""
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(hp["lr"], weight_decay=1e-4))
    update = training.make_update(tx, loss_fn, has_aux=True)
    state = training.TrainState(params, tx.init(params), jax.random.PRNGKey(seed), np.random.default_rng(seed))

    def train_epoch(st: training.TrainState) -> dict:
        losses, auxs = [], []
        for _ in range(hp["steps"]):
            key = st.next_key()
            st.params, st.opt_state, loss, aux = update(st.params, st.opt_state, batch_fn(st.rng, hp["batch"]), key)
            losses.append(float(loss))
            auxs.append({k: float(v) for k, v in aux.items()})
        return {"train_loss": float(np.mean(losses)), **{k: float(np.mean([a[k] for a in auxs])) for k in auxs[0]}}

    def log(rec: dict) -> None:
        if "epoch" in rec:
            print(f"{log_name} epoch {rec['epoch']}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                                for k, v in rec.items() if k != "epoch"), flush=True)
        elif "time_budget_s" in rec:
            print(f"{log_name}: time budget of {hp['max_minutes']} min reached after epoch {rec['stopped_after_epoch']}", flush=True)
        else:
            print(f"{log_name}: early stop after epoch {rec['early_stop']}, best epoch {rec['best_epoch']} "
                  f"(validation log-loss {rec['best_val_logloss']:.4f})", flush=True)

    max_s = 60 * hp["max_minutes"] if hp.get("max_minutes") else None
    res = training.fit(state, train_epoch, val_metrics, epochs=hp["epochs"], patience=hp["patience"], min_delta=1e-4,
                       criterion="val_logloss", log=log, max_seconds=max_s)
    return res.params, res.best, res.history


def train(part: str, dataset: str, out: str, seed: int = 0, no_sensors: bool = False, hp_over: dict | None = None,
          split=None, ds: data.Dataset | None = None) -> dict:
    """Trains one part; upstream parts are read from `out` and frozen. Returns the config written."""
    hp = dict(TRAIN_DEFAULTS[part])
    hp.update({k: v for k, v in (hp_over or {}).items() if v is not None})
    ds = ds or data.load(dataset)
    t_start = time.time()
    if part == "st-former":
        tr, va, te = split or data.split_runs(ds, seed)
        norm = common.fit_norm(ds, tr)
        h, w = ds.runs[0].extras["ir_frames_c"].shape[1:]
        cfg = {"model": "mm-st-former", "window": common.DEFAULTS["window"], "dilation": common.DEFAULTS["dilation"],
               "patch": common.DEFAULTS["patch"], "height": int(h), "width": int(w), "d": 64, "depth": 2, "heads": 4,
               "r_dim": 512, "use_sensors": not no_sensors, "sensors": list(common.SENSORS), "norm": norm,
               "split": {"train": tr, "val": va, "test": te}, "seed": seed}
    else:
        up = part_dir(out, "st-former")
        _, st_cfg = weights.load(up)
        tr, va, te = st_cfg["split"]["train"], st_cfg["split"]["val"], st_cfg["split"]["test"]
        norm = st_cfg["norm"]
        cfg = {"model": f"mm-{part}", "split": st_cfg["split"], "seed": seed, "norm": norm}
    p_tr = common.prepare(ds.subset(tr), norm)
    p_va = common.prepare(ds.subset(va), norm)
    vpairs = val_pairs(p_va)
    window, dil = (cfg if part == "st-former" else st_cfg)["window"], (cfg if part == "st-former" else st_cfg)["dilation"]
    vf, vs, va_ae, vy = common.gather(p_va, vpairs, window, dil)

    def batch_fn(rng, n):
        f, s, a, y = common.gather(p_tr, common.balanced_pairs(p_tr, n, rng), window, dil)
        return {"frames": jnp.asarray(f), "sensors": jnp.asarray(s), "ae": jnp.asarray(a), "y": jnp.asarray(y)}

    key = jax.random.PRNGKey(seed)
    b0 = batch_fn(np.random.default_rng(seed), 2)
    if part == "st-former":
        model = stformer_module(cfg)
        params = model.init(key, b0["frames"], b0["sensors"])["params"]

        def logits_of(params, f, s, a):
            return model.apply({"params": params}, f, s)[1]

        def loss_fn(params, b, key):
            return bce(logits_of(params, b["frames"], b["sensors"], b["ae"]), b["y"]), {}
    else:
        st = Chain(out, upto="st-former")
        st_p = st.params["st"]
        if part == "fuse-gen":
            rr = []
            rng0 = np.random.default_rng(seed + 1)
            for _ in range(8):
                b = batch_fn(rng0, 128)
                rr.append(np.asarray(st.st.apply({"params": st_p}, b["frames"], b["sensors"])[0]))
            rr = np.concatenate(rr)
            ae_dim = int(window * len(norm["ae_names"]))
            cfg.update(latent=1024, ae_dim=ae_dim, beta=1.0, r_mean=rr.mean(0).tolist(), r_std=np.maximum(rr.std(0), 1e-3).tolist())
            model = FuseGen(latent=1024, r_dim=st.st_cfg["r_dim"], ae_dim=ae_dim)
            r_mean, r_std = jnp.asarray(cfg["r_mean"]), jnp.asarray(cfg["r_std"])
            params = model.init(key, jnp.zeros((2, st.st_cfg["r_dim"])), jnp.zeros((2, ae_dim)))["params"]

            def fg_in(f, s, a):
                r = jax.lax.stop_gradient(st.st.apply({"params": st_p}, f, s)[0])
                return (r - r_mean) / r_std, a.reshape(a.shape[0], -1)

            def logits_of(params, f, s, a):
                rn, af = fg_in(f, s, a)
                return model.apply({"params": params}, rn, af)[5]

            def loss_fn(params, b, key):
                rn, af = fg_in(b["frames"], b["sensors"], b["ae"])
                j, mu, logvar, r_hat, ae_hat, logit = model.apply({"params": params}, rn, af, key)
                rec, kl = elbo_terms(mu, logvar, rn, r_hat, af, ae_hat)
                cls = bce(logit, b["y"])
                return jnp.mean(rec + cfg["beta"] * kl) + cls, {"rec": jnp.mean(rec), "kl": jnp.mean(kl), "bce": cls}
        else:
            fgc = Chain(out, upto="fuse-gen")
            if fgc.fg is None:
                raise FileNotFoundError(f"{out}/fuse-gen: train FUSE-GEN first (mm-train --part fuse-gen --out {out})")
            box = common.cell_box(p_tr.frames)
            g = geometry(box, 4, 6, st.st_cfg["height"], st.st_cfg["width"])
            cfg.update(d=64, layers=2, graph={"box": g["box"], "nr": g["nr"], "nc": g["nc"]})
            geo = {k: jnp.asarray(g[k]) for k in ("pool", "adj", "etype", "gamma")}
            model = DegraGNN(d=64, layers=2, dilation=float(st.st_cfg["dilation"]))
            fg_p = fgc.params

            def j_of(f, s, a):
                return jax.lax.stop_gradient(fgc._forward(fg_p, f, s, a)["J"])

            params = model.init(key, jnp.zeros((2, 1024)), b0["frames"], geo["pool"], geo["adj"], geo["etype"], geo["gamma"])["params"]

            def logits_of(params, f, s, a):
                return model.apply({"params": params}, j_of(f, s, a), f, geo["pool"], geo["adj"], geo["etype"], geo["gamma"])[1]

            def loss_fn(params, b, key):
                return bce(logits_of(params, b["frames"], b["sensors"], b["ae"]), b["y"]), {}

    pred = jax.jit(logits_of)

    def eval_probs(params):
        out_ = []
        for i in range(0, len(vy), 256):
            out_.append(np.asarray(jax.nn.sigmoid(pred(params, jnp.asarray(vf[i:i + 256]), jnp.asarray(vs[i:i + 256]), jnp.asarray(va_ae[i:i + 256])))))
        return np.concatenate(out_)

    def val_metrics(p):
        q = np.clip(eval_probs(p), 1e-6, 1 - 1e-6)
        logloss = float(-np.mean(vy * np.log(q) + (1 - vy) * np.log(1 - q)))
        return {"val_logloss": logloss, "val_auc": common.auc_roc(vy, q)}

    best_params, _, log = fit(params, loss_fn, val_metrics, batch_fn, hp, seed, part + (" (thermal only)" if no_sensors else ""))
    vp = eval_probs(best_params)
    best_auc = common.auc_roc(vy, vp)
    cfg.update(threshold=choose_threshold(vy, vp), val_auc=best_auc, hyper=hp, training=log,
               train_seconds=round(time.time() - t_start, 1), dataset=os.path.abspath(dataset) if dataset else None)
    weights.save(part_dir(out, part, no_sensors), jax.tree_util.tree_map(np.asarray, best_params), cfg)
    return cfg
