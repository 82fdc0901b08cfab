"""The simulation tasks of Kruse et al. (2021): forward models, the rejection-ABC reference, the
re-simulation error, mmd_kruse, calibration, config checks and the pipeline around them."""
import math

import numpy as np
import pytest

from flowbench import metrics as M
from flowbench.config import ConfigError, validate_config
from flowbench.io import write_npz
from flowbench.tasks import make_task
from flowbench.tasks.arm import ArmTask, end_effector, joints
from flowbench.tasks.ballistics import (
    BallisticsTask,
    landing_time,
    landing_x,
    landing_x_grid,
    peak_time,
    to_physical,
    to_task,
    trajectory,
)
from flowbench.tasks.inverse import StaleReference


def small(kind, **kw):
    ref = {"pool": kw.pop("pool", 60_000), "keep": kw.pop("keep", 200), "chunk": kw.pop("chunk", 1_000_000)}
    return make_task({"kind": kind, "n_obs": kw.pop("n_obs", 2), "n_eval": kw.pop("n_eval", 100),
                      "n_test": 100, "reference": ref, "calibration": {"n_obs": 40, "n_samples": 30}, **kw})


def built(kind, tmp_path, **kw):
    t = small(kind, **kw)
    f = tmp_path / f"{kind}_reference.npz"
    write_npz(f, **t.build_reference())
    t.attach_reference(f)
    return t


# --- forward models ----------------------------------------------------------------------------
def test_arm_forward_by_hand():
    x = np.array([[0.3, 0.0, 0.0, 0.0],                    # stretched out: y = (2.0, x1)
                  [-0.2, math.pi / 2, 0.0, 0.0],           # straight up from the rail
                  [0.0, 0.0, math.pi / 2, 0.0],            # first segment flat, the rest up
                  [0.1, 0.0, math.pi / 2, -math.pi / 2]])  # flat, up, flat again
    want = np.array([[2.0, 0.3], [0.0, 1.8], [0.5, 1.5], [1.5, 0.6]])
    np.testing.assert_allclose(end_effector(x), want, atol=1e-12)
    pts = joints(x)
    assert pts.shape == (4, 4, 2)
    np.testing.assert_allclose(pts[:, 0], np.stack([np.zeros(4), x[:, 0]], 1))
    np.testing.assert_allclose(pts[:, -1], want, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(np.diff(pts, axis=1), axis=2), [[0.5, 0.5, 1.0]] * 4)


def test_arm_prior_observations_and_ystar():
    t = ArmTask(n_obs=3)
    ids, ys = t.evaluation_conditions()
    assert ids == ["0", "1", "2", "ystar"] and ys.shape == (4, 2)
    np.testing.assert_allclose(ys[-1], [1.5, 0.0])
    x, y = t.sample(100_000, np.random.default_rng(0))
    np.testing.assert_allclose(x.std(0), [0.25, 0.5, 0.5, 0.5], rtol=0.02)
    np.testing.assert_allclose(y, end_effector(x), atol=1e-5)
    assert ArmTask(n_obs=3, ystar=False).evaluation_conditions()[0] == ["0", "1", "2"]


def test_landing_time_is_the_root_after_the_peak():
    rng = np.random.default_rng(1)
    p = BallisticsTask().prior_physical(20_000, rng)
    p[:, 3] = np.floor(p[:, 3])
    vy = p[:, 3] * np.sin(p[:, 2])
    t = landing_time(p[:, 1], vy)
    _, height = trajectory(p[:, 0], p[:, 1], p[:, 2], p[:, 3], t)
    assert np.abs(height).max() < 1e-9
    assert np.all(t >= peak_time(vy)) and np.all(t > 0)
    # just before the landing the projectile is above ground, just after below
    _, before = trajectory(p[:, 0], p[:, 1], p[:, 2], p[:, 3], t - 1e-6)
    _, after = trajectory(p[:, 0], p[:, 1], p[:, 2], p[:, 3], t + 1e-6)
    assert np.all(before[p[:, 1] > 0] > 0) and np.all(after < 0)


def test_ballistics_by_hand_and_against_the_grid():
    # speed 0: it drops from (x1, x2) and lands at x1, when x2 = (m / k^2)(g m E(t) + g t k)
    p = np.array([[0.7, 1.5, 0.5, 0.0], [-0.3, 0.0, 0.9, 0.0]])
    np.testing.assert_allclose(landing_x(p), [0.7, -0.3], atol=1e-12)
    # no drag limit check: a short, fast shot lands close to the drag-free range
    rng = np.random.default_rng(2)
    q = BallisticsTask().prior_physical(5000, rng)
    q[:, 3] = np.floor(q[:, 3])
    y, yg = landing_x(q), landing_x_grid(q)
    assert np.all(np.isfinite(yg))
    d = yg - y   # the grid takes the last time before the landing: short by at most one step
    vx = q[:, 3] * np.cos(q[:, 2])
    assert np.all(d <= 1e-12) and np.all(-d <= vx * 6 / 1499 + 1e-12)
    assert abs(d.mean()) < 0.01


def test_ballistics_dequantised_speed():
    t = BallisticsTask()
    xs = np.repeat(to_physical(np.zeros((1, 4))), 3, axis=0)
    xs[:, 3] = [15.0, 15.99, 16.0]
    y = t.forward(to_task(xs))
    assert y[0, 0] == y[1, 0] != y[2, 0]       # y depends on floor(s) only
    x, _ = t.sample(200_000, np.random.default_rng(3))
    s = to_physical(x)[:, 3]
    frac = s - np.floor(s)
    assert abs(frac.mean() - 0.5) < 0.01 and abs(np.floor(s).mean() - 15) < 0.05
    np.testing.assert_allclose(x.mean(0), 0, atol=0.02)
    np.testing.assert_allclose(x.std(0), 1, atol=0.02)


# --- the rejection-ABC reference ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["arm", "ballistics"])
def test_reference_is_the_nearest_draws_and_within_its_radius(kind, tmp_path):
    t = built(kind, tmp_path)
    r = t.reference
    ids, ys = t.evaluation_conditions()
    assert r["x"].shape == (len(ids), 200, 4) and r["x_small"].shape == r["x"].shape
    pool = t._pool(0, t.pool)
    for k in range(len(ids)):
        d = t.distance(t.forward(r["x"][k]), ys[k].astype(np.float64))
        np.testing.assert_allclose(d, r["dist"][k], rtol=1e-9, atol=1e-12)
        assert d.max() <= r["radius"][k] + 1e-12
        assert r["resim_error"][k] == pytest.approx(d.mean())
        # nothing in the pool outside the kept set is nearer than the radius
        dp = t.distance(t.forward(pool), ys[k].astype(np.float64))
        assert np.sum(dp <= r["radius"][k]) == 200
        assert r["radius_small"][k] >= r["radius"][k]
        assert np.sum(dp[: t.pool // 10] <= r["radius_small"][k]) == 200
    rec = t.record()["reference"]
    assert rec["keep"] == 200 and set(rec["per_condition"]) == set(ids)
    assert rec["w2_split_floor_mean"] > 0 and rec["w2_full_vs_small_pool_mean"] > 0


def test_reference_is_deterministic_and_chunk_free():
    one = small("arm", chunk=1_000_000).build_reference(quality=False)
    again = small("arm", chunk=1_000_000).build_reference(quality=False)
    chunked = small("arm", chunk=10_000).build_reference(quality=False)
    for key in ("x", "dist", "radius", "x_small", "dist_small"):
        np.testing.assert_array_equal(one[key], again[key])
        np.testing.assert_array_equal(one[key], chunked[key])
    other_seed = make_task({"kind": "arm", "n_obs": 2, "n_eval": 100,
                            "reference": {"pool": 60_000, "keep": 200, "seed": 1}}).build_reference(quality=False)
    assert not np.array_equal(one["x"], other_seed["x"])


def test_reference_posterior_fixed_and_disjoint_floor_draws(tmp_path):
    t = built("ballistics", tmp_path)
    np.testing.assert_array_equal(t.reference_posterior(1, 50), t.reference["x"][1][:50].astype(np.float32))
    rng = np.random.default_rng(0)
    a, b = t.reference_posterior(1, 100, rng), t.reference_posterior(1, 100, rng)
    rows = {tuple(v) for v in t.reference["x"][1].astype(np.float32)}
    assert {tuple(v) for v in a} <= rows and {tuple(v) for v in b} <= rows
    assert not ({tuple(v) for v in a} & {tuple(v) for v in b})
    # the same seed gives the same pair (the floor is reproducible)
    rng2 = np.random.default_rng(0)
    np.testing.assert_array_equal(a, t.reference_posterior(1, 100, rng2))
    with pytest.raises(ValueError, match="keeps 200"):
        t.reference_posterior(0, 201)


def test_missing_or_stale_reference_refused(tmp_path):
    t = small("arm")
    with pytest.raises(StaleReference, match="none is attached"):
        t.reference_posterior(0, 10)
    t.attach_reference(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="reference_task"):
        t.reference_posterior(0, 10)
    f = tmp_path / "ref.npz"
    write_npz(f, **small("arm").build_reference(quality=False))
    other = small("arm", n_obs=3)
    other.attach_reference(f)
    with pytest.raises(StaleReference, match="condition_ids"):
        other.reference_posterior(0, 10)
    with pytest.raises(TypeError, match="exact reference"):
        make_task({"kind": "gaussian_linear", "dim": 2, "prior_var": 0.1, "noise_var": 0.1, "n_obs": 2},
                  reference=f)


def test_resimulation_error(tmp_path):
    t = built("arm", tmp_path)
    ids, _ = t.evaluation_conditions()
    prior = t.prior_sample(100, np.random.default_rng(0))
    for k in range(len(ids)):
        ref = t.reference_posterior(k, 100)
        got = t.posterior_extra_metrics(k, ref, ref)["resim_error"]
        assert got <= t.reference["radius"][k] + 1e-6
        assert t.posterior_extra_metrics(k, prior, ref)["resim_error"] > 5 * got


# --- metrics -----------------------------------------------------------------------------------
def test_mmd_kruse_zero_for_identical_and_grows_with_a_shift():
    x = np.random.default_rng(0).standard_normal((300, 3))
    assert M.mmd_kruse(x, x) == 0.0
    assert M.POSTERIOR_METRICS["mmd_kruse"] is M.mmd_kruse
    vals = [M.mmd_kruse(x, x + s) for s in (0.05, 0.2, 0.5, 1.0)]
    assert all(v > 0 for v in vals) and vals == sorted(vals)
    # the kernel at distance 0 is sum_a a^a (Kruse et al.'s C^a (C / a)^-a)
    one, far = np.zeros((2, 1)), np.full((2, 1), 10.0)
    k0 = sum(a ** a for _, a in M.KRUSE_KERNELS)
    k100 = sum(c ** a * ((c + 100.0) / a) ** -a for c, a in M.KRUSE_KERNELS)
    assert M.mmd_kruse(one, far) == pytest.approx(2 * (k0 - k100), rel=1e-9)
    with pytest.raises(M.MetricInputError):
        M.mmd_kruse(np.full((3, 2), np.nan), x[:, :2])


def _gaussian_linear_calibration(scale: float, m: int = 400, s: int = 200):
    t = make_task({"kind": "gaussian_linear", "dim": 3, "prior_var": 0.1, "noise_var": 0.1, "n_obs": 1})
    rng = np.random.default_rng(5)
    x, y = t.sample(m, rng)
    mean = t.posterior_mean(y)
    draws = mean[:, None, :] + scale * math.sqrt(t.posterior_var) * rng.standard_normal((m, s, 3))
    return M.coverage(draws, x), M.calibration_rows(draws, x), m, s


def test_coverage_of_the_exact_sampler_is_within_its_binomial_band():
    cov, rows, m, s = _gaussian_linear_calibration(1.0)
    lev = np.asarray(M.COVERAGE_LEVELS)
    assert cov.shape == (len(lev), 3)
    band = 4 * np.sqrt(lev * (1 - lev) / m)[:, None] + 1 / (s + 1)
    assert np.all(np.abs(cov - lev[:, None]) <= band)
    assert rows["calibration_error"] < 0.03
    assert rows["coverage_0.50"] == pytest.approx(0.5, abs=0.06)
    assert set(rows) == {f"coverage_{a:.2f}" for a in lev} | {"calibration_error"} | {
        f"calibration_error_x{j}" for j in (1, 2, 3)} | {"tarp_error", "tarp_atc"}
    assert rows["tarp_error"] < 0.05          # the exact sampler is calibrated jointly too


def test_coverage_of_a_too_narrow_sampler_fails():
    cov, rows, m, _ = _gaussian_linear_calibration(0.5)
    lev = np.asarray(M.COVERAGE_LEVELS)
    band = 4 * np.sqrt(lev * (1 - lev) / m)[:, None]
    assert np.any(lev[:, None] - cov > band)           # over-confident: below the diagonal
    assert rows["calibration_error"] > 0.1
    assert rows["coverage_0.90"] < 0.7                 # a 2x too narrow interval covers ~59%


def test_calibration_rows_leave_out_nonfinite_draws():
    _, rows, _, _ = _gaussian_linear_calibration(1.0, m=50, s=20)
    assert "calibration_nonfinite_fraction" not in rows
    draws = np.zeros((4, 5, 2))
    draws[0, 0, 0] = np.nan
    out = M.calibration_rows(draws, np.zeros((4, 2)))
    assert out["calibration_nonfinite_fraction"] == 0.25 and "calibration_error" in out


# --- config ------------------------------------------------------------------------------------
@pytest.fixture
def smoke_config(smoke_config):
    """The smoke config plus a tiny `ballistics` task: the smoke workflow runs `arm` only (ballistics
    goes through the same rules), these tests cover both kinds."""
    import copy
    cfg = copy.deepcopy(smoke_config)
    cfg["tasks"].setdefault("ballistics", {
        "kind": "ballistics", "n_obs": 2, "n_test": 200, "n_eval": 100,
        "reference": {"pool": 100000, "keep": 200, "chunk": 50000},
        "calibration": {"n_obs": 50, "n_samples": 50}, "metrics": ["w2", "sliced_w2", "mmd", "mmd_kruse"],
        "train": {"iterations": 20, "batch_size": 128, "log_every": 5},
        "runs": [{"method": "ours", "variants": ["inverse"], "seeds": [0]},
                 {"method": "inn", "variants": ["inverse"], "seeds": [0]},
                 {"method": "cinn", "variants": ["inverse"], "seeds": [0]}]})
    return cfg


@pytest.mark.parametrize("name", ["arm", "ballistics"])
def test_bad_simulation_configs_refused(smoke_config, name):
    import copy
    validate_config(copy.deepcopy(smoke_config))
    cases = [
        (lambda t: t["reference"].update(keep=150), r"reference.keep.*n_eval' = 100.*need .*>= 200"),
        (lambda t: t["reference"].update(pool=1000, keep=200), r"reference.pool.*10x-smaller-pool.*need pool >= 2000"),
        (lambda t: t["reference"].update(pools=3), r"unknown key.*pools.*reference"),
        (lambda t: t["calibration"].update(n_samples=1), r"calibration.n_samples"),
        (lambda t: t.update(metrics=["w3"]), r"metrics"),
        (lambda t: t.update(modes={"std": 0.2}), r"modes"),
    ]
    if name == "arm":   # it probes during training: the probe's size needs two disjoint draws too
        cases.append((lambda t: t["train"].update(probe_n=150), r"reference.keep.*probe_n' = 150"))
    for change, msg in cases:
        cfg = copy.deepcopy(smoke_config)
        change(cfg["tasks"][name])
        with pytest.raises(ConfigError, match=msg):
            validate_config(cfg)
    cfg = copy.deepcopy(smoke_config)
    cfg["methods"]["cinn"]["variants"]["inverse"]["dim"] = 3
    with pytest.raises(ConfigError, match="cinn needs dim >= 4"):
        validate_config(cfg)


def test_reference_identity(smoke_config):
    import copy

    from flowbench.identity import (
        evaluate_digest,
        floor_digest,
        reference_digest,
        train_digest,
    )
    cfg = validate_config(copy.deepcopy(smoke_config))
    base = {reference_digest(cfg, "arm")}
    for change, moves in [(lambda t: t["reference"].update(chunk=20_000), False),
                          (lambda t: t["train"].update(iterations=7), False),
                          (lambda t: t.update(n_eval=90), False),
                          (lambda t: t["calibration"].update(n_obs=20), False),
                          (lambda t: t["reference"].update(pool=120_000), True),
                          (lambda t: t.update(n_obs=3), True)]:
        c = copy.deepcopy(cfg)
        change(c["tasks"]["arm"])
        assert (reference_digest(c, "arm") not in base) == moves
    # the reference counts for training only where the run probes (arm: yes; ballistics: no)
    for task, probes in (("arm", True), ("ballistics", False)):
        c = copy.deepcopy(cfg)
        c["tasks"][task]["reference"]["pool"] = 120_000
        assert (train_digest(c, task, "ours", "inverse", 0) != train_digest(cfg, task, "ours", "inverse", 0)) == probes
        assert evaluate_digest(c, task) != evaluate_digest(cfg, task)
        assert floor_digest(c, task) != floor_digest(cfg, task)


# --- the pipeline around them ------------------------------------------------------------------
def test_simulation_task_through_the_pipeline(smoke_config, tmp_path, monkeypatch):
    """Reference, training with the probe, calibration samples beside the posterior samples, tidy
    rows (resim_error, mmd_kruse, coverage), the floor from disjoint reference draws, task.json
    and the task's figures; the reference found where the workflow puts it."""
    import copy

    from flowbench.pipeline import (
        build_reference,
        evaluate_run,
        noise_floor,
        run_train,
        task_record,
    )
    from flowbench.plots import draw_figure
    from flowbench.tasks import reference_path
    monkeypatch.chdir(tmp_path)
    cfg = validate_config(copy.deepcopy(smoke_config))
    cfg["tasks"]["arm"]["train"].update(iterations=3, probe_every=2)
    cfg["methods"]["ours"]["base"].update(width=16, blocks=1)
    ref = reference_path(cfg, "arm")
    task_dir = ref.parent
    q = build_reference(cfg, "arm", ref)
    assert q["keep"] == 200 and q["radius_max"] > 0 and str(ref) == "results/smoke/arm/reference.npz"
    rundir = task_dir / "ours" / "inverse" / "seed0"
    info = run_train(cfg, "arm", "ours", "inverse", 0, rundir, "cpu", log=lambda m: None)
    assert info["calibration_seconds"] >= 0 and info["steps_done"] == 3
    post = np.load(rundir / "posterior_samples.npz")
    assert post["samples"].shape == (3, 100, 4)
    assert post["calibration_samples"].shape == (50, 50, 4) and post["calibration_x"].shape == (50, 4)
    rows = evaluate_run(cfg, "arm", "ours", "inverse", 0, rundir)
    by = {(r["metric"], r["condition"]): r["value"] for r in rows}
    for cid in ("0", "1", "ystar"):
        assert {("w2", cid), ("mmd_kruse", cid), ("resim_error", cid)} <= set(by)
    assert ("coverage_0.50", "") in by and 0 <= by[("calibration_error", "")] <= 1
    assert ("y_rmse", "") in by and ("probe_count", "") in by
    floor = noise_floor(cfg, "arm", 2)
    assert set(floor.metric) == {"w2", "sliced_w2", "mmd", "mmd_kruse", "resim_error"}
    assert set(floor.n) == {50, 100}
    rec = task_record(cfg, "arm")
    assert rec["reference"]["keep"] == 200 and rec["calibration"]["n_obs"] == 50
    assert "resim_error" in rec["summary_metrics"]
    for name in ("arm_configurations", "calibration_curves"):
        out = draw_figure(cfg, "arm", name, task_dir, tmp_path / f"{name}.png")
        assert out.stat().st_size > 5000


def test_ballistics_figures_render(smoke_config, tmp_path):
    import copy

    from flowbench.plots import draw_figure
    cfg = validate_config(copy.deepcopy(smoke_config))
    task_dir = tmp_path / "ballistics"
    task_dir.mkdir()
    write_npz(task_dir / "reference.npz", **make_task(cfg["tasks"]["ballistics"]).build_reference(quality=False))
    run = task_dir / "ours" / "inverse" / "seed0"
    t = make_task(cfg["tasks"]["ballistics"], reference=task_dir / "reference.npz")
    ids, conds = t.evaluation_conditions()
    samples = np.stack([t.reference_posterior(k, 100) for k in range(len(ids))])
    cal_x, cal_y, n = t.calibration_set()
    cal = np.repeat(cal_x[:, None], n, axis=1) + 0.3 * np.random.default_rng(0).standard_normal((len(cal_x), n, 4))
    write_npz(run / "posterior_samples.npz", condition_ids=np.asarray(ids), conditions=conds, samples=samples,
              calibration_x=cal_x, calibration_conditions=cal_y, calibration_samples=cal.astype(np.float32))
    for name in ("trajectories", "calibration_curves"):
        assert draw_figure(cfg, "ballistics", name, task_dir, tmp_path / f"{name}.png").stat().st_size > 5000
    assert BallisticsTask.figure_names()[:2] == ("trajectories", "calibration_curves")


def test_hpd_shares_of_a_flow_rank_its_own_draws_uniformly_and_match_a_direct_count():
    """A truth drawn from the model itself lies in the model's HPD region of credibility a with
    probability a, trained or not, so the coverage of an untrained spline flow is calibrated when
    the truths are its own draws; each share equals the count taken one observation at a time."""
    import torch
    from flowbench.methods import make_method
    from flowbench.pipeline import hpd_shares
    torch.manual_seed(0)
    model = make_method("nsf", 2, 3, {"hidden_features": [16, 16], "transforms": 2}, seed=0,
                        conditions="continuous")
    assert model.exact_density
    y = np.random.default_rng(0).standard_normal((300, 3)).astype(np.float32)
    with torch.no_grad():
        draws = model.sample_posterior(torch.from_numpy(y), 101).numpy()
    truth, samples = draws[:, 0], draws[:, 1:]
    f = hpd_shares(model, truth, y, samples, "cpu", rows=1000)   # several chunks
    with torch.no_grad():
        k = 7
        lq = model.log_prob(torch.from_numpy(np.concatenate([truth[k:k + 1], samples[k]])),
                            torch.from_numpy(np.repeat(y[k:k + 1], 101, axis=0))).numpy()
    assert f[k] == pytest.approx((lq[1:] > lq[0]).mean())
    rows = M.hpd_rows(f)
    assert rows["hpd_error"] < 0.06


def test_only_a_density_on_x_itself_counts_as_exact():
    from flowbench.methods import make_method
    flow = {"blocks": 2, "subnet_layers": 2, "width": 8, "clamp": 2.0}
    assert make_method("cinn", 2, 2, {**flow, "dim": 2}, conditions="continuous").exact_density
    assert not make_method("cinn", 2, 2, {**flow, "dim": 4}, conditions="continuous").exact_density
    assert not make_method("cvae", 2, 2, {}, conditions="continuous").exact_density
