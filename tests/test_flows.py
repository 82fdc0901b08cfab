import numpy as np
import pytest
import torch

from flowbench.coupling import SoftClampAffineCoupling, build_flow, soft_clamp
from flowbench.methods import make_method, std_normal_log_prob



@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_soft_clamp_bounds_and_slope_at_zero():
    s = torch.linspace(-100, 100, 1001)
    out = soft_clamp(s, 2.0)
    assert out.abs().max() < 2.0
    small = torch.tensor([1e-4, -1e-4])
    assert torch.allclose(soft_clamp(small, 2.0), small * 2 / np.pi, rtol=1e-6)


def test_coupling_can_expand():
    """The nflows 0.14 affine coupling can only contract; ours must be able to expand."""
    flow = build_flow(4, 1, 2, 8, clamp=2.0, seed=0)
    coupling = flow._transforms[0]
    assert isinstance(coupling, SoftClampAffineCoupling)
    with torch.no_grad():
        last = coupling.transform_net.net[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[: coupling.num_transform_features] = 5.0  # large raw log-scale
    x = torch.randn(16, 4)
    _, logdet = coupling(x)
    assert torch.all(logdet > 0)  # expands


@pytest.mark.parametrize("context_dim", [0, 3])
def test_flow_inverts(context_dim):
    flow = build_flow(6, 3, 3, 32, clamp=2.0, context_dim=context_dim, seed=1)
    x = torch.randn(50, 6)
    ctx = torch.randn(50, context_dim) if context_dim else None
    z, ld = flow(x, context=ctx)
    x_back, ld_inv = flow.inverse(z, context=ctx)
    assert z.shape == x.shape and ld.shape == (50,)
    assert torch.allclose(x_back, x, atol=1e-9)
    assert torch.allclose(ld, -ld_inv, atol=1e-9)


def test_flow_logdet_matches_autograd_jacobian():
    flow = build_flow(4, 2, 2, 16, clamp=2.0, seed=2)
    x = torch.randn(5, 4)
    _, ld = flow(x)
    for i in range(5):
        J = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0))[0].squeeze(0), x[i])
        assert torch.allclose(ld[i], torch.linalg.slogdet(J)[1], atol=1e-8)


def test_same_seed_same_flow_different_seed_different():
    a = build_flow(4, 2, 2, 8, seed=3)
    b = build_flow(4, 2, 2, 8, seed=3)
    c = build_flow(4, 2, 2, 8, seed=4)
    x = torch.randn(3, 4)
    assert torch.equal(a(x)[0], b(x)[0])
    assert not torch.allclose(a(x)[0], c(x)[0])


OURS = dict(dim=5, blocks=2, subnet_layers=2, width=16, clamp=2.0, init_scale=None, eps=0.1,
            pad_noise=0.0, lr=1e-3)


def test_ours_log_prob_is_change_of_variables():
    """log p([x, x0] | y) = log N(z) + log N(c - y; eps) + log|det J|, J by autograd."""
    torch.manual_seed(0)
    m = make_method("ours", 2, 3, OURS, seed=0).double()
    x = torch.randn(4, 2)
    y = torch.eye(3)[[0, 1, 2, 0]]
    lp = m.log_prob(x, y)  # pad_noise 0: padding is exactly zero
    for i in range(4):
        xp = torch.cat([x[i], torch.zeros(3)])
        f = lambda v: m.flow(v.unsqueeze(0))[0].squeeze(0)  # noqa: E731
        out = f(xp)
        J = torch.autograd.functional.jacobian(f, xp)
        z, c = out[:2], out[2:]
        ref = (-0.5 * (z ** 2).sum() - np.log(2 * np.pi)
               + (-0.5 * ((c - y[i]) / 0.1) ** 2 - np.log(0.1) - 0.5 * np.log(2 * np.pi)).sum()
               + torch.linalg.slogdet(J)[1])
        assert torch.allclose(lp[i], ref, atol=1e-8)


def test_std_normal_log_prob_closed_form():
    z = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    expect = torch.tensor([-np.log(2 * np.pi), -np.log(2 * np.pi) - 2.5])
    assert torch.allclose(std_normal_log_prob(z), expect)
    assert torch.allclose(std_normal_log_prob(z, 2.0), -0.125 * (z ** 2).sum(1) - np.log(2 * np.pi * 4))


def test_ours_sample_and_predict_shapes():
    m = make_method("ours", 2, 3, OURS, seed=0).double()
    s = m.sample_posterior(torch.eye(3), 7)
    assert s.shape == (3, 7, 2)
    assert m.predict(torch.randn(9, 2)).shape == (9, 3)


def test_ours_rejects_bad_dims():
    with pytest.raises(ValueError, match="dim"):
        make_method("ours", 2, 8, dict(OURS, dim=8))


def test_pad_per_iteration_shares_noise():
    m = make_method("ours", 2, 3, dict(OURS, pad_noise=0.05, pad_resample="per_iteration"))
    p = m.pad(torch.zeros(6, 2))
    assert torch.equal(p[0, 2:], p[5, 2:]) and p[0, 2:].abs().sum() > 0
    m2 = make_method("ours", 2, 3, dict(OURS, pad_noise=0.05))
    p2 = m2.pad(torch.zeros(6, 2))
    assert not torch.equal(p2[0, 2:], p2[5, 2:])
