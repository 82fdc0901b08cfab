"""Affine coupling flows on nflows: the invertible network of ours, the INN and the cINN.

A *paper block* (Eq. 2 of Xiao, Yan & Amit 2019, arXiv 1911.02052: the INN's affine coupling
block, Ardizzone et al. 2018, arXiv 1808.04730, as FrEIA's GLOW block implements it) transforms
both halves of its input in turn, each by a subnet predicting a log-scale and a shift. nflows'
``CouplingTransform`` transforms one half, so one paper block is two nflows couplings with
complementary masks followed by a fixed random permutation. Blocks are counted the paper's way everywhere in this project.

The log-scale is soft-clamped, ``s = clamp * 2/pi * atan(s_raw / clamp)``, so the scale
``exp(s)`` lies in ``(exp(-clamp), exp(clamp))`` and can expand as well as contract (nflows 0.14's
``AffineCouplingTransform`` computes its scale as a sigmoid, so it can only contract).
"""
from __future__ import annotations

import math

import torch
from nflows.transforms import CompositeTransform, RandomPermutation, Transform
from nflows.transforms.coupling import CouplingTransform
from torch import nn

# 2/pi: FrEIA's 0.636 constant, written exactly.
_TWO_OVER_PI = 2.0 / math.pi


def soft_clamp(s: torch.Tensor, clamp: float) -> torch.Tensor:
    """Soft clamp of a log-scale into (-clamp, clamp); slope 2/pi at 0 (as FrEIA)."""
    if clamp <= 0:
        return s
    return clamp * _TWO_OVER_PI * torch.atan(s / clamp)


class SubnetMLP(nn.Module):
    """Fully connected subnet ``net(x, context)``: ``layers`` Linear layers with ReLU between.

    ``layers=3`` with ``width=512`` is the seed paper's "3 fully connected layers with 512 hidden
    units" (in -> 512 -> 512 -> out); ``layers=2`` is the original INN's one hidden layer.
    The context (if any) is concatenated to the input: that is the conditional INN.
    """

    def __init__(self, in_features: int, out_features: int, width: int, layers: int,
                 context_features: int = 0):
        super().__init__()
        if layers < 2:
            raise ValueError(f"subnet_layers must be >= 2, got {layers}")
        self.context_features = context_features
        dims = [in_features + context_features] + [width] * (layers - 1) + [out_features]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < layers - 1:
                mods.append(nn.ReLU())
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.context_features:
            if context is None:
                raise ValueError("this subnet is conditional and needs a context")
            x = torch.cat([x, context], dim=1)
        return self.net(x)


class SoftClampAffineCoupling(CouplingTransform):
    """Affine coupling ``y = x * exp(s) + t`` with soft-clamped log-scale ``s``.

    The transform net outputs ``[s_raw, t]`` for the transformed features.
    """

    def __init__(self, mask, transform_net_create_fn, clamp: float = 2.0):
        self.clamp = float(clamp)
        super().__init__(mask, transform_net_create_fn)
        # where each feature of [identity, transformed] goes back to (not saved in checkpoints)
        order = torch.cat([self.identity_features, self.transform_features])
        self.register_buffer("_merge_index", torch.argsort(order), persistent=False)

    # nflows' forward and inverse, with the halves split by index_select and merged by a
    # concatenation and a gather instead of index assignment into an empty tensor: the same values,
    # and a form that torch.func.vmap batches (flowbench.ensemble trains seeds as one ensemble)
    def _split(self, inputs):
        if inputs.dim() != 2 or inputs.shape[1] != self.features:
            raise ValueError(f"inputs must be [N, {self.features}], got {tuple(inputs.shape)}")
        return (torch.index_select(inputs, 1, self.identity_features),
                torch.index_select(inputs, 1, self.transform_features))

    def _merge(self, identity_split, transform_split):
        return torch.index_select(torch.cat([identity_split, transform_split], dim=1), 1, self._merge_index)

    def forward(self, inputs, context=None):
        identity_split, transform_split = self._split(inputs)
        transform_params = self.transform_net(identity_split, context)
        transform_split, logabsdet = self._coupling_transform_forward(transform_split, transform_params)
        return self._merge(identity_split, transform_split), logabsdet

    def inverse(self, inputs, context=None):
        identity_split, transform_split = self._split(inputs)
        transform_params = self.transform_net(identity_split, context)
        transform_split, logabsdet = self._coupling_transform_inverse(transform_split, transform_params)
        return self._merge(identity_split, transform_split), logabsdet

    def _transform_dim_multiplier(self):
        return 2

    def _log_scale_and_shift(self, params):
        n = self.num_transform_features
        return soft_clamp(params[:, :n], self.clamp), params[:, n:]

    def _coupling_transform_forward(self, inputs, transform_params):
        s, t = self._log_scale_and_shift(transform_params)
        return inputs * torch.exp(s) + t, s.sum(dim=1)

    def _coupling_transform_inverse(self, inputs, transform_params):
        s, t = self._log_scale_and_shift(transform_params)
        return (inputs - t) * torch.exp(-s), -s.sum(dim=1)


def _init_params(module: nn.Module, init_scale: float | None) -> None:
    """``init_scale=None`` keeps torch's default init; a number draws every parameter
    (weights and biases) from ``init_scale * N(0, 1)`` as the original INN code does."""
    if init_scale is None:
        return
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 1.0).mul_(init_scale)


def build_flow(dim: int, blocks: int, subnet_layers: int, width: int, clamp: float = 2.0,
               init_scale: float | None = None, context_dim: int = 0,
               seed: int | None = None) -> Transform:
    """Stack of ``blocks`` paper blocks on ``dim`` features.

    Each block: coupling on the second half given the first, coupling on the first half given
    the second, then a fixed random permutation (drawn from ``seed``). With ``context_dim > 0``
    every subnet also sees the context (conditional INN).

    Returns an nflows ``Transform`` mapping ``x [N, dim] -> (z [N, dim], logabsdet [N])``.
    """
    if dim < 2:
        raise ValueError(f"flow dim must be >= 2, got {dim}")
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    gen_state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    try:
        half = dim // 2
        mask_a = torch.zeros(dim)
        mask_a[half:] = 1
        mask_b = 1 - mask_a

        def make_net(n_in, n_out):
            return SubnetMLP(n_in, n_out, width=width, layers=subnet_layers,
                             context_features=context_dim)

        transforms: list[Transform] = []
        for _ in range(blocks):
            transforms.append(SoftClampAffineCoupling(mask_a, make_net, clamp=clamp))
            transforms.append(SoftClampAffineCoupling(mask_b, make_net, clamp=clamp))
            transforms.append(RandomPermutation(dim))
        flow = CompositeTransform(transforms)
        _init_params(flow, init_scale)
    finally:
        if seed is not None:
            torch.random.set_rng_state(gen_state)
    return flow


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
