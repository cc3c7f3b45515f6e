"""ST-Former (issue 12, Eqs. 1-5): thermal frames T(x, y, t) cut into non-overlapping PxP patches,
linearly embedded (Eq. 1); sensor tokens (voltage, current, ambient, one token per second) embedded
(Eq. 2); spatio-temporal positional encoding P(x, y, t) = E_x[x] + E_y[y] + E_t[t] added (Eq. 3);
pre-norm multi-head self-attention blocks over the whole token sequence (Eq. 4); the [CLS] token
projected to the risk embedding R_t (512-d) and a risk logit (Eq. 5)."""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class Block(nn.Module):
    d: int
    heads: int
    mlp: int

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.d)(h, h)
        h = nn.LayerNorm()(x)
        return x + nn.Dense(self.d)(nn.gelu(nn.Dense(self.mlp)(h)))


class STFormer(nn.Module):
    window: int = 8
    height: int = 48
    width: int = 64
    patch: int = 16
    d: int = 64
    depth: int = 2
    heads: int = 4
    r_dim: int = 512
    n_sensors: int = 3
    use_sensors: bool = True

    @nn.compact
    def __call__(self, frames, sensors):
        """frames (B, L, H, W) normalised temperatures; sensors (B, L, S) standardised.
        Returns (R_t (B, r_dim), risk logit (B,))."""
        b, L = frames.shape[0], self.window
        p, gh, gw = self.patch, self.height // self.patch, self.width // self.patch
        x = frames[:, :, :gh * p, :gw * p].reshape(b, L, gh, p, gw, p).transpose(0, 1, 2, 4, 3, 5)
        x = x.reshape(b, L, gh, gw, p * p)
        tok = nn.Dense(self.d, name="patch_embed")(x)                                   # Eq. 1
        init = nn.initializers.normal(0.02)
        pt = self.param("pos_t", init, (L, self.d))
        py = self.param("pos_y", init, (gh, self.d))
        px = self.param("pos_x", init, (gw, self.d))
        tok = tok + pt[None, :, None, None] + py[None, None, :, None] + px[None, None, None, :]   # Eq. 3
        tok = tok.reshape(b, L * gh * gw, self.d)
        if self.use_sensors:
            s = nn.Dense(self.d, name="sensor_embed")(sensors)                          # Eq. 2
            s = s + pt[None] + self.param("sensor_type", init, (self.d,))
            tok = jnp.concatenate([tok, s], axis=1)
        cls = jnp.broadcast_to(self.param("cls", init, (1, 1, self.d)), (b, 1, self.d))
        tok = jnp.concatenate([cls, tok], axis=1)
        for i in range(self.depth):                                                      # Eq. 4
            tok = Block(self.d, self.heads, 2 * self.d, name=f"block{i}")(tok)
        z = nn.LayerNorm(name="norm")(tok[:, 0])
        r = nn.Dense(self.r_dim, name="risk_embed")(z)                                  # Eq. 5: R_t
        logit = nn.Dense(1, name="head")(nn.gelu(r))[:, 0]
        return r, logit
