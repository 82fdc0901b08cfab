"""Conditional GAN (Mirza & Osindero 2014, Sec. 3.2: the condition y is an input of both the
generator and the discriminator), trained as a Wasserstein GAN with gradient penalty (Gulrajani et
al. 2017, Algorithm 1): a generative baseline with no density and no forward predictor.

- generator x = G(z, y), z ~ N(0, I) of ``noise_dim`` dimensions (null: x_dim; fewer than x_dim
  could not cover a full-rank posterior): an MLP on [z, y];
- critic D(x, y): an MLP on [x, y] with a scalar output (no sigmoid: a 1-Lipschitz function of x
  in the dual form of the Wasserstein-1 distance, Gulrajani et al. Sec. 2.2);
- critic loss  E[D(G(z, y), y)] - E[D(x, y)] + lambda E[(||grad_x^ D(x^, y)||_2 - 1)^2], with
  x^ = a x + (1 - a) G(z, y), a ~ U[0, 1] per sample (Gulrajani et al. Sec. 4, Eq. 3); the gradient is taken
  with respect to x^ only: the condition is given, the critic must be 1-Lipschitz in x for each y.
  lambda = ``gp_weight`` (default 10, as Gulrajani et al.);
- generator loss  -E[D(G(z, y), y)].

The one training loop of the project (``flowbench.training.train``) makes one optimiser step per
iteration on what ``loss`` returns. Here ``make_optimizer`` returns the generator's Adam, and
``loss(x, y, step)`` first makes the ``n_critic`` critic updates (default 5, Gulrajani et al.
Algorithm 1) with the method's own critic Adam, then returns the generator loss. The critic steps
use disjoint chunks of the batch (n_critic chunks of about batch / n_critic samples, each paired
with as many fresh fakes under the same conditions), so an iteration sees the batch's samples once,
like every other method (a fair budget: the same samples per iteration); the generator step draws
one fake per row of the whole batch. The generator loss reads the critic through detached copies
of its parameters (``torch.func.functional_call``), so its backward leaves no gradient on the
critic, and the critic's own gradients are cleared after its updates: nothing leaks from one
network's step into the other's. The loss parts record the critic's last loss, its gradient
penalty and the Wasserstein estimate E[D(x, y)] - E[D(G(z, y), y)] (mean over the critic steps).

Optimiser: Adam with ``betas`` [0.0, 0.9] (Gulrajani et al. Algorithm 1: beta1 = 0, beta2 = 0.9)
for both networks; the critic's learning rate ``critic_lr`` (null: ``lr``) follows the generator's
schedule (``lr_schedule``) by the same factor. ``lr`` defaults to Algorithm 1's 1e-4, and lambda
and n_critic to its 10 and 5: the defaults are the paper's recipe, untuned. ``grad_clamp`` applies
to both networks. Beyond the paper: the WGAN-GP is not locally convergent (Mescheder, Geiger &
Nowozin 2018) and oscillates around the target; in 400 iterations a faster critic (two
time-scales, Heusel et al. 2017: ``critic_lr`` 1e-3) with a weaker penalty (``gp_weight`` 1) came
much closer on the mixture (W2 0.18 against 0.54, one seed each).

Default size (``PARAMS``; a fair budget: the task's iterations and batch size, as
ours): generator and critic MLPs of 4 Linear layers of width 512 (ReLU), noise_dim = x_dim.
Parameters: 1,063,427 on the 2-d mixture (x 2-d, y one-hot 8-d) and 1,077,771 on gaussian_linear
(x, y 10-d), against ours' 4,333,728 and 4,456,768: the same order, a quarter of ours, because an
iteration makes five critic updates (each with the gradient penalty's double backward) and a
generator update through both networks: at batch 1600 it costs about 0.7 of ours' step on one CPU
thread (measured side by side: cgan 0.41-0.43 s, ours 0.61 s on a loaded machine; ours alone
~0.33 s). ``describe()`` states the count of a built model.
"""
from __future__ import annotations

import torch
from torch.func import functional_call

from ..params import Param, Space, with_defaults
from .base import GENERATIVE_PARAMS, MLP_SPACE, ConditionalMethod, mlp, n_parameters, register_method


@register_method
class ConditionalWGANGP(ConditionalMethod):
    name = "cgan"
    label = "cGAN"
    long_label = "cGAN (WGAN-GP)"
    order = 4
    summary = "conditional WGAN-GP (Mirza & Osindero 2014; Gulrajani et al. 2017)"
    PARAMS = with_defaults({
        **GENERATIVE_PARAMS,
        "betas": GENERATIVE_PARAMS["betas"].replace(
            doc="Adam betas of both networks (Gulrajani et al. 2017, Algorithm 1)"),
        "noise_dim": Param(("integer", "null"), "dimensions of the generator's z (null: x_dim)",
                           minimum=1),
        "critic_width": Param(("integer", "null"), "critic hidden units (null: width)", minimum=1),
        "critic_layers": Param(("integer", "null"), "critic Linear layers (null: layers)",
                               minimum=2),
        "n_critic": Param("integer", "critic updates per generator update, on chunks of the batch",
                          minimum=1),
        "gp_weight": Param("number", "lambda of the gradient penalty", minimum=0),
        "critic_lr": Param(("number", "null"), "the critic's lr (null: lr)", exclusive_minimum=0),
    }, {"width": 512, "layers": 4, "lr": 1e-4, "betas": [0.0, 0.9], "noise_dim": None,
        "critic_width": None, "critic_layers": None, "n_critic": 5, "gp_weight": 10.0,
        "critic_lr": None})
    #: tuning: the networks, the learning rate, the critic's steps and the gradient penalty
    SEARCH_SPACE = {**MLP_SPACE,
                    "lr": Space("float", 3e-5, 1e-3, log=True,
                                source="rule: a third to ten times Gulrajani et al.'s 1e-4 (Algorithm 1)"),
                    "n_critic": Space("int", 1, 10, source="rule: 1 to twice Algorithm 1's 5"),
                    "gp_weight": Space("float", 1.0, 100.0, log=True,
                                       source="rule: a decade either side of Algorithm 1's 10")}
    fixed_noise = "z"

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "cgan has no flow dim (its networks are width x layers)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        # the generator step: hidden activations of G and D (pre- and post-ReLU) kept for backward
        p = cls.resolve(params)
        cw = p["width"] if p["critic_width"] is None else p["critic_width"]
        cl = p["layers"] if p["critic_layers"] is None else p["critic_layers"]
        return (4 * 2 * ((p["layers"] - 1) * p["width"] + (cl - 1) * cw),
                "generator and critic activations kept for backward")

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["width"], "the generator"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        p = self.params
        self.z_dim = int(x_dim if p["noise_dim"] is None else p["noise_dim"])
        width, layers = int(p["width"]), int(p["layers"])
        c_width = int(width if p["critic_width"] is None else p["critic_width"])
        c_layers = int(layers if p["critic_layers"] is None else p["critic_layers"])
        self.n_critic = int(p["n_critic"])
        self.gp_weight = float(p["gp_weight"])
        self.lr = float(p["lr"])
        self.critic_lr = float(self.lr if p["critic_lr"] is None else p["critic_lr"])
        for key, bad in (("noise_dim", self.z_dim < 1), ("width", width < 1), ("layers", layers < 2),
                         ("critic_width", c_width < 1), ("critic_layers", c_layers < 2),
                         ("n_critic", self.n_critic < 1), ("gp_weight", not self.gp_weight >= 0),
                         ("lr", not self.lr > 0), ("critic_lr", not self.critic_lr > 0)):
            if bad:
                raise ValueError(f"cgan: invalid {key}={p[key]!r} (n_critic, noise_dim, widths >= 1; "
                                 f"layers >= 2; gp_weight >= 0; learning rates > 0)")
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.generator = mlp(self.z_dim + y_dim, x_dim, width, layers)
            self.critic = mlp(x_dim + y_dim, 1, c_width, c_layers)
        finally:
            torch.random.set_rng_state(gen_state)
        self._gen_opt: torch.optim.Optimizer | None = None
        self._critic_opt: torch.optim.Optimizer | None = None

    def describe(self) -> str:
        return (f"cgan (WGAN-GP): generator {n_parameters(self.generator)} + critic "
                f"{n_parameters(self.critic)} = {n_parameters(self)} parameters, "
                f"{self.n_critic} critic steps per generator step, gp_weight {self.gp_weight}")

    # -- optimisers ------------------------------------------------------------------
    def _adam(self, params, lr):
        p = self.params
        return torch.optim.Adam(params, lr=lr, betas=tuple(p["betas"]), eps=float(p["adam_eps"]),
                                weight_decay=float(p["weight_decay"]))

    def make_optimizer(self):
        """The generator's Adam (what the training loop steps); the critic's own Adam starts anew."""
        self._gen_opt = self._adam(self.generator.parameters(), self.lr)
        self._critic_opt = self._adam(self.critic.parameters(), self.critic_lr)
        return self._gen_opt

    def _critic_lr_now(self) -> float:
        """The critic's lr, scaled as the generator's schedule has scaled the generator's."""
        if self._gen_opt is None:
            return self.critic_lr
        return self.critic_lr * self._gen_opt.param_groups[0]["lr"] / self.lr

    # -- the networks ------------------------------------------------------------------
    def _g(self, z, y):
        return self.generator(torch.cat([z, y], dim=1))

    def _d(self, x, y):
        return self.critic(torch.cat([x, y], dim=1)).squeeze(1)

    def _d_frozen(self, x, y):
        """D(x, y) through detached critic parameters: gradients reach x, never the critic."""
        params = {k: v.detach() for k, v in self.critic.named_parameters()}
        return functional_call(self.critic, params, (torch.cat([x, y], dim=1),)).squeeze(1)

    def _noise(self, n, like):
        return torch.randn(n, self.z_dim, device=like.device, dtype=like.dtype)

    def critic_loss(self, x, y):
        """(critic loss, gradient penalty, Wasserstein estimate) on real rows x under y, against as
        many fakes G(z, y) (the generator held fixed)."""
        with torch.no_grad():
            fake = self._g(self._noise(x.shape[0], x), y)
        d_real, d_fake = self._d(x, y), self._d(fake, y)
        a = torch.rand(x.shape[0], 1, device=x.device, dtype=x.dtype)
        x_hat = (a * x + (1 - a) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self._d(x_hat, y).sum(), x_hat, create_graph=True)
        gp = (grad.norm(dim=1) - 1).pow(2).mean()
        w = d_real.mean() - d_fake.mean()
        return -w + self.gp_weight * gp, gp, w

    def _critic_steps(self, x, y):
        if self._critic_opt is None:
            self.make_optimizer()
        opt = self._critic_opt
        for g in opt.param_groups:
            g["lr"] = self._critic_lr_now()
        n = x.shape[0]
        perm = torch.randperm(n, device=x.device)
        chunks = list(perm.tensor_split(self.n_critic)) if n >= self.n_critic else [perm] * self.n_critic
        clamp = self.grad_clamp
        ws, gps = [], []
        for idx in chunks:
            opt.zero_grad(set_to_none=True)
            loss, gp, w = self.critic_loss(x[idx], y[idx])
            loss.backward()
            if clamp is not None:
                for q in self.critic.parameters():
                    if q.grad is not None:
                        q.grad.clamp_(-clamp, clamp)
            opt.step()
            ws.append(float(w.detach()))
            gps.append(float(gp.detach()))
        opt.zero_grad(set_to_none=True)
        return float(loss.detach()), sum(gps) / len(gps), sum(ws) / len(ws)

    def loss(self, x, y, step):
        """n_critic critic updates (on chunks of the batch), then the generator loss -E[D(G(z, y), y)]."""
        c_loss, gp, w = self._critic_steps(x, y)
        g_loss = -self._d_frozen(self._g(self._noise(x.shape[0], x), y), y).mean()
        return g_loss, {"critic_loss": c_loss, "gradient_penalty": gp, "wasserstein": w}

    # -- sampling --------------------------------------------------------------------
    @property
    def noise_dims(self):
        return (self.z_dim,)

    @torch.no_grad()
    def generate(self, conditions, noise):
        """x = G(z, y) for noise = z."""
        dev = self._device()
        return self._g(noise.to(dev), conditions.to(dev))

    @torch.no_grad()
    def sample_posterior(self, y, n):
        y = torch.as_tensor(y, dtype=torch.float32, device=self._device())
        return torch.stack([self.generate(yk.expand(n, -1), torch.randn(n, self.z_dim, device=y.device))
                            for yk in y])
