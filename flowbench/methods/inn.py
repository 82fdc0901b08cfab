"""The four-loss MMD-trained INN of Ardizzone et al. (2018), as the seed paper's Sec. 2.2 and the
original toy_8-modes code of the authors describe it.

Output layout: [z (x_dim), pad_out (dim - x_dim - y_dim), y (y_dim)].

- L_y   = w_y * MSE([pad_out, y_out], [pad noise, y + y_noise])
- L_z   = w_z * MMD([z_out, y_out.detach()], [N(0, I), y + y_noise])
- L_x   = w_x * ramp(step) * MMD(f^{-1}([N(0, I), pad noise, y + noise])[:, :x_dim], x)
- L_rec = w_rec * MSE(f^{-1}([z_out.detach() + y_noise * N(0, I), pad noise, y + noise]), [x, x0])

MMD: biased V-statistic with the inverse multiquadric kernel k = a^2 / (a^2 + ||u - v||^2)
summed over the widths ``mmd_widths`` (Ardizzone et al. 2018, arXiv:1808.04730, Sec. 3.3 and
their appendix). The original calls backward() on the forward and the backward terms separately
before one optimiser step; the gradient of their sum is the same.

The loss computes each MMD with ``mmd_multiscale_fused``: the same value and gradient as the
reference ``mmd_multiscale`` (to float32 rounding), with the kernel sums written as one
autograd function whose gradient is formed in the forward pass, and the k(b, b) term, which
carries no gradient when b is a prior draw or data (MMD^2 = E k(a, a') + E k(b, b') - 2 E k(a, b),
Gretton et al. 2012, arXiv:0805.2368), computed without a graph. Its value is still
added, so the logged L_z, L_x and loss are the full MMD as before.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ..coupling import build_flow
from ..params import NO_DEFAULT, Param, Space
from .base import FLOW_PARAMS, FLOW_SPACE, LR_SPACE, ConditionalMethod, register_method
from .schedules import ramp_weight


def mmd_multiscale(a: torch.Tensor, b: torch.Tensor, widths=(0.05, 0.2, 0.9)) -> torch.Tensor:
    """Biased MMD^2 (V-statistic): mean of k(a,a) + k(b,b) - 2 k(a,b), IMQ kernel summed over widths."""
    daa = torch.cdist(a, a).pow(2)
    dbb = torch.cdist(b, b).pow(2)
    dab = torch.cdist(a, b).pow(2)
    total = a.new_zeros(())
    for w in widths:
        w2 = w * w
        total = total + (w2 / (w2 + daa)).mean() + (w2 / (w2 + dbb)).mean() - 2 * (w2 / (w2 + dab)).mean()
    return total


class _IMQKernelMean(torch.autograd.Function):
    """mean over i, j of sum_w w^2 / (w^2 + D_ij), D_ij = ||a_i - b_j||^2, for a [n, d], b [m, d].

    D is formed as |a_i|^2 + |b_j|^2 - 2 a_i.b_j (as ``torch.cdist`` does for sets of more than 25
    points). The forward pass also accumulates G = dS/dD = -sum_w w^2 / (w^2 + D)^2 / (n m), so the
    backward pass is two matrix products: dS/da_i = 2 sum_j G_ij (a_i - b_j), and the same for b.
    ``same``: b is a, and the diagonal (D_ii = 0 identically) carries no gradient."""

    @staticmethod
    def forward(ctx, a, b, w2s, same):
        na = a.pow(2).sum(1)
        nb = na if same else b.pow(2).sum(1)
        dist = torch.addmm(nb.unsqueeze(0), a, b.T, beta=1, alpha=-2)
        dist.add_(na.unsqueeze(1)).clamp_min_(0)
        need = ctx.needs_input_grad[0] or (not same and ctx.needs_input_grad[1])
        r = torch.empty_like(dist)
        g = torch.zeros_like(dist) if need else None
        total = a.new_zeros(())
        for w2 in w2s:
            torch.add(dist, w2, out=r).reciprocal_()
            total += w2 * r.sum()
            if need:
                g.addcmul_(r, r, value=-w2)
        scale = 1.0 / dist.numel()
        ctx.same = same
        if need:
            if same:
                g.diagonal().zero_()
            g.mul_(scale)
            ctx.save_for_backward(a, b, g)
        return total * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        a, b, g = ctx.saved_tensors
        return _imq_grads(a, b, g, ctx.same, grad_out, *ctx.needs_input_grad[:2])


def _imq_grads(a, b, g, same: bool, grad_out, need_a: bool = True, need_b: bool = True):
    """The backward pass of both IMQ kernel-mean functions from G = dS/dD: dS/da_i = 2 sum_j
    G_ij (a_i - b_j), the same for b; ``same`` (b is a): the two equal halves summed."""
    if same:
        return 4 * grad_out * (g.sum(1, keepdim=True) * a - g @ a), None, None, None
    ga = 2 * grad_out * (g.sum(1, keepdim=True) * a - g @ b) if need_a else None
    gb = 2 * grad_out * (g.sum(0).unsqueeze(1) * b - g.transpose(0, 1) @ a) if need_b else None
    return ga, gb, None, None


def imq_kernel_mean(a: torch.Tensor, b: torch.Tensor, widths=(0.05, 0.2, 0.9),
                    same: bool = False) -> torch.Tensor:
    """Mean of the IMQ kernel sum over all pairs (a_i, b_j), diagonal included; ``same``: b is a."""
    return _IMQKernelMean.apply(a, a if same else b, tuple(float(w) ** 2 for w in widths), same)


class _IMQKernelMeanBatchable(torch.autograd.Function):
    """``_IMQKernelMean`` written so that ``torch.func.vmap`` and ``grad`` can batch it (no ``ctx``
    in the forward pass, no in-place writes into an input, ``generate_vmap_rule``): the same
    kernel mean and the same two-matrix-product gradient, G returned as a second output that
    carries no gradient. Used by the ensemble trainer; separate training keeps the in-place
    ``_IMQKernelMean`` (its numbers unchanged)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a, b, w2s, same):
        na = a.pow(2).sum(1)
        nb = na if same else b.pow(2).sum(1)
        dist = (torch.addmm(nb.unsqueeze(0), a, b.transpose(0, 1), beta=1, alpha=-2)
                + na.unsqueeze(1)).clamp_min(0)
        g = torch.zeros_like(dist)
        total = a.new_zeros(())
        for w2 in w2s:
            r = (dist + w2).reciprocal()
            total = total + w2 * r.sum()
            g = g - w2 * r * r
        if same:   # D_ii = 0 identically: the diagonal carries no gradient
            g = g * (1 - torch.eye(g.shape[0], dtype=g.dtype, device=g.device))
        scale = 1.0 / dist.numel()
        return total * scale, g * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, _, same = inputs
        ctx.same = same
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(a, b, output[1])

    @staticmethod
    def backward(ctx, grad_out, _grad_g):
        a, b, g = ctx.saved_tensors
        return _imq_grads(a, b, g, ctx.same, grad_out)


def mmd_multiscale_batchable(a: torch.Tensor, b: torch.Tensor, widths=(0.05, 0.2, 0.9)) -> torch.Tensor:
    """``mmd_multiscale_fused`` that ``torch.func.vmap`` and ``grad`` can batch, for the ensemble
    trainer: the same value and gradient to float32 rounding (``tests/test_baselines.py``). ``b``
    carries no gradient here (the INN's b is always a draw or data), so its k(b, b) term is
    computed on a detached copy."""
    w2s = tuple(float(w) ** 2 for w in widths)

    def kernel_mean(u, v, same=False):
        return _IMQKernelMeanBatchable.apply(u, u if same else v, w2s, same)[0]

    b = b.detach()
    return kernel_mean(a, a, same=True) + kernel_mean(b, b, same=True) - 2 * kernel_mean(a, b)


def mmd_multiscale_fused(a: torch.Tensor, b: torch.Tensor, widths=(0.05, 0.2, 0.9)) -> torch.Tensor:
    """``mmd_multiscale`` (the same value, the same gradient to float32 rounding), about 4-5x
    cheaper forward and backward at batch 1,600 on one CPU thread. When b carries no gradient (a
    prior draw, data) its k(b, b) term is a constant of the gradient: it is computed without a
    graph and added to the value only."""
    kbb = imq_kernel_mean(b, b, widths, same=True)
    if not b.requires_grad:
        kbb = kbb.detach()
    return imq_kernel_mean(a, a, widths, same=True) + kbb - 2 * imq_kernel_mean(a, b, widths)


@register_method
class FourLossINN(ConditionalMethod):
    name = "inn"
    label = "INN"
    order = 1
    role = "paper_baseline"
    summary = "the four-loss MMD-trained INN of Ardizzone et al. (2018), arXiv:1808.04730"
    image_flow = False
    #: it samples x = f^{-1}([z, pad, y* + y_noise n]) and its MMD terms ask for the smoothed y:
    #: it converges to a transported smoothed target (flowbench.eps_split, "The INN's y noise")
    smoothed_limit = ("y_noise", "transport")
    _W = Param("number", minimum=0, required=True)
    PARAMS = {
        **FLOW_PARAMS,
        "pad_noise": FLOW_PARAMS["pad_noise"].replace(required=True, default=NO_DEFAULT),
        "y_noise": Param("number", "std of the noise added to y", minimum=0, required=True),
        "weights": Param("object", "the four losses' weights", required=True, fields={
            "y": _W.replace(doc="L_y"), "z": _W.replace(doc="L_z"), "x": _W.replace(doc="L_x"),
            "rec": _W.replace(doc="L_rec")}),
        "ramp": Param("object", "the schedule of L_x's weight", required=True, fields={
            "kind": Param(None, enum=("exp", "linear", "constant", "none"), required=True),
            "speed": Param("number", exclusive_minimum=0, default=1.0, filled=False),
            "base": Param("number", exclusive_minimum=0, exclusive_maximum=1, default=0.002,
                          filled=False),
            "iters_per_epoch": Param("integer", minimum=1, default=8, filled=False)}),
        "mmd_widths": Param("array", "widths of the inverse multiquadric kernels", required=True,
                            items=Param("number", exclusive_minimum=0), min_items=1),
    }
    del _W
    _ORIG = ("rule: a decade either side of the original code's value for the 8-mode mixture "
             "(Ardizzone et al. 2018, arXiv:1808.04730)")
    #: tuning: the flow's size, the learning rate, the four loss weights, the ramp and y's noise
    SEARCH_SPACE = {**FLOW_SPACE, **LR_SPACE,
                    "weights.y": Space("float", 0.3, 30.0, log=True, source=_ORIG + ": 3"),
                    "weights.z": Space("float", 30.0, 3000.0, log=True, source=_ORIG + ": 300"),
                    "weights.x": Space("float", 40.0, 4000.0, log=True, source=_ORIG + ": 400"),
                    "weights.rec": Space("float", 0.3, 30.0, log=True, source=_ORIG + ": 3"),
                    "ramp.speed": Space("float", 0.25, 4.0, log=True,
                                        source="rule: the ramp 4x slower to 4x faster than the code's"),
                    "y_noise": Space("float", 0.005, 0.2, log=True,
                                     source="rule: from half of 0.01 (the variant inverse_ynoise_0.01) "
                                            "to twice the original code's 0.1")}
    del _ORIG

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return max(x_dim + y_dim, 2), (f"{x_name} {x_dim} + {y_name} {y_dim}: the output is "
                                       f"[z ({x_dim}), padding, y ({y_dim})]")

    @classmethod
    def train_memory_terms(cls, params, batch):
        w = params.get("weights") or {}
        n_mmd = (w.get("z", 0) > 0) + (w.get("x", 0) > 0)
        return [(n_mmd * 3 * 4 * batch * batch,
                 f"inn: {3 * n_mmd} b x b float32 distance matrices of the MMD losses")] if n_mmd else []

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        if self.dim < x_dim + y_dim:
            raise ValueError(f"inn: dim={self.dim} must be at least x_dim + y_dim = {x_dim + y_dim}")
        self.z_dim = x_dim
        self.pad_out_dim = self.dim - x_dim - y_dim
        self.y_noise = float(self.params["y_noise"])
        w = self.params["weights"]
        self.w_y, self.w_z, self.w_x, self.w_rec = (float(w[k]) for k in ("y", "z", "x", "rec"))
        self.ramp = dict(self.params["ramp"])
        self.widths = tuple(self.params["mmd_widths"])
        self.flow = build_flow(self.dim, self.params["blocks"], self.params["subnet_layers"], self.params["width"],
                               self.params["clamp"], self.params.get("init_scale"), seed=seed)

    def ramp_value(self, step: int) -> float:
        r = self.ramp
        return ramp_weight(r["kind"], step, self.total_steps, r["iters_per_epoch"], r["speed"],
                           r["base"])

    @property
    def schedule_steps(self) -> int:
        """The first step from which the ramp of L_x's weight stays at its final value."""
        final = self.ramp_value(self.total_steps)
        per = int(self.ramp["iters_per_epoch"])
        for step in range(0, self.total_steps + 1, per):
            if self.ramp_value(step) == final:
                return step
        return self.total_steps

    def _pad_noise(self, n, like):
        return self.pad_noise * torch.randn(n, self.pad_out_dim, device=like.device, dtype=like.dtype)

    ensemble_ready = True

    def draw_step_noise(self, x, generator, step=0):
        """The standard-normal draws of one training step, in the order the loss has always drawn
        them: the input padding, y's noise, the output padding's target, the z prior; when L_x or
        L_rec is on at ``step``, a second y noise and padding; the z draws of L_x; L_rec's z
        perturbation."""
        n, dev, dt = x.shape[0], x.device, x.dtype

        def randn(*shape):
            return torch.randn(*shape, generator=generator, device=dev, dtype=dt)
        noise = {}
        rows, n_pad = self._pad_shape(x)
        if n_pad > 0:
            noise["pad"] = randn(rows, n_pad)
        noise["y"] = randn(n, self.y_dim)
        noise["pad_t"] = randn(n, self.pad_out_dim)
        noise["z_prior"] = randn(n, self.z_dim)
        ramp = self.ramp_value(step)
        if self.w_x * ramp > 0 or self.w_rec > 0:
            noise["y2"] = randn(n, self.y_dim)
            noise["pad_b"] = randn(n, self.pad_out_dim)
            if self.w_x * ramp > 0:
                noise["z_rand"] = randn(n, self.z_dim)
            if self.w_rec > 0:
                noise["z_pert"] = randn(n, self.z_dim)
        return noise

    def loss_terms(self, x, y, step, noise, mmd=mmd_multiscale_batchable):
        """The four losses with the step's draws given (``draw_step_noise``), parts as tensors.
        ``mmd``: the batchable MMD by default (the ensemble trainer's); ``loss`` passes the fused
        one."""
        xp = self.pad(x, noise.get("pad"))
        y_noisy = y + self.y_noise * noise["y"]
        pad_t = self.pad_noise * noise["pad_t"]
        out, _ = self.flow(xp)
        z_out, rest = out[:, : self.z_dim], out[:, self.z_dim:]
        y_out = out[:, -self.y_dim:]
        l_y = F.mse_loss(rest, torch.cat([pad_t, y_noisy], dim=1))
        l_z = mmd(torch.cat([z_out, y_out.detach()], 1), torch.cat([noise["z_prior"], y_noisy], 1), self.widths)
        total = self.w_y * l_y + self.w_z * l_z
        parts = {"L_y": l_y.detach(), "L_z": l_z.detach()}
        ramp = self.ramp_value(step)
        if self.w_x * ramp > 0 or self.w_rec > 0:
            y_noisy2 = y + self.y_noise * noise["y2"]
            pad_b = self.pad_noise * noise["pad_b"]
            if self.w_x * ramp > 0:
                x_rand, _ = self.flow.inverse(torch.cat([noise["z_rand"], pad_b, y_noisy2], 1))
                l_x = mmd(x_rand[:, : self.x_dim], x, self.widths)
                total = total + self.w_x * ramp * l_x
                parts["L_x"] = l_x.detach()
            if self.w_rec > 0:
                z_pert = z_out.detach() + self.y_noise * noise["z_pert"]
                x_rec, _ = self.flow.inverse(torch.cat([z_pert, pad_b, y_noisy2], 1))
                l_rec = F.mse_loss(x_rec, xp)
                total = total + self.w_rec * l_rec
                parts["L_rec"] = l_rec.detach()
        parts["ramp"] = x.new_tensor(ramp)
        return total, parts

    def loss(self, x, y, step):
        total, parts = self.loss_terms(x, y, step, self.draw_step_noise(x, None, step), mmd=mmd_multiscale_fused)
        out = {k: float(v) for k, v in parts.items()}
        out["ramp"] = self.ramp_value(step)      # exact, as logged before (parts hold it in float32)
        return total, out

    @torch.no_grad()
    def sample_posterior(self, y, n):
        dev = self._device()
        y = torch.as_tensor(y, dtype=torch.float32, device=dev)
        out = []
        for yk in y:
            z = torch.randn(n, self.z_dim, device=dev)
            yn = yk.expand(n, -1) + self.y_noise * torch.randn(n, self.y_dim, device=dev)
            x, _ = self.flow.inverse(torch.cat([z, self._pad_noise(n, z), yn], 1))
            out.append(x[:, : self.x_dim])
        return torch.stack(out)

    @property
    def noise_dims(self):
        """z ~ N(0, I), the output padding's noise (scaled by pad_noise) and y's noise (by y_noise)."""
        return (self.z_dim, self.pad_out_dim, self.y_dim)

    @torch.no_grad()
    def generate(self, conditions, noise):
        dev = self._device()
        y, noise = conditions.to(dev), noise.to(dev)
        z = noise[:, : self.z_dim]
        pad = self.pad_noise * noise[:, self.z_dim: self.z_dim + self.pad_out_dim]
        yn = y + self.y_noise * noise[:, self.z_dim + self.pad_out_dim:]
        x, _ = self.flow.inverse(torch.cat([z, pad, yn], 1))
        return x[:, : self.x_dim]

    @torch.no_grad()
    def noise_of(self, x, conditions):
        """The parts of ``noise_dims`` from f([x, x0]) = [z, pad_out, y_out]."""
        dev = self._device()
        out, _ = self.flow(self.pad(x.to(dev)))
        z, pad = out[:, : self.z_dim], out[:, self.z_dim: self.z_dim + self.pad_out_dim]
        y_out = out[:, self.z_dim + self.pad_out_dim:]
        return torch.cat([z, pad / max(self.pad_noise, 1e-12),
                          (y_out - conditions.to(dev)) / max(self.y_noise, 1e-12)], 1)

    @torch.no_grad()
    def predict(self, x):
        out, _ = self.flow(self.pad(x))
        return out[:, -self.y_dim:]
