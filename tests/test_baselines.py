import numpy as np
import pytest
import torch

from flowbench.methods import inn as inn_module
from flowbench.methods.inn import imq_kernel_mean, mmd_multiscale, mmd_multiscale_fused
from flowbench.methods.schedules import ramp_weight
from flowbench.methods import make_method

INN = dict(dim=10, blocks=2, subnet_layers=2, width=16, clamp=2.0, init_scale=None, y_noise=0.1,
           pad_noise=0.05, weights=dict(y=3.0, z=300.0, x=400.0, rec=3.0),
           ramp=dict(kind="exp", speed=1.0, base=0.002, iters_per_epoch=8),
           mmd_widths=[0.05, 0.2, 0.9], lr=1e-3)
CINN = dict(dim=2, blocks=2, subnet_layers=2, width=16, clamp=2.0, init_scale=None, lr=1e-3)


def test_mmd_zero_for_identical_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 3, generator=g)
    assert float(mmd_multiscale(a, a)) == pytest.approx(0.0, abs=1e-7)
    vals = [float(mmd_multiscale(a, a + s)) for s in (0.05, 0.2, 1.0, 3.0)]
    assert all(v2 > v1 for v1, v2 in zip(vals, vals[1:]))


def test_mmd_is_v_statistic_by_hand():
    a = torch.tensor([[0.0], [1.0]])
    b = torch.tensor([[2.0]])
    w = 0.5
    k = lambda d2: w * w / (w * w + d2)  # noqa: E731
    kaa = (k(0) * 2 + k(1) * 2) / 4
    kbb = k(0)
    kab = (k(4) + k(1)) / 2
    assert float(mmd_multiscale(a, b, (w,))) == pytest.approx(kaa + kbb - 2 * kab)


@pytest.mark.parametrize("b_grad", [False, True])
@pytest.mark.parametrize("d,widths", [(2, (0.05, 0.2, 0.9)), (10, (0.05, 0.2, 0.9)), (3, (0.5,))])
def test_fused_mmd_equals_reference_value_and_gradients(d, widths, b_grad):
    """mmd_multiscale_fused: the value and both gradients of mmd_multiscale (float64: to 1e-10)."""
    g = torch.Generator().manual_seed(d)
    a0 = torch.randn(150, d, generator=g, dtype=torch.float64) * 0.3
    b0 = torch.randn(120, d, generator=g, dtype=torch.float64) * 0.3 + 0.1
    out = []
    for fn in (mmd_multiscale, mmd_multiscale_fused):
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_(b_grad)
        v = fn(a, b, widths)
        (3.0 * v).backward()
        out.append((float(v.detach()), a.grad, b.grad))
    (v_ref, ga_ref, gb_ref), (v, ga, gb) = out
    assert v == pytest.approx(v_ref, rel=1e-10, abs=1e-14)
    assert torch.allclose(ga, ga_ref, rtol=1e-8, atol=1e-12) and ga_ref.abs().max() > 0
    if b_grad:
        assert torch.allclose(gb, gb_ref, rtol=1e-8, atol=1e-12) and gb_ref.abs().max() > 0
    else:
        assert gb is None and gb_ref is None


@pytest.mark.parametrize("d,widths", [(2, (0.05, 0.2, 0.9)), (10, (0.05, 0.2, 0.9))])
def test_batchable_mmd_under_vmap_equals_the_fused_one_per_member(d, widths):
    """mmd_multiscale_batchable, batched over 3 members by torch.func.vmap of grad (the ensemble
    trainer's use): each member's value and gradient in a are the fused MMD's (float64: to 1e-10)."""
    g = torch.Generator().manual_seed(d)
    a = torch.randn(3, 150, d, generator=g, dtype=torch.float64) * 0.3
    b = torch.randn(3, 120, d, generator=g, dtype=torch.float64) * 0.3 + 0.1

    def one(ak, bk):
        v = inn_module.mmd_multiscale_batchable(ak, bk, widths)
        return v, v.detach()
    grads, values = torch.func.vmap(torch.func.grad(one, has_aux=True))(a, b)
    for k in range(3):
        ak = a[k].clone().requires_grad_()
        v = mmd_multiscale_fused(ak, b[k], widths)
        v.backward()
        assert float(values[k]) == pytest.approx(float(v), rel=1e-10)
        assert torch.allclose(grads[k], ak.grad, rtol=1e-8, atol=1e-12) and ak.grad.abs().max() > 0


def test_imq_kernel_mean_by_hand():
    a = torch.tensor([[0.0], [1.0]])
    b = torch.tensor([[2.0]])
    w = 0.5
    k = lambda d2: w * w / (w * w + d2)  # noqa: E731
    assert float(imq_kernel_mean(a, a, (w,), same=True)) == pytest.approx((k(0) * 2 + k(1) * 2) / 4)
    assert float(imq_kernel_mean(a, b, (w,))) == pytest.approx((k(4) + k(1)) / 2)


@pytest.mark.parametrize("variant", [{}, {"weights": dict(y=3.0, z=300.0, x=0.0, rec=0.0)}])
def test_inn_loss_gradients_equal_reference_mmd(monkeypatch, variant):
    """FourLossINN.loss with the fused MMD: the loss, its logged parts and the gradient of every
    parameter equal those of the same step with the reference mmd_multiscale (same seeds; float64)."""
    torch.set_default_dtype(torch.float64)
    try:
        g = torch.Generator().manual_seed(1)
        x = torch.randn(96, 2, generator=g)
        y = torch.eye(8)[torch.randint(0, 8, (96,), generator=g)]
        results = []
        for fn in (inn_module.mmd_multiscale_fused, inn_module.mmd_multiscale):
            monkeypatch.setattr(inn_module, "mmd_multiscale_fused", fn)
            m = make_method("inn", 2, 8, dict(INN, **variant), total_steps=400, seed=3)
            torch.manual_seed(5)
            loss, parts = m.loss(x, y, 399)
            loss.backward()
            results.append((float(loss), parts, {k: p.grad.clone() for k, p in m.named_parameters()}))
        (l_new, parts_new, g_new), (l_ref, parts_ref, g_ref) = results
        assert l_new == pytest.approx(l_ref, rel=1e-10)
        assert parts_new.keys() == parts_ref.keys()
        for k in parts_ref:
            assert parts_new[k] == pytest.approx(parts_ref[k], rel=1e-9, abs=1e-15), k
        assert g_new.keys() == g_ref.keys() and len(g_ref) > 0
        for k in g_ref:
            assert torch.allclose(g_new[k], g_ref[k], rtol=1e-7, atol=1e-12), k
    finally:
        torch.set_default_dtype(torch.float32)


def test_fused_mmd_float32_gradient_close_to_reference_at_batch_1600():
    """At the recipe's batch (1,600 points, the INN's 10-d L_z) in float32, the fused MMD's gradient
    is as close to the float64 gradient as the reference implementation's."""
    g = torch.Generator().manual_seed(0)
    a0, b = torch.randn(1600, 10, generator=g), torch.randn(1600, 10, generator=g) * 1.1
    a = a0.double().requires_grad_()
    mmd_multiscale(a, b.double()).backward()
    exact = a.grad
    errs = []
    for fn in (mmd_multiscale, mmd_multiscale_fused):
        a = a0.clone().requires_grad_()
        fn(a, b).backward()
        errs.append(float((a.grad.double() - exact).norm() / exact.norm()))
    assert errs[1] <= max(errs[0], 1e-5)


@pytest.mark.parametrize("epoch,expected", [(0, 0.004), (20, 0.048), (30, 0.167), (40, 0.577), (45, 1.0), (49, 1.0)])
def test_original_ramp_values(epoch, expected):
    assert ramp_weight("exp", epoch * 8, 400, 8) == pytest.approx(expected, abs=1e-3)


def test_ramp_constant_within_epoch_and_variants():
    assert ramp_weight("exp", 160, 400, 8) == ramp_weight("exp", 167, 400, 8)
    assert ramp_weight("exp", 160, 400, 8, speed=2.0) > ramp_weight("exp", 160, 400, 8)
    assert ramp_weight("exp", 392, 400, 8, speed=0.5) < 0.1
    assert ramp_weight("linear", 200, 400, 8) == pytest.approx(0.5)
    assert ramp_weight("constant", 0, 400) == 1.0
    assert ramp_weight("none", 399, 400) == 0.0


def test_unknown_schedule_refused():
    with pytest.raises(ValueError, match="allowed"):
        ramp_weight("cosine", 0, 400)


def test_inn_loss_parts_and_forward_only():
    torch.manual_seed(0)
    x, y = torch.randn(64, 2), torch.eye(8)[torch.randint(0, 8, (64,))]
    m = make_method("inn", 2, 8, INN, total_steps=400)
    loss, parts = m.loss(x, y, 399)
    assert torch.isfinite(loss) and {"L_y", "L_z", "L_x", "L_rec", "ramp"} <= set(parts)
    loss.backward()
    fo = make_method("inn", 2, 8, dict(INN, weights=dict(y=3.0, z=300.0, x=0.0, rec=0.0)), total_steps=400)
    _, parts = fo.loss(x, y, 399)
    assert "L_x" not in parts and "L_rec" not in parts
    assert m.sample_posterior(torch.eye(8), 5).shape == (8, 5, 2)
    assert m.predict(x).shape == (64, 8)


def test_inn_latent_loss_does_not_train_the_y_output():
    """L_z as built in FourLossINN.loss sees y_out detached: no gradient reaches the y outputs."""
    torch.manual_seed(0)
    m = make_method("inn", 2, 8, dict(INN, weights=dict(y=0.0, z=1.0, x=0.0, rec=0.0)), total_steps=400)
    x = torch.randn(32, 2)
    xp = m.pad(x)
    out, _ = m.flow(xp)
    out.retain_grad()
    z_out, y_out = out[:, :2], out[:, -8:]
    l = mmd_multiscale(torch.cat([z_out, y_out.detach()], 1), torch.randn(32, 10))
    l.backward()
    assert out.grad[:, -8:].abs().sum() == 0 and out.grad[:, :2].abs().sum() > 0


def test_cinn_log_prob_is_change_of_variables():
    torch.set_default_dtype(torch.float64)
    try:
        m = make_method("cinn", 2, 3, CINN, seed=0)
        x = torch.randn(4, 2)
        y = torch.eye(3)[[0, 1, 2, 1]]
        lp = m.log_prob(x, y)
        for i in range(4):
            f = lambda v: m.flow(v.unsqueeze(0), context=y[i:i + 1])[0].squeeze(0)  # noqa: E731
            z = f(x[i])
            J = torch.autograd.functional.jacobian(f, x[i])
            ref = -0.5 * (z ** 2).sum() - np.log(2 * np.pi) + torch.linalg.slogdet(J)[1]
            assert torch.allclose(lp[i], ref, atol=1e-8)
    finally:
        torch.set_default_dtype(torch.float32)


def test_cinn_bayes_rule_classifier_and_sampling():
    m = make_method("cinn", 2, 3, CINN, seed=0, label_prior=[0.5, 0.25, 0.25])
    x = torch.randn(10, 2)
    scores = m.predict(x)
    assert scores.shape == (10, 3)
    eye = torch.eye(3)
    for k in range(3):
        expect = m.log_prob(x, eye[k].expand(10, -1)) + np.log([0.5, 0.25, 0.25][k])
        assert torch.allclose(scores[:, k], expect, atol=1e-5)
    s = m.sample_posterior(eye, 6)
    assert s.shape == (3, 6, 2)
