"""CAUS-RUN (issue 12, Eqs. 15-19): counterfactual attribution of a risk model's output to regions of
the thermal trajectory.

* Regions: rh x rw pixel blocks of the IR frame (default 8 x 8: 6 x 8 regions on 64 x 48).
* Eq. 15: perturbed trajectory T~ = T + delta * 1_region, delta ~ N(0, sigma^2) drawn independently per
  window sample (one value per region and time, constant over the region's pixels).
* Eq. 16: effect Delta R_r = E_delta |R(T~_r) - R(T)| over K samples.
* Eq. 17: mask C_r = 1 where Delta R_r >= tau, tau = max(tau_min, rel * max_r Delta R_r), over regions at
  least half on the cell (cell_mask; all regions without one).
* Eq. 19: interventional estimate E[R | do(T_r = t')] - E[R]: the region's trajectory set to t' (default:
  the cell's median temperature at each window sample, "this region behaves like the rest of the cell"),
  expectations over the baseline sampler (every region perturbed by N(0, sigma^2)).

`risk_fn(frames)` takes (B, L, H, W) temperatures in degC and returns (B,) risks; it closes over
the rest of the model's inputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Attribution:
    risk: float
    effect: np.ndarray        # (H, W) Delta R per region, at pixel resolution (Eq. 16)
    mask: np.ndarray          # (H, W) 0/1 (Eq. 17)
    intervention: np.ndarray  # (H, W) E[R | do(T_r = t')] - E[R] (Eq. 19)
    baseline_risk: float      # E[R] under the baseline sampler
    tau: float
    region_effect: np.ndarray  # (gy, gx)
    region_intervention: np.ndarray


def regions(height: int, width: int, rh: int, rw: int) -> list:
    return [(y, min(y + rh, height), x, min(x + rw, width)) for y in range(0, height, rh) for x in range(0, width, rw)]


def attribute(risk_fn, window_c: np.ndarray, sigma_c: float = 5.0, samples: int = 16, region: tuple = (8, 8),
              tau_min: float = 0.01, rel: float = 0.5, cell_mask: np.ndarray | None = None, seed: int = 0,
              batch: int = 128) -> Attribution:
    """window_c (L, H, W) degC: the causal thermal window ending at the instant explained."""
    rng = np.random.default_rng(seed)
    L, H, W = window_c.shape
    regs = regions(H, W, *region)
    gy, gx = -(-H // region[0]), -(-W // region[1])
    base = float(risk_fn(window_c[None])[0])

    def run(stack):
        return np.concatenate([np.asarray(risk_fn(stack[i:i + batch])) for i in range(0, len(stack), batch)])

    # Eq. 15-16: one region at a time
    stack = np.repeat(window_c[None], len(regs) * samples, axis=0).astype(np.float32)
    for ri, (y0, y1, x0, x1) in enumerate(regs):
        d = rng.normal(0.0, sigma_c, (samples, L)).astype(np.float32)
        stack[ri * samples:(ri + 1) * samples, :, y0:y1, x0:x1] += d[:, :, None, None]
    eff = np.abs(run(stack) - base).reshape(len(regs), samples).mean(1)
    cm = cell_mask if cell_mask is not None else np.ones((H, W), bool)
    on_cell = np.array([cm[y0:y1, x0:x1].mean() >= 0.5 for (y0, y1, x0, x1) in regs])
    tau = max(tau_min, rel * float(eff[on_cell].max())) if on_cell.any() else np.inf
    # Eq. 19: baseline sampler (all regions perturbed) and do(T_r = t')
    noise = rng.normal(0.0, sigma_c, (samples, L, gy, gx)).astype(np.float32)
    noise_px = np.repeat(np.repeat(noise, region[0], axis=2), region[1], axis=3)[:, :, :H, :W]
    base_stack = window_c[None] + noise_px
    e_r = float(run(base_stack).mean())
    t_prime = np.array([np.median(window_c[k][cm]) for k in range(L)], np.float32)
    do_stack = np.repeat(base_stack[None], len(regs), axis=0)
    for ri, (y0, y1, x0, x1) in enumerate(regs):
        do_stack[ri, :, :, y0:y1, x0:x1] = t_prime[None, :, None, None]
    inter = run(do_stack.reshape((-1, L, H, W))).reshape(len(regs), samples).mean(1) - e_r
    inter = np.where(on_cell, inter, 0.0)     # do(T = the cell's median) is meaningful on the cell only

    def to_px(v):
        img = np.zeros((H, W), np.float32)
        for val, (y0, y1, x0, x1) in zip(v, regs):
            img[y0:y1, x0:x1] = val
        return img

    return Attribution(risk=base, effect=to_px(eff), mask=to_px(((eff >= tau) & on_cell).astype(np.float32)),
                       intervention=to_px(inter), baseline_risk=e_r, tau=tau,
                       region_effect=eff.reshape(gy, gx).astype(np.float32),
                       region_intervention=inter.reshape(gy, gx).astype(np.float32))
