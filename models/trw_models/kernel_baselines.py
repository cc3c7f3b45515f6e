"""Kernel baselines: Gaussian-process regression (Matern kernel) and a one-class
SVM trained on normal operation, both over the causal window summaries of
windowed.py, standardised with training-run statistics.

Fitting uses scikit-learn; what serving needs is saved as plain float32
tensors in model.safetensors (no pickle), and serving evaluates it in numpy:

* gp: predictive mean m(x) = sum_i alpha_i k(x, X_i) + y_mean, with
  k = c * Matern(length_scale, nu) (+ white noise, which does not enter the
  cross-covariance). Tensors: X (n, f), alpha (n,), length_scale (f,),
  constant, nu, y_mean. Score = clip(m(x), 0, 1): the GP regresses the
  "runaway within the horizon" target.
* ocsvm: f(x) = sum_i a_i exp(-gamma |x - sv_i|^2) + b (positive inside the
  normal class). Tensors: sv (n, f), dual (n,), intercept, gamma, scale.
  Score = sigmoid(-f(x) / scale): above 0.5 exactly when x is outside the
  learned normal region; scale = std of f over the training normal ticks.
"""
from __future__ import annotations

import math

import numpy as np

from . import data, weights, windowed

NORMAL_MARGIN_S = 600.0  # "normal operation": negative runs, and positive runs until onset - 600 s


def _design(ds, run_ids, features):
    X, y, normal = [], [], []
    for r in ds.runs:
        if r.index not in run_ids:
            continue
        s = windowed.summaries(data.fill_nan(r.features), features)
        keep = r.mask
        X.append(s[keep])
        y.append(r.target[keep].astype(np.float32))
        tto = (r.onset_s - r.t_s) if r.has_onset else np.full(r.t_s.shape, np.inf)
        normal.append((tto > NORMAL_MARGIN_S)[keep])
    return np.concatenate(X), np.concatenate(y), np.concatenate(normal)


def matern(X1, X2, length_scale, nu, constant):
    d = np.sqrt(np.maximum(((X1[:, None, :] - X2[None, :, :]) / length_scale) ** 2, 0).sum(-1))
    if abs(nu - 0.5) < 1e-9:
        k = np.exp(-d)
    elif abs(nu - 1.5) < 1e-9:
        a = math.sqrt(3) * d
        k = (1 + a) * np.exp(-a)
    elif abs(nu - 2.5) < 1e-9:
        a = math.sqrt(5) * d
        k = (1 + a + a * a / 3) * np.exp(-a)
    else:
        raise ValueError(f"Matern nu={nu} not supported by the numpy server (0.5, 1.5, 2.5)")
    return constant * k


def train(ds, split, args, log):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from sklearn.svm import OneClassSVM

    features = list(ds.feature_names)
    tr, va, _ = split
    X, y, normal = _design(ds, set(tr), features)
    mean, std = X.mean(0), X.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    Xs = (X - mean) / std
    rng = np.random.default_rng(args.seed)
    norm = {"mean": mean.astype(np.float32).tolist(), "std": std.astype(np.float32).tolist()}
    base = {"model": args.model, "module": "trw_models.kernel_baselines", "features": features,
            "summaries": windowed.summary_names(features), "norm": norm}
    Xv, yv, nv = _design(ds, set(va), features) if va else (None, None, None)
    if args.model == "gp":
        pos = np.nonzero(y > 0.5)[0]
        neg = np.nonzero(y <= 0.5)[0]
        n_pos = min(len(pos), 400)
        idx = np.concatenate([rng.choice(pos, n_pos, replace=False) if n_pos else pos[:0],
                              rng.choice(neg, min(len(neg), 1200 - n_pos), replace=False)])
        kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(X.shape[1]), nu=1.5) + WhiteKernel(0.1)
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=False, random_state=args.seed, n_restarts_optimizer=0)
        gp.fit(Xs[idx], y[idx])
        k = gp.kernel_
        params = {"X": Xs[idx].astype(np.float32), "alpha": gp.alpha_.astype(np.float32),
                  "length_scale": np.atleast_1d(k.k1.k2.length_scale).astype(np.float32),
                  "constant": np.float32(k.k1.k1.constant_value), "nu": np.float32(k.k1.k2.nu), "y_mean": np.float32(0.0)}
        rec = {"kernel": str(k), "n_train_points": int(len(idx))}
        if Xv is not None:
            pred = np.clip(gp_mean(params, (Xv - mean) / std), 0, 1)
            rec["val_brier"] = float(((pred - yv) ** 2).mean())
        log(rec)
        return params, {**base, **rec, "history": [rec]}
    # ocsvm
    idx = np.nonzero(normal)[0]
    idx = rng.choice(idx, min(len(idx), 3000), replace=False)
    gamma = rbf_scale_gamma(Xs[idx])
    svm = OneClassSVM(kernel="rbf", gamma=gamma, nu=0.01)
    svm.fit(Xs[idx])
    f_train = svm.decision_function(Xs[idx])
    params = {"sv": svm.support_vectors_.astype(np.float32), "dual": svm.dual_coef_[0].astype(np.float32),
              "intercept": np.float32(svm.intercept_[0]), "gamma": np.float32(gamma),
              "scale": np.float32(max(float(f_train.std()), 1e-6))}
    rec = {"n_normal_points": int(len(idx)), "n_support": int(len(params["sv"])), "gamma": gamma}
    if Xv is not None:
        s = ocsvm_score(params, (Xv - mean) / std)
        rec["val_normal_alarm_rate"] = float((s[nv] > 0.5).mean()) if nv.any() else math.nan
        rec["val_positive_alarm_rate"] = float((s[yv > 0.5] > 0.5).mean()) if (yv > 0.5).any() else math.nan
    log(rec)
    return params, {**base, **rec, "history": [rec]}


def rbf_scale_gamma(X) -> float:
    """scikit-learn's gamma="scale" for an RBF kernel: 1 / (n_features * X.var()), computed in float64
    as scikit-learn does (1 when X has no variance)."""
    X = np.asarray(X, np.float64)
    v = float(X.var())
    return 1.0 / (X.shape[1] * v) if v != 0 else 1.0


def gp_mean(p, Xs):
    out = []
    for a in range(0, len(Xs), 2048):
        k = matern(Xs[a:a + 2048], p["X"], p["length_scale"], float(p["nu"]), float(p["constant"]))
        out.append(k @ p["alpha"] + float(p["y_mean"]))
    return np.concatenate(out)


def ocsvm_decision(p, Xs):
    d2 = ((Xs[:, None, :] - p["sv"][None, :, :]) ** 2).sum(-1)
    return np.exp(-float(p["gamma"]) * d2) @ p["dual"] + float(p["intercept"])


def ocsvm_score(p, Xs):
    return 1.0 / (1.0 + np.exp(np.clip(ocsvm_decision(p, Xs) / float(p["scale"]), -50, 50)))


class Online:
    wants_events = False  # scores from tick features only
    def __init__(self, directory):
        self.p, self.config = weights.load(directory)
        self.features = self.config["features"]
        self.mean = np.asarray(self.config["norm"]["mean"], np.float32)
        self.std = np.asarray(self.config["norm"]["std"], np.float32)
        self.reset(self.features)

    def reset(self, feature_names):
        self.hist = windowed.History(self.features, windowed.LONG + 1)

    def step(self, features, events):
        h = self.hist.push(features)
        xs = ((windowed.summaries(h, self.features)[-1:] - self.mean) / self.std).astype(np.float32)
        if self.config["model"] == "gp":
            return float(np.clip(gp_mean(self.p, xs)[0], 0, 1))
        return float(ocsvm_score(self.p, xs)[0])


def load_online(directory):
    return Online(directory)
