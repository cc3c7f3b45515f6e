"""Reading `trw export` datasets (format trw-dataset-1, schemas/export-npz.md).

Splits are always by session (run), never by window: a model never sees ticks
of a held-out run during training or model selection.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

# The DP-LSTM's inputs x_t = [dT_t, dV_t, T_t, V_t] (paper, Eq. 1).
DP_LSTM_FEATURES = ("dt_c", "dv_v", "cell_temp_c", "voltage_v")


@dataclass
class Run:
    """One session's ticks."""
    index: int
    name: str
    uuid: str
    chemistry: str
    has_onset: bool
    onset_s: float
    t_s: np.ndarray            # (T,)
    features: np.ndarray       # (T, F) float32, NaN where unavailable
    target: np.ndarray         # (T,) int8: runaway within horizon
    post_onset: np.ndarray     # (T,) bool
    mask: np.ndarray           # (T,) bool: false inside exclude labels
    extras: dict = field(default_factory=dict)   # ir_frames_c (T,h,w), ae_stft_log10 (T,B) when exported
    label_set: str = "unknown"  # the label set that defined onset and mask (session_label_set)


@dataclass
class Dataset:
    feature_names: list
    runs: list
    meta: dict

    def column(self, name: str) -> int:
        try:
            return self.feature_names.index(name)
        except ValueError:
            raise KeyError(f"feature '{name}' is not in the dataset; it has: {', '.join(self.feature_names)}") from None

    def select(self, names) -> "Dataset":
        cols = [self.column(n) for n in names]
        runs = [Run(**{**r.__dict__, "features": r.features[:, cols]}) for r in self.runs]
        return Dataset(list(names), runs, self.meta)

    def label_set(self) -> str:
        """The label set the targets come from, as `trw export` named it (meta_json `label_set`):
        one set name, "per session: a, b" (each run's own set is `Run.label_set`), or "unknown"
        for datasets exported before label sets were named."""
        return str(self.meta.get("label_set", "unknown"))

    def label_sets(self) -> dict:
        """Run name -> the label set its targets come from (never a mix within a run)."""
        return {r.name: r.label_set for r in self.runs}

    def subset(self, run_indices) -> "Dataset":
        keep = set(int(i) for i in run_indices)
        return Dataset(self.feature_names, [r for r in self.runs if r.index in keep], self.meta)


REQUIRED = ("features", "feature_names", "t_s", "session_index", "runaway_within_horizon", "post_onset", "mask",
            "session_name", "session_uuid", "session_onset_s", "session_has_onset")


def load(path: str, extras: bool = True) -> Dataset:
    """Loads an NPZ written by `trw export`; raises ValueError naming the file and what is missing.
    extras=False skips the large optional arrays (IR frames, AE spectra)."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable NPZ dataset ({e}); expected the output of `trw export`") from e
    with z:
        missing = [k for k in REQUIRED if k not in z.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}; expected a trw-dataset-1 NPZ from `trw export`")
        a = {k: z[k] for k in z.files if extras or k not in ("ir_frames_c", "ae_stft_log10")}
    meta = json.loads(str(a["meta_json"][0])) if "meta_json" in a else {}
    names = [str(n) for n in a["feature_names"]]
    si = a["session_index"]
    runs = []
    for s in range(len(a["session_name"])):
        rows = np.nonzero(si == s)[0]
        extras = {k: a[k][rows] for k in ("ir_frames_c", "ae_stft_log10") if k in a}
        chem = a["session_cell_chemistry"][s] if "session_cell_chemistry" in a else ""
        # Exports before named label sets stored "METHOD by AUTHOR; ..." here; without
        # meta_json's label_set the set is not known.
        lset = str(a["session_label_set"][s]) if "session_label_set" in a and "label_set" in meta else "unknown"
        runs.append(Run(index=s, name=str(a["session_name"][s]), uuid=str(a["session_uuid"][s]), chemistry=str(chem),
                        has_onset=bool(a["session_has_onset"][s]), onset_s=float(a["session_onset_s"][s]),
                        t_s=a["t_s"][rows], features=a["features"][rows].astype(np.float32),
                        target=a["runaway_within_horizon"][rows].astype(np.int8), post_onset=a["post_onset"][rows],
                        mask=a["mask"][rows], extras=extras, label_set=lset))
    return Dataset(names, runs, meta)


def split_runs(ds: Dataset, seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2):
    """Splits run indices into (train, val, test), stratified so that runaway runs and
    negative controls are both represented where there are enough of each."""
    rng = np.random.default_rng(seed)
    pos = [r.index for r in ds.runs if r.has_onset]
    neg = [r.index for r in ds.runs if not r.has_onset]
    train, val, test = [], [], []
    for group in (pos, neg):
        g = list(rng.permutation(group))
        n = len(g)
        n_test = int(round(n * test_fraction)) if n >= 3 else 0
        n_val = int(round(n * val_fraction)) if n >= 3 else 0
        if n >= 3:
            n_test, n_val = max(n_test, 1), max(n_val, 1)
        test += g[:n_test]
        val += g[n_test:n_test + n_val]
        train += g[n_test + n_val:]
    return sorted(train), sorted(val), sorted(test)


def fill_nan(x: np.ndarray) -> np.ndarray:
    """Causal fill for features not yet available: last value carried forward, 0 before the first.

    Vectorised: for every cell, the row index of the latest non-NaN value at or before it
    (a running maximum of indices), then one gather; identical output to the scalar loop.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0:
        return x.copy()
    valid = ~np.isnan(x)
    rows = np.arange(x.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    out = np.take_along_axis(x, np.maximum(last, 0), axis=0)
    out[last < 0] = 0.0
    return out.astype(x.dtype, copy=False)


@dataclass
class Standardizer:
    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def fit(x: np.ndarray) -> "Standardizer":
        m = np.nanmean(x, axis=0)
        s = np.nanstd(x, axis=0)
        s = np.where(s > 1e-8, s, 1.0)
        return Standardizer(np.nan_to_num(m).astype(np.float32), s.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)


def windows(x: np.ndarray, y: np.ndarray, length: int, stride: int = 1):
    """Causal windows ending at every `stride`-th tick: (N, length, F) inputs and the label of the last tick.
    Ticks before `length` are left-padded with the first row."""
    t = x.shape[0]
    if t == 0:
        return np.zeros((0, length, x.shape[1]), np.float32), np.zeros((0,), y.dtype)
    pad = np.repeat(x[:1], length - 1, axis=0)
    xp = np.concatenate([pad, x], axis=0)
    ends = np.arange(0, t, stride)
    idx = ends[:, None] + np.arange(length)[None, :]
    return xp[idx].astype(np.float32), y[ends]
