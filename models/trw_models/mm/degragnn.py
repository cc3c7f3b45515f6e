"""DEGRA-GNN (issue 12, Eqs. 8-14): the cell face as a graph of electrode segments.

Nodes: an nr x nc grid of segments over the cell's bounding box on the IR frame, static positions
gamma_i in [0, 1]^2. Edges: 4-neighbour segments; horizontal neighbours are thermal paths (type 0),
vertical neighbours thermal + electrical paths along the current collectors (type 1); self loops
(type 2). T_i = mean IR temperature over segment i.

* Eq. 11: D_i,t = sum over the window of [dT_i + dt * sum_j kappa_ij (T_j - T_i)], kappa per edge type
  (learned, softplus, 1/s).
* h_i^0 = phi(J_t, gamma_i, T_i,t, D_i,t) (phi: a dense layer on J_t broadcast plus one on the node's
  own inputs).
* Eqs. 8-10: graph attention layers e_ij = LeakyReLU(a_dst.W h_i + a_src.W h_j + b_type(ij)),
  alpha = softmax over N(i), h_i' = LayerNorm(h_i + ELU(sum_j alpha_ij W h_j)).
* Eq. 13: node risk z_i = w.h_i + b + softplus(beta) D_i / 10 K; Eq. 14: cell risk = logsumexp_i z_i - log N.
* Eq. 12: maps over the face by bilinear interpolation of node values (matrix `interp`, H*W x N).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from .common import T_REF_C, T_SCALE_K


def geometry(box, nr: int, nc: int, height: int, width: int) -> dict:
    """Static graph over the cell box (y0, y1, x0, x1): pooling matrix (N, H*W), bilinear interpolation
    matrix (H*W, N) that is zero outside the box, adjacency (N, N) bool with self loops, edge types, gamma."""
    y0, y1, x0, x1 = box
    n = nr * nc
    pool = np.zeros((n, height * width), np.float32)
    ys = np.linspace(y0, y1, nr + 1).round().astype(int)
    xs = np.linspace(x0, x1, nc + 1).round().astype(int)
    cy, cx = np.zeros(n), np.zeros(n)
    for i in range(nr):
        for j in range(nc):
            m = np.zeros((height, width), np.float32)
            m[ys[i]:max(ys[i + 1], ys[i] + 1), xs[j]:max(xs[j + 1], xs[j] + 1)] = 1
            pool[i * nc + j] = (m / m.sum()).ravel()
            cy[i * nc + j], cx[i * nc + j] = (ys[i] + ys[i + 1]) / 2 - 0.5, (xs[j] + xs[j + 1]) / 2 - 0.5
    gamma = np.stack([(cx - x0) / max(1, x1 - x0), (cy - y0) / max(1, y1 - y0)], 1).astype(np.float32)
    # bilinear interpolation from the node-centre grid, clamped at the edge centres, inside the box only
    interp = np.zeros((height * width, n), np.float32)
    gy, gx = cy.reshape(nr, nc)[:, 0], cx.reshape(nr, nc)[0]
    for y in range(y0, y1):
        for x in range(x0, x1):
            fy = np.interp(y, gy, np.arange(nr)) if nr > 1 else 0.0
            fx = np.interp(x, gx, np.arange(nc)) if nc > 1 else 0.0
            i0, j0 = int(np.floor(fy)), int(np.floor(fx))
            i1, j1 = min(i0 + 1, nr - 1), min(j0 + 1, nc - 1)
            wy, wx = fy - i0, fx - j0
            for (i, j, w) in ((i0, j0, (1 - wy) * (1 - wx)), (i0, j1, (1 - wy) * wx), (i1, j0, wy * (1 - wx)), (i1, j1, wy * wx)):
                interp[y * width + x, i * nc + j] += w
    adj = np.eye(n, dtype=bool)
    etype = np.full((n, n), 2, np.int32)
    for i in range(nr):
        for j in range(nc):
            a = i * nc + j
            for (di, dj, t) in ((0, 1, 0), (1, 0, 1)):
                if i + di < nr and j + dj < nc:
                    b = (i + di) * nc + (j + dj)
                    adj[a, b] = adj[b, a] = True
                    etype[a, b] = etype[b, a] = t
    return {"pool": pool, "interp": interp, "adj": adj, "etype": etype, "gamma": gamma,
            "box": [int(v) for v in box], "nr": nr, "nc": nc}


class GATLayer(nn.Module):
    d: int

    @nn.compact
    def __call__(self, h, adj, etype):
        wh = nn.Dense(self.d, use_bias=False, name="W")(h)                            # Eq. 8
        src = nn.Dense(1, use_bias=False, name="a_src")(wh)[..., 0]
        dst = nn.Dense(1, use_bias=False, name="a_dst")(wh)[..., 0]
        tb = self.param("type_bias", nn.initializers.zeros, (3,))
        e = nn.leaky_relu(dst[:, :, None] + src[:, None, :] + tb[etype][None], 0.2)
        e = jnp.where(adj[None], e, -1e9)
        alpha = jax.nn.softmax(e, axis=-1)                                              # Eq. 9
        return nn.LayerNorm()(h + nn.elu(jnp.einsum("bij,bjd->bid", alpha, wh)))       # Eq. 10


class DegraGNN(nn.Module):
    d: int = 64
    layers: int = 2
    dilation: float = 4.0

    @nn.compact
    def __call__(self, j, frames, pool, adj, etype, gamma):
        """j (B, 1024) joint latent; frames (B, L, H, W) normalised. Returns node logits (B, N),
        cell logit (B,), D (B, N) in K, node temperatures (B, L, N) degC."""
        b, L = frames.shape[:2]
        t = jnp.einsum("blp,np->bln", frames.reshape(b, L, -1), pool) * T_SCALE_K + T_REF_C
        kappa = jax.nn.softplus(self.param("kappa", nn.initializers.constant(-4.0), (3,)))
        k = jnp.where(adj, kappa[etype], 0.0) * (1.0 - jnp.eye(adj.shape[0]))
        flow = jnp.einsum("ij,blj->bli", k, t) - k.sum(1)[None, None] * t             # sum_j k_ij (T_j - T_i)
        d_int = (t[:, -1] - t[:, 0]) + self.dilation * flow[:, 1:].sum(1)              # Eq. 11
        node_in = jnp.concatenate([jnp.broadcast_to(gamma[None], (b,) + gamma.shape),
                                   ((t[:, -1] - T_REF_C) / T_SCALE_K)[..., None], (d_int / 10.0)[..., None]], -1)
        h = nn.gelu(nn.Dense(self.d, name="phi_j")(j)[:, None, :] + nn.Dense(self.d, name="phi_node")(node_in))
        for i in range(self.layers):
            h = GATLayer(self.d, name=f"gat{i}")(h, adj, etype)
        beta = jax.nn.softplus(self.param("beta", nn.initializers.constant(0.0), ()))
        z = nn.Dense(1, name="risk")(h)[..., 0] + beta * d_int / 10.0                  # Eq. 13
        cell = jax.nn.logsumexp(z, axis=-1) - jnp.log(z.shape[-1])                      # Eq. 14
        return z, cell, d_int, t
