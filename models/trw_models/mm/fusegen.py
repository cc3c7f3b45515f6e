"""FUSE-GEN (issue 12, Eqs. 6-7): encoders E_TH (R_t) and E_AE (the AE STFT band powers over the
window) feed a Gaussian posterior q(J | R, A) over a shared 1024-d latent; decoders reconstruct both
modalities; trained on the ELBO (Gaussian likelihoods, KL to N(0, I)) plus a risk head on J."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class FuseGen(nn.Module):
    latent: int = 1024
    hidden: int = 256
    r_dim: int = 512
    ae_dim: int = 24

    def setup(self):
        self.e_th = [nn.Dense(self.hidden, name="e_th0"), nn.Dense(self.hidden, name="e_th1")]
        self.e_ae = [nn.Dense(self.hidden, name="e_ae0"), nn.Dense(self.hidden, name="e_ae1")]
        self.q = nn.Dense(2 * self.latent, name="q")
        self.d_th = [nn.Dense(self.hidden, name="d_th0"), nn.Dense(self.r_dim, name="d_th1")]
        self.d_ae = [nn.Dense(self.hidden, name="d_ae0"), nn.Dense(self.ae_dim, name="d_ae1")]
        self.h0 = nn.Dense(128, name="head0")
        self.h1 = nn.Dense(1, name="head1")

    def encode(self, r, ae):
        h_th = self.e_th[1](nn.gelu(self.e_th[0](r)))
        h_ae = self.e_ae[1](nn.gelu(self.e_ae[0](ae)))
        mu, logvar = jnp.split(self.q(nn.gelu(jnp.concatenate([h_th, h_ae], -1))), 2, axis=-1)
        return mu, jnp.clip(logvar, -10.0, 5.0)

    def risk(self, j):
        return self.h1(nn.gelu(self.h0(j)))[:, 0]

    def __call__(self, r, ae, key=None):
        """r (B, r_dim) standardised R_t; ae (B, ae_dim). With a key J is sampled (training), else J = mu.
        Returns J, mu, logvar, reconstructions (r, ae), risk logit."""
        mu, logvar = self.encode(r, ae)
        j = mu if key is None else mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
        r_hat = self.d_th[1](nn.gelu(self.d_th[0](j)))
        ae_hat = self.d_ae[1](nn.gelu(self.d_ae[0](j)))
        return j, mu, logvar, r_hat, ae_hat, self.risk(j)


def elbo_terms(mu, logvar, r, r_hat, ae, ae_hat):
    """Eq. 6-7: negative ELBO = reconstruction (unit-variance Gaussians, per dimension) + KL(q || N(0, I))."""
    rec = 0.5 * jnp.mean((r - r_hat) ** 2, -1) + 0.5 * jnp.mean((ae - ae_hat) ** 2, -1)
    kl = 0.5 * jnp.mean(jnp.exp(logvar) + mu ** 2 - 1.0 - logvar, -1)
    return rec, kl
