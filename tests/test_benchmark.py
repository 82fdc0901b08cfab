import pytest

from flowbench.benchmark import matmul_fraction, step_costs
from flowbench.methods import make_method
from flowbench.tasks import make_task

TASK = {"kind": "gmm", "modes": {"std": 0.2, "n": 8, "radius": 2.6131}, "labels": "all"}
OURS = dict(dim=10, blocks=1, subnet_layers=2, width=16, clamp=2.0, eps=0.1, pad_noise=0.05)


def test_step_costs_rows():
    # one measurement (each is a fresh process, ~4 s of start-up): the row and its fields
    rows = step_costs(TASK, {"ours": ("ours", OURS)}, [16], n_warmup=0, n_steps=1, log=lambda m: None)
    assert [(r["method"], r["batch_size"]) for r in rows] == [("ours", 16)]
    assert all(r["seconds_per_iteration"] > 0 and r["peak_mem_mb"] >= 0 for r in rows)


def test_step_matmuls_are_every_layers_forward_and_backward():
    """ours, one block of two 2-layer couplings: each Linear's forward (addmm), its weight gradient
    (dY^T X) and its input gradient (dY W), except the input gradient of each coupling's first
    layer where its input (a slice of the data) needs none: 4 + 4 + 2 = 10... and the first
    coupling's output feeds the second, so its first layer's input gradient is needed: 11."""
    import numpy as np
    import torch

    from flowbench.benchmark import _build, _flops, step_matmuls
    task = make_task(TASK)
    m = _build(task, "ours", OURS, 0, torch.device("cpu"))
    mms = step_matmuls(m, m.make_optimizer(), task, 64, np.random.default_rng(0), torch.device("cpu"))
    fwd = sorted(sh[1:] for op, sh in mms if op == "aten::addmm")
    assert fwd == sorted([((64, 5), (5, 16)), ((64, 16), (16, 10))] * 2)
    weight_grads = sorted(sh for op, sh in mms if op == "aten::mm" and sh[0][1] == 64)
    assert weight_grads == sorted([((10, 64), (64, 16)), ((16, 64), (64, 5))] * 2)
    assert len(mms) == 11
    assert _flops("aten::addmm", ((16,), (64, 5), (5, 16))) == 2 * 64 * 5 * 16
    assert _flops("aten::bmm", ((3, 4, 5), (3, 5, 6))) == 2 * 3 * 4 * 5 * 6


@pytest.mark.parametrize("kind,variant", [("ours", "paper"), ("inn", "full"), ("cfm", "default")])
def test_matmul_fraction_is_a_fraction_for_every_kind_of_loss(smoke_config, kind, variant):
    from flowbench.config import method_params
    params = method_params(smoke_config, kind, variant)
    import math
    r = matmul_fraction(make_task(TASK), kind, params, 64, n_steps=1)
    assert r["method"] == kind and r["matmuls_per_step"] > 0 and r["flops_per_step"] > 0
    # a ratio of two timings on a shared machine: its size is the benchmark's to measure, not a
    # test's; the shapes it replays are tested above
    assert r["fraction"] > 0 and math.isfinite(r["fraction"]) and r["step_seconds"] > 0


def test_metric_precision_floor_shrinks_with_n():
    import numpy as np
    import pytest

    from flowbench.benchmark import PRECISION_COLUMNS, metric_precision, precision_summary
    task = make_task(TASK)
    rows = metric_precision(task, ["w2", "mmd"], [40, 640], repeats=2, labels=(0, 5))
    assert len(rows) == 2 * 2 * 2 * 2 and set(rows[0]) == set(PRECISION_COLUMNS)
    s = precision_summary(rows).set_index(["metric", "n"])
    assert list(s.columns) == ["floor_mean", "floor_sd", "seconds"]
    # two exact samples of one posterior: W2 > 0 but shrinking with n (~n^-1/2 in 2-d); MMD ~ 1/n
    assert 0 < s.loc[("w2", 640), "floor_mean"] < 0.6 * s.loc[("w2", 40), "floor_mean"]
    assert s.loc[("mmd", 640), "floor_mean"] < s.loc[("mmd", 40), "floor_mean"]
    assert np.isfinite(s["floor_sd"]).all() and (s["seconds"] >= 0).all()
    with pytest.raises(ValueError, match="unknown metric 'w3'"):
        metric_precision(task, ["w3"], [40])
    with pytest.raises(ValueError, match=r"labels \[8\] out of range"):
        metric_precision(task, ["w2"], [40], labels=(8,))


def test_op_profile_groups_and_shares():
    import math

    from flowbench.benchmark import PROFILE_COLUMNS, op_profile
    rows = op_profile(make_task(TASK), "ours", OURS, 64, n_steps=1)
    assert all(set(r) == set(PROFILE_COLUMNS) for r in rows)
    shares = {r["group"]: r["share"] for r in rows if not math.isnan(r["share"])}
    assert "matmul" in shares and "element-wise/reduction" in shares
    assert abs(sum(shares.values()) - 1.0) < 1e-9 and all(0 <= s <= 1 for s in shares.values())
    assert rows[-1]["group"] == "wall (profiled step)" and rows[-1]["self_seconds_per_step"] > 0
