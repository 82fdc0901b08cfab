"""Conditional variational auto-encoder (Sohn, Lee & Yan 2015, "Learning structured output
representation using deep conditional generative models", Sec. 4): a generative baseline with
one loss, the conditional ELBO (the recognition network q taking x and y):

    log p(x | y) >= E_{q(z | x, y)}[log p(x | z, y)] - KL(q(z | x, y) || N(0, I))

- encoder q(z | x, y) = N(mu_q, diag sigma_q^2): an MLP on [x, y] giving [mu_q, log sigma_q^2];
- prior p(z) = N(0, I), independent of y (Sohn et al. also allow a conditional prior network
  p(z | y); the fixed prior keeps z's meaning the same for every condition, like the flows' z);
- decoder p(x | z, y) = N(mu(z, y), diag sigma^2): an MLP on [z, y] gives the mean. The decoder
  variance, ``decoder_variance``: ``network`` (default), the same MLP also outputs log sigma^2(z, y)
  per x dimension (soft-clamped to (-10, 10)); ``per_dim``, one learned log-variance per x dimension
  shared by every (z, y); ``fixed``, sigma = ``decoder_std``. A learned variance makes the ELBO a
  bound on the log-likelihood of the noise level that fits the data, so the model it samples from is
  the one it was fitted as; a fixed sigma trades reconstruction against the KL by a hand-set weight
  1 / (2 sigma^2), and its samples carry a noise level nobody fitted. ``network`` is the default
  because Adam moves a free log-variance parameter by about ``lr`` per step: from sigma = 1 to the
  mixture's 0.2 takes ~3000 steps at lr 1e-3, far beyond the 400 iterations of the recipe, while
  the network's output layer gets there in a few dozen. ``decoder_std``: the fixed sigma, or the
  per-dim sigma's initial value.
- KL annealing (beyond Sohn et al.; Bowman et al. 2016, Sec. 3.1): ``kl_warmup`` is the fraction
  of the run over which the KL weight rises linearly from 0 to 1. Default 0: no annealing, the
  loss is the negative ELBO at every step (with annealing it is a bound only once the weight is 1).

The ELBO is estimated with one reparameterised draw of z per sample (Kingma & Welling 2014,
Sec. 2.4) and the closed-form Gaussian KL (their Appendix B); the loss is its negative batch mean.

Sampling (``sample_posterior``, ``generate``): z ~ N(0, I), eps ~ N(0, I), x = mu(z, y) + sigma eps:
the full model p(x | y) = int N(x; mu(z, y), sigma^2) N(z; 0, I) dz that the ELBO bounds, decoder
noise included (decoding the mean alone would sample another distribution, narrower by sigma).
``noise_of(x, y)`` = [mu_q, (x - mu(mu_q, y)) / sigma(mu_q, y)], mu_q the encoder's mean,
so ``generate(y, noise_of(x, y)) == x``. ``log_prob`` is the importance-weighted bound with
``iwae_samples`` draws from the encoder (Burda, Grosse & Salakhutdinov 2016, Sec. 3): a lower bound
of log p(x | y) in expectation, tighter than the ELBO, exact when q is the true posterior. No
forward predictor.

Default size (``PARAMS``; a fair budget: the task's iterations and batch size, as
ours): encoder and decoder MLPs of 5 Linear layers of width 512 (ReLU), latent_dim = x_dim.
Parameters: 1,591,304 on the 2-d mixture (x 2-d, y one-hot 8-d) and 1,617,960 on gaussian_linear
(x, y 10-d), against ours' 4,333,728 and 4,456,768 (dim 10 / 20, 8 blocks of two affine couplings
with subnets of 3 Linear layers of width 512): the same order, a third of ours. A training step at
batch 1600 passes the batch once through two nets (ours: through 16 subnets) and costs about 0.3 of
ours' on one CPU thread (measured side by side: cvae 0.18 s, ours 0.61 s on a loaded machine; ours
alone ~0.33 s). ``describe()`` states the count of a built model.
"""
from __future__ import annotations

import math
import torch
from torch import nn

from ..params import Param, Space, with_defaults
from .base import (
    GENERATIVE_PARAMS,
    LOG_2PI,
    LR_SPACE,
    MLP_SPACE,
    ConditionalMethod,
    mlp,
    n_parameters,
    register_method,
    std_normal_log_prob,
)

DECODER_VARIANCES = ("network", "per_dim", "fixed")
LOG_VAR_CLAMP = 10.0


def _gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Sum over the last dim of log N(x; mean, diag exp(log_var)) (log_var broadcasts)."""
    return -0.5 * (((x - mean) ** 2) * torch.exp(-log_var) + log_var + LOG_2PI).sum(-1)


@register_method
class ConditionalVAE(ConditionalMethod):
    name = "cvae"
    label = "cVAE"
    order = 3
    summary = "conditional VAE (Sohn et al. 2015)"
    PARAMS = with_defaults({
        **GENERATIVE_PARAMS,
        "latent_dim": Param(("integer", "null"), "dimensions of z (null: x_dim)", minimum=1),
        "decoder_variance": Param(None, "network: the decoder also outputs log sigma^2(z, y); "
                                  "per_dim: one learned log-variance per x dimension; fixed: "
                                  "sigma = decoder_std", enum=DECODER_VARIANCES),
        "decoder_std": Param("number", "fixed sigma, or per_dim's initial sigma",
                             exclusive_minimum=0),
        "kl_warmup": Param("number", "fraction of the run over which the KL weight rises from 0 "
                           "to 1 (0: the plain ELBO)", minimum=0, maximum=1),
        "iwae_samples": Param("integer", "importance samples of log_prob's IWAE bound", minimum=1),
    }, {"width": 512, "layers": 5, "latent_dim": None, "decoder_variance": "network",
        "decoder_std": 1.0, "kl_warmup": 0.0, "iwae_samples": 64})
    #: tuning: the networks, the learning rate and the KL schedule
    SEARCH_SPACE = {**MLP_SPACE, **LR_SPACE,
                    "kl_warmup": Space("float", 0.0, 0.5,
                                       source="rule: the plain ELBO to a KL weight rising over half the run")}
    fixed_noise = "z and decoder noise"

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "cvae has no flow dim (its networks are width x layers)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        # encoder and decoder: layers - 1 hidden activations each (pre- and post-ReLU) kept for backward
        p = cls.resolve(params)
        return 4 * 2 * 2 * (p["layers"] - 1) * p["width"], "encoder and decoder activations kept for backward"

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["width"], "the decoder"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        p = self.params
        self.latent_dim = int(x_dim if p["latent_dim"] is None else p["latent_dim"])
        width, layers = int(p["width"]), int(p["layers"])
        self.kl_warmup = float(p["kl_warmup"])
        self.iwae_samples = int(p["iwae_samples"])
        self.decoder_variance = p["decoder_variance"]
        std0 = float(p["decoder_std"])
        for key, bad in (("latent_dim", self.latent_dim < 1), ("width", width < 1),
                         ("layers", layers < 2), ("kl_warmup", not 0.0 <= self.kl_warmup <= 1.0),
                         ("iwae_samples", self.iwae_samples < 1), ("decoder_std", not std0 > 0)):
            if bad:
                raise ValueError(f"cvae: invalid {key}={p[key]!r} (latent_dim, width, "
                                 f"iwae_samples >= 1; layers >= 2; 0 <= kl_warmup <= 1; decoder_std > 0)")
        if self.decoder_variance not in DECODER_VARIANCES:
            raise ValueError(f"cvae: decoder_variance must be one of {list(DECODER_VARIANCES)}, "
                             f"got {self.decoder_variance!r}")
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.encoder = mlp(x_dim + y_dim, 2 * self.latent_dim, width, layers)
            out = 2 * x_dim if self.decoder_variance == "network" else x_dim
            self.decoder = mlp(self.latent_dim + y_dim, out, width, layers)
        finally:
            torch.random.set_rng_state(gen_state)
        log_var0 = torch.full((x_dim,), 2 * math.log(std0))
        if self.decoder_variance == "per_dim":
            self.decoder_log_var = nn.Parameter(log_var0)
        else:  # fixed; unused by ``network`` (kept so that every variant has the same buffers)
            self.register_buffer("decoder_log_var", log_var0)

    def describe(self) -> str:
        return (f"cvae: encoder + decoder MLPs of {self.params['layers']} x {self.params['width']}, "
                f"latent {self.latent_dim}, decoder variance {self.decoder_variance}; "
                f"{n_parameters(self)} parameters")

    # -- the model -------------------------------------------------------------------
    def encode(self, x, y):
        """(mu_q, log sigma_q^2) of q(z | x, y)."""
        h = self.encoder(torch.cat([x, y], dim=1))
        return h[:, : self.latent_dim], h[:, self.latent_dim:]

    def decode(self, z, y):
        """The decoder's mean mu(z, y) and log-variance log sigma^2 (broadcastable to the mean)."""
        h = self.decoder(torch.cat([z, y], dim=1))
        if self.decoder_variance != "network":
            return h, self.decoder_log_var
        raw = h[:, self.x_dim:]
        return h[:, : self.x_dim], LOG_VAR_CLAMP * torch.tanh(raw / LOG_VAR_CLAMP)

    def elbo_parts(self, x, y, eps: torch.Tensor | None = None):
        """One-draw estimate of E_q[log p(x | z, y)] and the closed-form KL(q || N(0, I)), per row;
        ``eps``: the reparametrisation's standard-normal draw (default: drawn here)."""
        mu_q, log_var_q = self.encode(x, y)
        z = mu_q + torch.exp(0.5 * log_var_q) * (torch.randn_like(mu_q) if eps is None else eps)
        rec = _gaussian_log_prob(x, *self.decode(z, y))
        kl = 0.5 * (mu_q.pow(2) + torch.exp(log_var_q) - 1.0 - log_var_q).sum(-1)
        return rec, kl

    def elbo(self, x, y):
        """The conditional ELBO of each row (one draw of z): a lower bound of log p(x | y) in
        expectation over the draw."""
        rec, kl = self.elbo_parts(x, y)
        return rec - kl

    @property
    def schedule_steps(self) -> int:
        """The KL warm-up's steps (0 without one)."""
        import math
        return min(self.total_steps, math.ceil(self.kl_warmup * self.total_steps)) if self.kl_warmup > 0 else 0

    def kl_weight(self, step: int) -> float:
        if self.kl_warmup <= 0:
            return 1.0
        return min(1.0, (step + 1) / (self.kl_warmup * self.total_steps))

    # several seeds train as one batched ensemble (flowbench.ensemble): the step's noise given
    ensemble_ready = True

    def draw_step_noise(self, x, generator, step=0):
        """The reparametrisation's draw eps ~ N(0, I) [n, latent_dim], as ``loss`` draws it."""
        return {"eps": torch.randn(x.shape[0], self.latent_dim, generator=generator, device=x.device,
                                   dtype=x.dtype)}

    def loss_terms(self, x, y, step, noise):
        rec, kl = self.elbo_parts(x, y, noise["eps"])
        w = self.kl_weight(step)
        loss = -(rec - w * kl).mean()
        return loss, {"rec": -rec.mean().detach(), "kl": kl.mean().detach(), "kl_weight": x.new_tensor(w),
                      "elbo": (rec - kl).mean().detach()}

    def loss(self, x, y, step):
        loss, parts = self.loss_terms(x, y, step, self.draw_step_noise(x, None, step))
        out = {k: float(v) for k, v in parts.items()}
        out["kl_weight"] = self.kl_weight(step)     # exact, as logged before (parts hold it in float32)
        return loss, out

    @torch.no_grad()
    def log_prob(self, x, y, k: int | None = None):
        """Importance-weighted bound log 1/K sum_k p(x, z_k | y) / q(z_k | x, y), z_k ~ q (Burda et
        al. 2016, Sec. 3), K = ``iwae_samples``; rows are processed in chunks of 4096 / K."""
        k = int(k or self.iwae_samples)
        out = []
        chunk = max(1, 4096 // k)
        for xb, yb in zip(x.split(chunk), y.split(chunk)):
            n = xb.shape[0]
            mu_q, log_var_q = self.encode(xb, yb)
            std_q = torch.exp(0.5 * log_var_q)
            eps = torch.randn(k, n, self.latent_dim, device=xb.device, dtype=xb.dtype)
            z = (mu_q + std_q * eps).reshape(k * n, -1)
            yk, xk = yb.repeat(k, 1), xb.repeat(k, 1)
            log_w = (_gaussian_log_prob(xk, *self.decode(z, yk))
                     + std_normal_log_prob(z)
                     - _gaussian_log_prob(z, mu_q.repeat(k, 1), log_var_q.repeat(k, 1))).reshape(k, n)
            out.append(torch.logsumexp(log_w, dim=0) - math.log(k))
        return torch.cat(out)

    # -- sampling --------------------------------------------------------------------
    @property
    def noise_dims(self):
        """z ~ N(0, I) (latent_dim) and the decoder noise eps ~ N(0, I) (x_dim)."""
        return (self.latent_dim, self.x_dim)

    @torch.no_grad()
    def generate(self, conditions, noise):
        """x = mu(z, y) + sigma eps for noise = [z, eps]."""
        dev = self._device()
        y, noise = conditions.to(dev), noise.to(dev)
        z, eps = noise[:, : self.latent_dim], noise[:, self.latent_dim:]
        mean, log_var = self.decode(z, y)
        return mean + torch.exp(0.5 * log_var) * eps

    @torch.no_grad()
    def sample_posterior(self, y, n):
        y = torch.as_tensor(y, dtype=torch.float32, device=self._device())
        out = []
        for yk in y:
            noise = torch.randn(n, self.noise_dim, device=y.device)
            out.append(self.generate(yk.expand(n, -1), noise))
        return torch.stack(out)

    @torch.no_grad()
    def noise_of(self, x, conditions):
        """[mu_q(x, y), (x - mu(mu_q, y)) / sigma(mu_q, y)]: the encoder's mean and the decoder's
        standardised residual."""
        dev = self._device()
        x, y = x.to(dev), conditions.to(dev)
        z, _ = self.encode(x, y)
        mean, log_var = self.decode(z, y)
        return torch.cat([z, (x - mean) * torch.exp(-0.5 * log_var)], dim=1)
