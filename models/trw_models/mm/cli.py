"""Subcommands of the multimodal framework (registered in trw_models.__main__.COMMAND_MODULES)."""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def register(sub) -> None:
    p = sub.add_parser("mm-train", help="train one part of the multimodal chain (ST-Former, FUSE-GEN, DEGRA-GNN, SENSOR-RL)")
    p.add_argument("--data", required=True, help="dataset from `trw export --ir-frames 64x48 --ae-stft 32`")
    p.add_argument("--part", required=True, choices=["st-former", "fuse-gen", "degra-gnn", "sensor-rl"])
    p.add_argument("--out", required=True, help="chain directory; each part goes into DIR/PART/")
    p.add_argument("--seed", type=int, default=0, help="seed of the split by run and of training")
    p.add_argument("--no-sensors", action="store_true", help="ST-Former on thermal tokens only (ablation, DIR/st-former-thermal/)")
    p.add_argument("--epochs", type=int, help="maximum epochs (early stopping on validation AUC)")
    p.add_argument("--steps", type=int, help="optimiser steps per epoch")
    p.add_argument("--iters", type=int, default=40, help="PPO iterations (sensor-rl)")
    p.add_argument("--max-minutes", type=float, help="stop training after the epoch that passes this wall time")
    p.set_defaults(func=_train)

    p = sub.add_parser("mm-eval", help="score the chain's parts on the held-out test runs (Table 1 layout)")
    p.add_argument("dir")
    p.add_argument("--data", required=True)
    p.add_argument("--runs", choices=["test", "val"], default="test")
    p.add_argument("--json", help="also write the figures as JSON")
    p.add_argument("--stride", type=int, default=2, help="score every N-th tick (lead time resolution N s at 1 Hz)")
    p.add_argument("--policy", action="store_true", help="also evaluate SENSOR-RL's energy/accuracy trade-off")
    p.set_defaults(func=_eval)

    p = sub.add_parser("mm-serve", help="serve the chain over the replay protocol (trw predict/score --detector exec:...)")
    p.add_argument("dir")
    p.add_argument("--frames-npz", help="take each tick's IR frame from this exported dataset (by session uuid and tick) "
                                        "when the stream carries no pixels_c")
    p.set_defaults(func=_serve)

    p = sub.add_parser("mm-explain", help="degradation map and CAUS-RUN attribution at one instant of one run")
    p.add_argument("dir")
    p.add_argument("--data", required=True)
    p.add_argument("--run", required=True, help="session name in the dataset")
    p.add_argument("--at", required=True, help="session time, s (the last tick at or before it), onset-S / onset+S, or first-alarm")
    p.add_argument("--out", required=True, help="output .npz (keys: docs/multimodal.md)")
    p.add_argument("--png", help="also write a PNG: IR frame | risk map | attribution with mask edge")
    p.add_argument("--sigma", type=float, default=5.0, help="perturbation sigma, K (Eq. 15)")
    p.add_argument("--samples", type=int, default=16, help="perturbation samples per region")
    p.add_argument("--region", type=int, default=8, help="region size, pixels")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_explain)

    p = sub.add_parser("mm-policy", help="serve the SENSOR-RL policy over the recorder's line protocol")
    p.add_argument("dir", help="chain directory (uses DIR/sensor-rl) or the sensor-rl directory itself")
    p.set_defaults(func=_policy)


def _train(a) -> int:
    from trw_models import data
    from . import chain, sensorrl
    t0 = time.time()
    ds = data.load(a.data)
    if a.part == "sensor-rl":
        cfg = sensorrl.train_policy(a.out, a.data, seed=a.seed, iters=a.iters, ds=ds)
        last = cfg["training"][-1]
        print(f"sensor-rl: {len(cfg['training'])} PPO iterations, last mean reward {last['mean_reward']:.3f}; "
              f"{os.path.join(a.out, 'sensor-rl')} ({time.time() - t0:.0f} s)")
        return 0
    cfg = chain.train(a.part, a.data, a.out, seed=a.seed, no_sensors=a.no_sensors, ds=ds,
                      hp_over={"epochs": a.epochs, "steps": a.steps, "max_minutes": a.max_minutes})
    print(f"{a.part}{' (thermal only)' if a.no_sensors else ''}: best validation AUC {cfg['val_auc']:.4f}, "
          f"threshold {cfg['threshold']:.4f}, {len(cfg['training'])} epochs; "
          f"{chain.part_dir(a.out, a.part, a.no_sensors)} ({time.time() - t0:.0f} s)")
    return 0


def _eval(a) -> int:
    from trw_models import data
    from . import chain as ch, common, sensorrl
    ds = data.load(a.data)
    base = ch.Chain(a.dir, upto="st-former")
    runs = base.st_cfg["split"][a.runs]
    sub = ds.subset(runs)
    prep = common.prepare(sub, base.norm)
    print(f"{a.runs} runs ({len(runs)}): {', '.join(prep.names)}")
    rows, t_pred = {}, {}
    variants = []
    if os.path.exists(os.path.join(a.dir, "st-former-thermal", "config.json")):
        variants.append(("ST-Former thermal only", dict(upto="st-former", st_dir=os.path.join(a.dir, "st-former-thermal"))))
    variants.append(("ST-Former thermal+sensors", dict(upto="st-former")))
    for part, label in (("fuse-gen", "ST-Former+FUSE-GEN"), ("degra-gnn", "ST-Former+FUSE-GEN+DEGRA-GNN")):
        if os.path.exists(os.path.join(a.dir, part, "config.json")):
            variants.append((label, dict(upto=part)))
    for label, kw in variants:
        c = ch.Chain(a.dir, **kw)
        t0 = time.time()
        risk = ch.predict_runs(c, prep, stride=a.stride)
        t_pred[label] = time.time() - t0
        rows[label] = common.table_metrics(common.strided(prep, a.stride), [c.score(r) for r in risk])
    # the simplest rule, as a reference in the same table: cell dT/dt >= 1 degC/s
    j = sub.column("dt_c")
    rows["rule dT/dt >= 1 K/s (reference)"] = common.table_metrics(
        common.strided(prep, a.stride), [np.nan_to_num(r.features[::a.stride, j]) / 2.0 for r in sub.runs])
    print(common.format_table(rows))
    if "ST-Former thermal only" in rows:
        for key, what in (("auc_roc", "AUC-ROC"), ("auc_pre_onset", "AUC-ROC before onset")):
            th, ts = rows["ST-Former thermal only"][key], rows["ST-Former thermal+sensors"][key]
            print(f"sensor-log ablation, {what}: thermal only {th:.4f}, thermal+sensors {ts:.4f} "
                  f"({ts - th:+.4f}; {100 * (ts - th) / th:+.1f} %)")
    result = {"runs": prep.names, "rows": rows, "predict_seconds": t_pred}
    if a.policy:
        result["sensor_rl"] = policy_tradeoff(a.dir, ds, runs, prep)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
    return 0


def policy_tradeoff(directory, ds, runs, prep) -> dict:
    from trw_models import weights
    from . import chain as ch, ppo, sensorrl
    c = ch.Chain(directory)
    p, cfg = weights.load(os.path.join(directory, "sensor-rl"))
    pol = ppo.Policy(tuple(cfg["heads"]), cfg["hidden"])
    sub = ds.subset(runs)
    env = sensorrl.DecimationEnv(c, prep, sub, n_envs=1, fnorm=(cfg["feature_mean"], cfg["feature_std"]))
    fixed = {"full sensing (1 Hz IR, 40 dB, 1 Hz BMS)": (0, 0, 0), "cheapest fixed (0.2 Hz IR, 80 dB, 0.2 Hz BMS)": (2, 3, 2),
             "fixed middle (0.5 Hz IR, 70 dB, 0.5 Hz BMS)": (1, 2, 1)}
    out = {}
    for name, act in fixed.items():
        out[name] = sensorrl.run_policy(env, lambda o, act=act: np.tile(np.array(act, np.int32), (len(o), 1)))
    rr = np.random.default_rng(0)
    out["uniformly random settings"] = sensorrl.run_policy(
        env, lambda o: np.stack([rr.integers(0, n, len(o)) for n in cfg["heads"]], 1).astype(np.int32))
    chosen = []

    def greedy(o):
        act = ppo.act(pol, p, o, None)[0]
        chosen.append(act)
        return act
    out["SENSOR-RL policy"] = sensorrl.run_policy(env, greedy)
    chosen = np.concatenate(chosen)
    out["SENSOR-RL policy"]["settings_share"] = {
        name: {str(v): float((chosen[:, i] == j).mean()) for j, v in enumerate(cfg[name])}
        for i, name in enumerate(("ir_fps", "ae_threshold_db", "bms_hz"))}
    full = out["full sensing (1 Hz IR, 40 dB, 1 Hz BMS)"]
    print(f"{'sensing':48s} {'energy':>7s} {'saved':>6s} {'acc':>6s} {'bal.acc':>7s} {'recall':>6s} {'AUC':>6s} {'events':>7s} {'FA':>4s} {'lead s':>7s}")
    for name, m in out.items():
        print(f"{name:48s} {m['energy_fraction']:7.3f} {1 - m['energy_fraction'] / full['energy_fraction']:6.1%} "
              f"{m['accuracy']:6.3f} {m['balanced_accuracy']:7.3f} {m['recall']:6.3f} {m['auc_roc']:6.3f} {m['event_recall']:>7s} "
              f"{m['false_alarms']:4d} {m['lead_s_mean']:7.1f}")
    print("SENSOR-RL settings chosen (share of decisions): " + "; ".join(
        f"{k} " + ", ".join(f"{v}: {100 * x:.0f} %" for v, x in d.items()) for k, d in out["SENSOR-RL policy"]["settings_share"].items()))
    return out


def _serve(a) -> int:
    from trw_models import serve
    from .online import MMOnline, header_tap
    m = MMOnline(a.dir, a.frames_npz)
    n = serve.run(m, header_tap(sys.stdin, m), sys.stdout)
    print(f"trw_models mm-serve: {n} ticks answered", file=sys.stderr)
    return 0


def _explain(a) -> int:
    from .explain import explain, write_png
    t0 = time.time()
    r = explain(a.dir, a.data, a.run, a.at, sigma_c=a.sigma, samples=a.samples, region=a.region, seed=a.seed)
    np.savez(a.out, **r)
    meta = json.loads(str(r["meta_json"][0]))
    print(f"{a.out}: run {a.run} at t = {meta['t_s']:.0f} s (label {meta['label']}): risk {float(r['risk']):.3f} "
          f"(score {float(r['score']):.3f}); attribution mask {int(r['attribution_mask'].sum())} px, "
          f"max effect {float(r['attribution'].max()):.3f}, strongest intervention {float(r['intervention'].min()):+.3f}; "
          f"{time.time() - t0:.1f} s")
    if a.png:
        write_png(r, a.png)
        print(f"{a.png}: IR frame | risk map | attribution (mask edge in cyan)")
    return 0


def _policy(a) -> int:
    from .sensorrl import PolicyServer
    d = a.dir if os.path.exists(os.path.join(a.dir, "config.json")) else os.path.join(a.dir, "sensor-rl")
    PolicyServer(d).serve()
    return 0
