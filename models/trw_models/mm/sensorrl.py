"""SENSOR-RL (issue 12): a PPO policy (ppo.py) choosing sensing settings, trained in an environment
built from recorded sessions by decimating their streams as the action says.

Actions (three categorical heads):
  ir_fps           1, 0.5, 0.2 Hz   (frames held for 1, 2, 5 ticks of the 1 Hz export)
  ae_threshold_db  40, 60, 70, 80   (a tick's AE spectrum is seen only if its loudest hit reaches the
                                     threshold; otherwise the quiet floor)
  bms_hz           1, 0.5, 0.2 Hz   (voltage/current/ambient sample-and-hold)
Holds are phase-locked to session time: the value at tick k is the one sampled at floor(k / P) * P.

Step: the policy decides every `decide_every` ticks (5 s). Energy of a step (Eq. reward):
  E = sum over its ticks of c_ir * ir_fps + c_ae * [AE hit >= threshold] + c_bms * bms_hz,
normalised by full sensing (c_ir + c_ae + c_bms per tick); costs c = (1.0, 0.5, 0.1).
Accuracy: the frozen chain's alarm (calibrated score > 0.5) on the decimated window ending at the step's
last tick compared with the label runaway_within_horizon; a correct positive counts w_pos = 5 (alarms are
rare and matter more). Reward r = lambda1 * w * correct - lambda2 * E with lambda1 = 1, lambda2 = 0.5.

State (what the recorder can give at 1 Hz, see mm-policy): [score, confidence |2 score - 1|, SoC (0 when
unknown), SoH (1, not recorded), standardised held features POLICY_FEATURES]."""
from __future__ import annotations

import json
import math
import os
import sys
import time

import jax
import numpy as np

from trw_models import data, weights

from . import common, ppo
from .chain import Chain

IR_FPS = (1.0, 0.5, 0.2)
AE_DB = (40.0, 60.0, 70.0, 80.0)
BMS_HZ = (1.0, 0.5, 0.2)
HEADS = (len(IR_FPS), len(AE_DB), len(BMS_HZ))
COSTS = (1.0, 0.5, 0.1)
POLICY_FEATURES = ("ir_max_c", "ir_dmax_c", "cell_temp_c", "dt_c", "voltage_v", "dv_v", "ae_hit_rate_hz")
IR_FEATS = ("ir_max_c", "ir_dmax_c")
BMS_FEATS = ("cell_temp_c", "dt_c", "voltage_v", "dv_v")
AE_FEATS = ("ae_hit_rate_hz",)
OBS_DIM = 4 + len(POLICY_FEATURES)


def settings(a) -> dict:
    return {"ir_fps": IR_FPS[int(a[0])], "ae_threshold_db": AE_DB[int(a[1])], "bms_hz": BMS_HZ[int(a[2])]}


def observation(score: float, feats: dict, fmean, fstd) -> np.ndarray:
    """The policy's state from a score and raw features (NaN/None allowed)."""
    soc = feats.get("soc")
    soc = 0.0 if soc is None or not math.isfinite(soc) else float(soc)
    x = np.array([np.nan if feats.get(n) is None else feats[n] for n in POLICY_FEATURES], np.float64)
    z = np.nan_to_num((x - np.asarray(fmean)) / np.asarray(fstd))
    return np.concatenate([[score, abs(2 * score - 1), soc, 1.0], np.clip(z, -10, 10)]).astype(np.float32)


class DecimationEnv:
    """Vectorised over n_envs episodes of `episode_steps` decisions on the given runs."""

    def __init__(self, chain: Chain, prep: common.Prepared, ds: data.Dataset, n_envs: int = 16, decide_every: int = 5,
                 episode_steps: int = 24, lam1: float = 1.0, lam2: float = 0.5, w_pos: float = 5.0, fnorm=None,
                 onset_fraction: float = 0.5):
        self.c, self.p, self.n = chain, prep, n_envs
        self.every, self.ep_steps, self.lam1, self.lam2, self.w_pos = decide_every, episode_steps, lam1, lam2, w_pos
        self.onset_fraction = onset_fraction
        cols = {n: ds.column(n) for n in set(POLICY_FEATURES) | {"ae_max_amplitude_db", "soc"}}
        self.amp = [np.nan_to_num(r.features[:, cols["ae_max_amplitude_db"]], nan=-np.inf) for r in ds.runs]
        self.feat = [r.features[:, [cols[n] for n in POLICY_FEATURES]] for r in ds.runs]
        self.soc = [r.features[:, cols["soc"]] for r in ds.runs]
        if fnorm is None:
            allf = np.concatenate(self.feat)
            fnorm = (np.nanmean(allf, 0).tolist(), np.where(np.nanstd(allf, 0) > 1e-8, np.nanstd(allf, 0), 1.0).tolist())
        self.fmean, self.fstd = np.nan_to_num(np.asarray(fnorm[0])), np.asarray(fnorm[1])
        self.ae_floor = ((np.asarray(chain.norm["ae_floor"]) - np.asarray(chain.norm["ae_mean"])) / np.asarray(chain.norm["ae_std"])).astype(np.float32)
        self.full_energy = float(sum(COSTS))
        self.last_info = {}

    # --- decimated inputs ---
    def _window(self, ri: int, k: int, a):
        ks = common.window_ticks(k, self.c.window, self.c.dilation)
        p_ir, p_bms = int(round(1 / IR_FPS[a[0]])), int(round(1 / BMS_HZ[a[2]]))
        f = self.p.frames[ri][(ks // p_ir) * p_ir]
        s = self.p.sensors[ri][(ks // p_bms) * p_bms]
        ae = self.p.ae[ri][ks].copy()
        ae[self.amp[ri][ks] < AE_DB[a[1]]] = self.ae_floor
        return common.norm_frames(f), s, ae

    def _features(self, ri: int, k: int, a) -> dict:
        p_ir, p_bms = int(round(1 / IR_FPS[a[0]])), int(round(1 / BMS_HZ[a[2]]))
        row = {}
        for j, n in enumerate(POLICY_FEATURES):
            kk = (k // p_ir) * p_ir if n in IR_FEATS else (k // p_bms) * p_bms if n in BMS_FEATS else k
            v = float(self.feat[ri][kk, j])
            if n in AE_FEATS and self.amp[ri][k] < AE_DB[a[1]]:
                v = 0.0
            row[n] = v
        s = self.soc[ri][(k // p_bms) * p_bms]
        row["soc"] = float(s)
        return row

    def energy(self, ri: int, k0: int, k1: int, a) -> float:
        amp = self.amp[ri][k0:k1]
        e = COSTS[0] * IR_FPS[a[0]] * len(amp) + COSTS[1] * float((amp >= AE_DB[a[1]]).sum()) + COSTS[2] * BMS_HZ[a[2]] * len(amp)
        return e / (self.full_energy * max(1, len(amp)))

    def evaluate(self, items):
        """items: list of (run, tick, action) -> calibrated scores and labels."""
        f, s, ae = zip(*[self._window(ri, k, a) for ri, k, a in items])
        risk = self.c.risk(np.stack(f), np.stack(s), np.stack(ae))
        return self.c.score(risk), np.array([self.p.target[ri][k] for ri, k, _ in items])

    # --- episodes ---
    def _start(self, rng):
        ri = int(rng.integers(len(self.p.frames)))
        T = len(self.p.t_s[ri])
        span = self.every * self.ep_steps
        if self.p.has_onset[ri] and rng.random() < self.onset_fraction:
            on = int(np.searchsorted(self.p.t_s[ri], self.p.onset_s[ri]))
            lo, hi = max(0, on - span - 60), max(1, min(T - span, on - 10))
        else:
            lo, hi = 0, max(1, T - span)
        return ri, int(rng.integers(lo, max(lo + 1, hi)))

    def reset(self, rng):
        self.rng = rng
        self.state = [self._start(rng) + (0,) for _ in range(self.n)]
        a0 = (0, 0, 0)
        items = [(ri, k0 + self.every - 1, a0) for ri, k0, _ in self.state]
        sc, _ = self.evaluate(items)
        return np.stack([observation(float(s), self._features(ri, k, a0), self.fmean, self.fstd) for s, (ri, k, _) in zip(sc, items)])

    def step(self, actions):
        items, energies = [], []
        for (ri, k0, st), a in zip(self.state, actions):
            a = tuple(int(x) for x in a)
            start = k0 + (st + 1) * self.every
            end = min(start + self.every, len(self.p.t_s[ri]))
            items.append((ri, end - 1, a))
            energies.append(self.energy(ri, start, end, a))
        sc, y = self.evaluate(items)
        correct = ((sc > 0.5) == (y == 1)).astype(np.float64)
        w = np.where(y == 1, self.w_pos, 1.0)
        e = np.array(energies)
        r = self.lam1 * w * correct - self.lam2 * e
        obs, done = [], []
        for i, ((ri, k0, st), (_, k, a)) in enumerate(zip(self.state, items)):
            st += 1
            fin = st >= self.ep_steps or (k0 + (st + 2) * self.every) > len(self.p.t_s[ri])
            obs.append(observation(float(sc[i]), self._features(ri, k, a), self.fmean, self.fstd))
            if fin:
                ri2, k02 = self._start(self.rng)
                self.state[i] = (ri2, k02, 0)
            else:
                self.state[i] = (ri, k0, st)
            done.append(fin)
        self.last_info = {"accuracy": float(correct.mean()), "energy": float(e.mean())}
        return np.stack(obs), r.astype(np.float32), np.array(done)


def run_policy(env: DecimationEnv, choose, every: int | None = None, all_ticks: bool = False) -> dict:
    """Runs a policy (choose(obs (E, D)) -> actions (E, 3)) over whole runs (all runs in parallel), deciding
    every `every` ticks; the detector is scored on the decimated window at every tick under the action in force
    (all_ticks) or, to save time, at each interval's last tick, its alarm held over the interval. Returns tick-level accuracy,
    balanced accuracy, recall of positive ticks, event recall and mean energy fraction."""
    every = every or env.every
    n = len(env.p.frames)
    lens = [len(t) for t in env.p.t_s]
    a = np.zeros((n, 3), np.int32)
    obs = np.stack([observation(0.0, env._features(ri, 0, (0, 0, 0)), env.fmean, env.fstd) for ri in range(n)])
    scores = [np.zeros(L, np.float32) for L in lens]
    energy, ticks = 0.0, 0
    for k0 in range(0, max(lens), every):
        live = [ri for ri in range(n) if k0 < lens[ri]]
        a[live] = choose(obs[live])
        if all_ticks:
            items = [(ri, k, tuple(a[ri])) for ri in live for k in range(k0, min(k0 + every, lens[ri]))]
        else:
            items = [(ri, min(k0 + every, lens[ri]) - 1, tuple(a[ri])) for ri in live]
        sc, _ = env.evaluate(items)
        for (ri, k, _), s in zip(items, sc):
            if not all_ticks:                   # causal hold: the previous evaluation until this one
                scores[ri][k0:k] = scores[ri][k0 - 1] if k0 > 0 else 0.0
            scores[ri][k] = s
        for ri in live:
            k1 = min(k0 + every, lens[ri])
            energy += env.energy(ri, k0, k1, tuple(a[ri])) * (k1 - k0)
            ticks += k1 - k0
            obs[ri] = observation(float(scores[ri][k1 - 1]), env._features(ri, k1 - 1, tuple(a[ri])), env.fmean, env.fstd)
    m = common.table_metrics(env.p, scores)
    y = np.concatenate([env.p.target[ri][env.p.mask[ri]] for ri in range(n)])
    s = np.concatenate([scores[ri][env.p.mask[ri]] for ri in range(n)])
    pos, neg = y == 1, y == 0
    m["balanced_accuracy"] = 0.5 * ((s[pos] > 0.5).mean() + (s[neg] <= 0.5).mean()) if pos.any() and neg.any() else float("nan")
    m["energy_fraction"] = energy / max(1, ticks)
    return m


def train_policy(root: str, dataset: str, seed: int = 0, iters: int = 40, n_envs: int = 16, ds=None, log=print) -> dict:
    chain = Chain(root)
    ds = ds or data.load(dataset)
    split = chain.st_cfg["split"]
    tr = ds.subset(split["train"])
    env = DecimationEnv(chain, common.prepare(tr, chain.norm), tr, n_envs=n_envs)
    t0 = time.time()
    policy, params, hist = ppo.train(env, HEADS, OBS_DIM, iters=iters, n_steps=env.ep_steps, seed=seed,
                                     log=lambda e: log("sensor-rl " + ", ".join(f"{k} {v}" for k, v in e.items())))
    cfg = {"model": "mm-sensor-rl", "heads": list(HEADS), "ir_fps": list(IR_FPS), "ae_threshold_db": list(AE_DB),
           "bms_hz": list(BMS_HZ), "costs": list(COSTS), "policy_features": list(POLICY_FEATURES),
           "feature_mean": env.fmean.tolist(), "feature_std": env.fstd.tolist(), "decide_every": env.every,
           "lambda1": env.lam1, "lambda2": env.lam2, "w_pos": env.w_pos, "hidden": 64, "seed": seed,
           "training": hist, "train_seconds": round(time.time() - t0, 1), "split": split, "chain_parts": chain.parts}
    weights.save(os.path.join(root, "sensor-rl"), jax.tree_util.tree_map(np.asarray, params), cfg)
    return cfg


class PolicyServer:
    """The trained policy over the recorder's line protocol (docs/multimodal.md, mm-policy)."""

    def __init__(self, directory: str):
        p, self.cfg = weights.load(directory)
        self.params = jax.tree_util.tree_map(np.asarray, p)
        self.policy = ppo.Policy(tuple(self.cfg["heads"]), self.cfg["hidden"])

    def decide(self, score: float, feats: dict) -> dict:
        obs = observation(score, feats, self.cfg["feature_mean"], self.cfg["feature_std"])[None]
        a, _, _ = ppo.act(self.policy, self.params, obs, None)
        a = a[0]
        return {"ir_fps": self.cfg["ir_fps"][a[0]], "ae_threshold_db": self.cfg["ae_threshold_db"][a[1]],
                "bms_hz": self.cfg["bms_hz"][a[2]]}

    def serve(self, inp=sys.stdin, out=sys.stdout) -> int:
        n = 0
        for raw in inp:
            raw = raw.strip()
            if not raw:
                continue
            try:
                e = json.loads(raw)
                score = float(e.get("risk", 0.0) if e.get("risk") is not None else 0.0)
                feats = {k: (math.nan if v is None else float(v)) for k, v in (e.get("features") or {}).items()}
            except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as err:
                print(f"trw_models mm-policy: bad input line ({err}): {raw[:80]}", file=sys.stderr)
                continue
            ans = self.decide(score if math.isfinite(score) else 0.0, feats)
            if "t" in e:
                ans = {"t": e["t"], **ans}
            out.write(json.dumps(ans) + "\n")
            out.flush()
            n += 1
        return n
