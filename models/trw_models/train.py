"""`python -m trw_models train` and `python -m trw_models serve` for the DP-LSTM and its baselines.

train: reads a `trw export` NPZ, splits it by run (train/val/test, seeded),
trains one model, and writes DIR/model.safetensors + DIR/config.json (split,
seed, features, normalisation, per-epoch log). serve: loads DIR and answers the
replay protocol on stdin/stdout (serve.run). Which code serves a model is named
by config.json "module" (a module with load_online(DIR)), so other model
families (e.g. trw_models.mm) can be served by the same command.
"""
from __future__ import annotations

import importlib
import json
import sys
import time

from . import data, serve, weights

MODELS = {"dp-lstm": "trw_models.recurrent", "lstm": "trw_models.recurrent", "attn-lstm": "trw_models.recurrent",
          "wavelet-cnn": "trw_models.wavelet_cnn", "gp": "trw_models.kernel_baselines", "ocsvm": "trw_models.kernel_baselines"}


def register(sub) -> None:
    t = sub.add_parser("train", help="train a detector on a trw export (NPZ), split by run")
    t.add_argument("--data", required=True, help="DATASET.npz from `trw export`")
    t.add_argument("--model", required=True, choices=sorted(MODELS))
    t.add_argument("--out", required=True, help="model directory to write")
    t.add_argument("--seed", type=int, default=0, help="seed of the run split and of the initialisation")
    t.add_argument("--features", default="dp", help="'dp' (dt_c,dv_v,cell_temp_c,voltage_v), 'all', or a comma list")
    t.add_argument("--split-seed", type=int, default=None, help="seed of the run split (default: 0, the same split for every --seed)")
    t.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping on validation loss)")
    t.add_argument("--patience", type=int, default=3)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--chunk", type=int, default=64, help="truncated-BPTT chunk, ticks")
    t.add_argument("--piece", type=int, default=512, help="ticks per training piece (recurrent models)")
    t.add_argument("--max-groups", type=int, default=0, help="cap on piece groups per epoch (quick runs); 0 = all")
    t.add_argument("--hidden", type=int, default=0, help="override hidden size (tests)")
    t.add_argument("--layers", type=int, default=0, help="override DP-LSTM layer count (tests)")
    t.set_defaults(func=run_train)
    s = sub.add_parser("serve", help="answer the replay protocol with a trained model (trw predict --detector exec:...)")
    s.add_argument("model_dir")
    s.set_defaults(func=run_serve)


def select_features(ds: data.Dataset, spec: str) -> data.Dataset:
    if spec == "dp":
        return ds.select(data.DP_LSTM_FEATURES)
    if spec == "all":
        return ds
    return ds.select([n.strip() for n in spec.split(",") if n.strip()])


def run_train(args) -> int:
    """`train`: trains args.model on args.data and writes args.out; returns the exit status."""
    t0 = time.time()
    ds = data.load(args.data, extras=False)
    ds = select_features(ds, args.features)
    if args.model in ("dp-lstm",) and not {"dt_c", "dv_v"} <= set(ds.feature_names):
        raise SystemExit("the DP-LSTM needs dt_c and dv_v among --features (its mask is driven by them)")
    split_seed = 0 if args.split_seed is None else args.split_seed
    split = data.split_runs(ds, split_seed)
    names = {r.index: r.name for r in ds.runs}

    def log(rec):
        print(json.dumps(rec), file=sys.stderr, flush=True)

    log({"label_set": ds.label_set(), "label_sets": ds.label_sets()})
    log({"model": args.model, "seed": args.seed, "split_seed": split_seed,
         "train": [names[i] for i in split[0]], "val": [names[i] for i in split[1]], "test": [names[i] for i in split[2]]})
    mod = importlib.import_module(MODELS[args.model])
    params, config = mod.train(ds, split, args, log)
    config.update({"seed": args.seed, "split_seed": split_seed, "dataset": args.data,
                   "label_set": ds.label_set(), "label_sets": ds.label_sets(),
                   "split": {k: [names[i] for i in ids] for k, ids in zip(("train", "val", "test"), split)},
                   "train_seconds": round(time.time() - t0, 1), "format": "trw-model-1",
                   "args": {k: v for k, v in vars(args).items() if k != "func"}})
    weights.save(args.out, params, config)
    log({"saved": args.out, "seconds": config["train_seconds"]})
    return 0


def load_online(directory: str):
    _, config = weights.load(directory)
    module = config.get("module") or MODELS.get(config.get("model", ""))
    if not module:
        raise SystemExit(f"{directory}/config.json names no serving module")
    return importlib.import_module(module).load_online(directory)


def run_serve(args) -> int:
    """`serve`: answers the replay protocol on stdin/stdout with the model in args.model_dir."""
    model = load_online(args.model_dir)
    serve.run(model)
    return 0
