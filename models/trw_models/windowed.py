"""Causal window summaries shared by the classic baselines (gp, ocsvm) and the
online history buffer shared with wavelet-cnn.

For tick t, with x the NaN-filled raw inputs (dt_c, dv_v, cell_temp_c,
voltage_v, ...), the summary is:
  x_t (all F inputs),
  mean and max of dt_c and mean of dv_v over the last 10 ticks,
  cell_temp_c(t) - cell_temp_c(t-30) and voltage_v(t) - voltage_v(t-30)
(ticks before the run's start repeat its first row)."""
from __future__ import annotations

import math

import numpy as np

SHORT, LONG = 10, 30


def summary_names(features) -> list:
    return list(features) + ["dt_mean10", "dt_max10", "dv_mean10", "temp_delta30", "volt_delta30"]


def summaries(x: np.ndarray, features) -> np.ndarray:
    """(T, F) filled raw inputs -> (T, F + 5) causal summaries."""
    T = x.shape[0]
    i_dt, i_dv = features.index("dt_c"), features.index("dv_v")
    i_t, i_v = features.index("cell_temp_c"), features.index("voltage_v")
    pad = np.repeat(x[:1], LONG, axis=0)
    xp = np.concatenate([pad, x], 0)
    out = np.zeros((T, x.shape[1] + 5), np.float32)
    out[:, :x.shape[1]] = x
    for t in range(T):
        k = t + LONG
        w = xp[k - SHORT + 1:k + 1]
        out[t, x.shape[1]:] = [w[:, i_dt].mean(), w[:, i_dt].max(), w[:, i_dv].mean(),
                               xp[k, i_t] - xp[k - LONG, i_t], xp[k, i_v] - xp[k - LONG, i_v]]
    return out


class History:
    """Online: keeps the last `n` filled input rows (NaN -> last value, 0 before the first)."""

    def __init__(self, features, n: int):
        self.features, self.n = list(features), n
        self.rows: list = []
        self.last = np.zeros(len(self.features), np.float32)

    def push(self, f: dict) -> np.ndarray:
        x = np.array([f.get(k, math.nan) for k in self.features], np.float32)
        x = np.where(np.isnan(x), self.last, x).astype(np.float32)
        self.last = x
        self.rows.append(x)
        if len(self.rows) > self.n:
            self.rows.pop(0)
        a = np.stack(self.rows)
        if a.shape[0] < self.n:
            a = np.concatenate([np.repeat(a[:1], self.n - a.shape[0], axis=0), a], 0)
        return a
