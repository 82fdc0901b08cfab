"""Sample-based distances between a model's posterior samples and exact posterior samples.

Every function takes two sample arrays ``X [n, d]`` (model) and ``Y [m, d]`` (reference), refuses
non-finite input with a clear error, and returns a float.

- ``w2``: exact 2-Wasserstein distance between the empirical measures (POT's network simplex,
  ``ot.emd2`` on the squared-Euclidean cost, square-rooted). O(n^3 log n): 2,000 vs 2,000 samples
  takes about a second; that is the size the full config uses.
- ``sliced_w2``: sliced 2-Wasserstein (POT), ``n_projections`` random directions.
- ``mmd``: unbiased MMD^2 estimate with a Gaussian kernel; bandwidth by the median heuristic on
  the reference set unless given.
- ``c2st``: classifier two-sample test accuracy as in sbibm (Lueckmann et al. 2021): z-score with
  the reference's mean and std, MLP with two hidden layers of 10*dim units, k-fold CV, mean accuracy.
- ``mmd_kruse``: the MMD of Kruse et al. (2021, "Benchmarking Invertible Architectures on Inverse
  Problems", Sec. 4): biased estimate (V-statistic) of MMD^2 with the kernel
  k(d) = sum over (C, a) in {(0.2, 0.1), (0.2, 0.5), (0.2, 2)} of C^a ((C + d) / a)^(-a), d the
  squared distance.

Calibration (no reference needed): ``coverage`` and ``calibration_rows``, the expected coverage of
a sampler's central credible intervals over observations with known true x (simulation-based
calibration, Talts et al. 2018, "Validating Bayesian inference algorithms with simulation-based
calibration").
"""
from __future__ import annotations

import math

import numpy as np
import torch


class MetricInputError(ValueError):
    """A metric's input that cannot be scored; ``argument``: ``"samples"`` (the first, the
    sampler's draws) or ``"reference"`` (the second), when one of them is at fault."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


def _check(X, Y, name: str):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    for arr, which, verb in ((X, "samples (first argument)", "hold"), (Y, "reference (second argument)", "holds")):
        role = which.split()[0]
        if arr.ndim != 2 or arr.shape[0] < 2:
            raise MetricInputError(f"{name}: the {which} must have shape [n >= 2, d], got {arr.shape}", role)
        if not np.all(np.isfinite(arr)):
            bad = int((~np.isfinite(arr)).any(axis=1).sum())
            raise MetricInputError(f"{name}: the {which} {verb} {bad} of {len(arr)} rows with NaN or inf; "
                                   f"only finite draws can be scored", role)
    if X.shape[1] != Y.shape[1]:
        raise MetricInputError(f"{name}: dimensions differ ({X.shape[1]} vs {Y.shape[1]})")
    return X, Y


# POT's optional hooks into other libraries, none of which this module calls: scikit-learn's k-means
# (a low-rank Sinkhorn initialisation, quantized Gromov-Wasserstein) and networkx's graph
# partitions (quantized Gromov-Wasserstein). POT imports them eagerly when installed.
_POT_OPTIONAL = ("sklearn.cluster", "networkx")


def _pot():
    """POT (Flamary et al. 2021, JMLR 22(78)), imported on first use: a job that computes no W2 does
    not pay for it.

    POT supports installs without its optional dependencies (it catches their ImportError and turns
    those options off), so its first import here sees them as unavailable: that saves about a
    third of a second of every scoring job's start-up, for nothing this module calls (exact EMD,
    sliced W2). The entries are removed at once, and those libraries import normally afterwards;
    one a process had already imported is left as it is."""
    import sys
    if "ot" in sys.modules:
        return sys.modules["ot"]
    blocked = [m for m in _POT_OPTIONAL if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None   # makes `import m` raise ImportError
    try:
        import ot
    finally:
        for m in blocked:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]
    return ot


def w2(X, Y, num_itermax: int = 1_000_000) -> float:
    """Exact W2 between the empirical distributions of X and Y (uniform weights)."""
    ot = _pot()

    X, Y = _check(X, Y, "w2")
    M = ot.dist(X, Y)  # squared Euclidean
    cost = ot.emd2(ot.unif(len(X)), ot.unif(len(Y)), M, numItermax=num_itermax)
    return float(np.sqrt(max(cost, 0.0)))


def sliced_w2(X, Y, n_projections: int = 200, seed: int = 0) -> float:
    ot = _pot()

    X, Y = _check(X, Y, "sliced_w2")
    return float(ot.sliced_wasserstein_distance(X, Y, n_projections=n_projections, p=2, seed=seed))


def median_bandwidth(Y) -> float:
    Y = np.asarray(Y, dtype=np.float64)
    sub = Y[: min(len(Y), 1000)]
    d = np.sqrt(((sub[:, None] - sub[None]) ** 2).sum(-1))
    med = float(np.median(d[np.triu_indices(len(sub), 1)]))
    return med if med > 0 else 1.0


def mmd(X, Y, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 with k(a, b) = exp(-||a - b||^2 / (2 h^2)); h = median heuristic on Y."""
    X, Y = _check(X, Y, "mmd")
    h = median_bandwidth(Y) if bandwidth is None else float(bandwidth)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def k(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * h * h))

    n, m = len(X), len(Y)
    kxx, kyy, kxy = k(Xt, Xt), k(Yt, Yt), k(Xt, Yt)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


# C2ST trains its k fold classifiers as one batched model (stacked weights, torch.baddbmm) up to
# this dimension and one after another above it: the same networks, initialisation, loss and Adam
# updates either way, so the two differ only by float rounding. Measured (notes/bench_c2st.py,
# one thread, the two interleaved; README "Cost of the full run"): batched is faster at d = 2
# (the mixtures), no faster at d = 3-4 and slower at d = 6-10, where the folds' matrix products,
# not the per-step overhead, set the time.
C2ST_BATCHED_MAX_DIM = 2


def c2st(X, Y, seed: int = 0, n_folds: int = 5, epochs: int = 200, max_n: int = 2000,
         batched: bool | None = None) -> float:
    """Classifier two-sample test accuracy (0.5: indistinguishable, 1.0: separable).

    Uses at most ``max_n`` samples of each set. The MLP (two hidden layers of 10*dim ReLU units,
    Adam, full-batch) is trained per fold; the mean held-out accuracy is returned (sbibm's C2ST,
    Lueckmann et al. 2021, arXiv:2101.04653, Sec. 2). ``batched``: train the folds' networks as
    one stacked model (None: up to ``C2ST_BATCHED_MAX_DIM`` dimensions); each fold's network sees
    only its own loss, and Adam is elementwise, so this is the same computation as one network
    after another, in another summation order.
    """
    X, Y = _check(X, Y, "c2st")
    rng = np.random.default_rng(seed)
    X = X[rng.permutation(len(X))[:max_n]]
    Y = Y[rng.permutation(len(Y))[:max_n]]
    mu, sd = Y.mean(0), Y.std(0) + 1e-12
    data = np.concatenate([(X - mu) / sd, (Y - mu) / sd]).astype(np.float32)
    target = np.concatenate([np.zeros(len(X)), np.ones(len(Y))]).astype(np.float32)
    perm = rng.permutation(len(data))
    data, target = torch.from_numpy(data[perm]), torch.from_numpy(target[perm])
    folds = np.array_split(np.arange(len(data)), n_folds)
    d = data.shape[1]
    g = torch.Generator().manual_seed(seed)
    # each fold's initial parameters, drawn in the same order either way: the Linear layers'
    # (weight [out, in], bias [out]) of d -> 10d -> 10d -> 1, uniform(-1, 1) / sqrt(last dim)
    shapes = [(10 * d, d), (10 * d,), (10 * d, 10 * d), (10 * d,), (1, 10 * d), (1,)]
    inits = [[torch.empty(sh).uniform_(-1, 1, generator=g).mul_(1 / np.sqrt(max(sh[-1], 1)))
              for sh in shapes] for _ in folds]
    splits = [(torch.from_numpy(np.setdiff1d(np.arange(len(data)), f)), torch.from_numpy(f))
              for f in folds]
    if batched is None:
        batched = d <= C2ST_BATCHED_MAX_DIM
    run = _c2st_folds_batched if batched else _c2st_folds_loop
    logits = run(data, target, splits, inits, epochs)
    return float(np.mean([float(((lg > 0).float() == target[test]).float().mean())
                          for lg, (_, test) in zip(logits, splits)]))


def _c2st_folds_loop(data, target, splits, inits, epochs) -> list[torch.Tensor]:
    """Each fold's network trained on its own, one after another; the held-out rows' logits."""
    out = []
    for (train, test), init in zip(splits, inits):
        d = data.shape[1]
        net = torch.nn.Sequential(torch.nn.Linear(d, 10 * d), torch.nn.ReLU(),
                                  torch.nn.Linear(10 * d, 10 * d), torch.nn.ReLU(),
                                  torch.nn.Linear(10 * d, 1))
        with torch.no_grad():
            for p, v in zip(net.parameters(), init):
                p.copy_(v)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        xt, yt = data[train], target[train]
        for _ in range(epochs):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(1), yt)
            loss.backward()
            opt.step()
        with torch.no_grad():
            out.append(net(data[test]).squeeze(1))
    return out


def _stack_rows(data, index_sets):
    """``data`` rows of each index set, zero-padded to the longest: ``[k, n_max, ...]`` and the
    mask ``[k, n_max]`` of the real rows."""
    n_max = max(len(i) for i in index_sets)
    out = data.new_zeros((len(index_sets), n_max, *data.shape[1:]))
    mask = torch.zeros(len(index_sets), n_max)
    for j, i in enumerate(index_sets):
        out[j, : len(i)] = data[i]
        mask[j, : len(i)] = 1
    return out, mask


def _c2st_folds_batched(data, target, splits, inits, epochs) -> list[torch.Tensor]:
    """The k folds' networks as one stacked model: weights ``[k, in, out]``, ``torch.baddbmm``.
    The loss is the sum over folds of each fold's mean BCE over its own training rows (padding
    rows masked out), so each fold's parameters get their own fold's gradient, and Adam's
    elementwise update is the per-fold update. Returns the held-out rows' logits per fold."""
    params = [torch.stack([init[i].T if init[i].dim() == 2 else init[i].unsqueeze(0) for init in inits])
              .contiguous().requires_grad_() for i in range(len(inits[0]))]
    w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.Adam(params, lr=1e-2)

    def logits(x):
        h = torch.relu(torch.baddbmm(b1, x, w1))
        h = torch.relu(torch.baddbmm(b2, h, w2))
        return torch.baddbmm(b3, h, w3).squeeze(2)

    xt, mask = _stack_rows(data, [tr for tr, _ in splits])
    yt, _ = _stack_rows(target, [tr for tr, _ in splits])
    weight = mask / mask.sum(1, keepdim=True)
    for _ in range(epochs):
        opt.zero_grad()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits(xt), yt, reduction="none")
        (bce * weight).sum().backward()
        opt.step()
    xs, _ = _stack_rows(data, [te for _, te in splits])
    with torch.no_grad():
        held_out = logits(xs)
    return [held_out[j, : len(te)] for j, (_, te) in enumerate(splits)]


def accuracy(pred_labels, true_labels) -> float:
    pred_labels = np.asarray(pred_labels)
    true_labels = np.asarray(true_labels)
    if pred_labels.shape != true_labels.shape:
        raise MetricInputError(f"accuracy: shapes differ {pred_labels.shape} vs {true_labels.shape}")
    return float((pred_labels == true_labels).mean())


def gaussian_w2(m1, S1, m2, S2) -> float:
    """Closed-form W2 between N(m1, S1) and N(m2, S2) (for tests and sanity checks)."""
    from scipy.linalg import sqrtm
    m1, m2, S1, S2 = map(np.asarray, (m1, m2, S1, S2))
    r2 = sqrtm(S2)
    cross = sqrtm(r2 @ S1 @ r2)
    val = ((m1 - m2) ** 2).sum() + np.trace(S1 + S2 - 2 * np.real(cross))
    return float(np.sqrt(max(val, 0.0)))


KRUSE_KERNELS = ((0.2, 0.1), (0.2, 0.5), (0.2, 2.0))   # (C, a) of Kruse et al. (2021), Sec. 4


def mmd_kruse(X, Y, kernels=KRUSE_KERNELS) -> float:
    """Biased MMD^2 (V-statistic: the diagonals included) with Kruse et al.'s multi-scale kernel
    k(d) = sum_(C, a) C^a ((C + d) / a)^(-a), d = ||u - v||^2; exactly 0 for identical sets."""
    X, Y = _check(X, Y, "mmd_kruse")
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def k(a, b):
        d = torch.cdist(a, b).pow(2)
        out = torch.zeros_like(d)
        for c, e in kernels:
            out += c ** e * ((c + d) / e).pow(-e)
        return out

    return float(k(Xt, Xt).mean() + k(Yt, Yt).mean() - 2 * k(Xt, Yt).mean())


def c2st_sbibm_metric(samples, reference) -> float:
    """``c2st_sbibm`` with the suite's argument order (a model's samples, then the reference), which
    sbibm calls as c2st(reference, samples): z-scored by the reference."""
    samples, reference = _check(samples, reference, "c2st_sbibm")
    return c2st_sbibm(reference, samples)


POSTERIOR_METRICS = {"w2": w2, "sliced_w2": sliced_w2, "mmd": mmd, "c2st": c2st, "mmd_kruse": mmd_kruse,
                     "c2st_sbibm": c2st_sbibm_metric}


def far_outside(X, Y, widen: float = 1.0) -> float:
    """Fraction of the samples ``X`` that fall far outside the reference ``Y``'s range: some
    coordinate beyond [min - widen * range, max + widen * range] of ``Y`` in that coordinate. A
    sampler of the reference's own distribution essentially never lands there (for a Gaussian
    reference of 2,000 draws the band is about +-10 standard deviations); a blown-up inverse
    puts a share of its draws there whatever its W2 averages say. Recorded for every run and
    condition (not a configurable metric): the report's test of a run's stability reads it."""
    X, Y = _check(X, Y, "far_outside")
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    span = hi - lo
    out = (X < lo - widen * span) | (X > hi + widen * span)
    return float(out.any(axis=1).mean())

# the credible levels of the calibration rows: 0.05, 0.10, ..., 0.95
COVERAGE_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def coverage(samples, truth, levels=COVERAGE_LEVELS) -> np.ndarray:
    """Expected coverage of central credible intervals, per level and coordinate: [L, d].

    ``samples [M, S, d]``: S posterior draws for each of M observations; ``truth [M, d]``: the x
    each observation was simulated from. For observation i and coordinate j the normalised rank
    of the truth among the draws is u = (k + 1/2) / (S + 1), k = #{draws < truth} (the rank
    statistic of simulation-based calibration, Talts et al. 2018, Sec. 4); the truth lies in the
    central credible interval of level a iff |u - 1/2| <= a / 2. Coverage is the fraction of the M
    observations for which it does. For an exact sampler k is uniform on 0..S, so the coverage
    is a (up to 1 / (S + 1)) with binomial spread sqrt(a (1 - a) / M); above a the sampler is
    under-confident (too wide), below a over-confident (too narrow).
    """
    s = np.asarray(samples, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if s.ndim != 3 or t.shape != (s.shape[0], s.shape[2]):
        raise MetricInputError(f"coverage: samples must be [M, S, d] and truth [M, d], got {s.shape} "
                               f"and {t.shape}")
    u = ((s < t[:, None, :]).sum(axis=1) + 0.5) / (s.shape[1] + 1)      # [M, d]
    half = np.asarray(levels, dtype=np.float64)[:, None, None] / 2
    return (np.abs(u[None] - 0.5) <= half + 1e-12).mean(axis=1)        # [L, d]


TARP_SEED = 20230206
#: the credibility levels at which TARP's expected coverage is read (its error is their mean gap)
TARP_LEVELS = np.linspace(0.0, 1.0, 21)


def calibration_rows(samples, truth, levels=COVERAGE_LEVELS, hpd_f=None) -> dict[str, float]:
    """Whole-run calibration numbers: ``coverage_<level>`` (mean over coordinates) for each
    level, ``calibration_error`` (mean over levels and coordinates of |coverage - level|),
    ``calibration_error_x<j>`` per coordinate, TARP's joint coverage (``tarp_rows``) and, given the
    model's ``hpd_f [M]`` (methods with an exact density), the coverage of its highest-density
    regions (``hpd_rows``). Observations with a non-finite draw are left out
    (``calibration_nonfinite_fraction`` says how many, when any)."""
    s = np.asarray(samples, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    ok = np.all(np.isfinite(s), axis=(1, 2)) & np.all(np.isfinite(t), axis=1)
    out: dict[str, float] = {}
    if not ok.all():
        out["calibration_nonfinite_fraction"] = float(1 - ok.mean())
    if not ok.any():
        return out
    lev = np.asarray(levels, dtype=np.float64)
    cov = coverage(s[ok], t[ok], lev)
    err = np.abs(cov - lev[:, None])
    for a, c in zip(lev, cov.mean(axis=1)):
        out[f"coverage_{a:.2f}"] = float(c)
    out["calibration_error"] = float(err.mean())
    for j in range(cov.shape[1]):
        out[f"calibration_error_x{j + 1}"] = float(err[:, j].mean())
    if ok.sum() >= 2:
        out.update(tarp_rows(s[ok], t[ok]))
    if hpd_f is not None:
        f = np.asarray(hpd_f, dtype=np.float64)
        if f.shape != (len(s),):
            raise MetricInputError(f"calibration_rows: hpd_f must hold one value per observation "
                                   f"({len(s)}), got shape {f.shape}")
        f = f[ok & np.isfinite(f)]
        if len(f) >= 2:
            out.update(hpd_rows(f))
    return out


def hpd_f(log_q_samples, log_q_truth) -> np.ndarray:
    """Per observation, the share of the model's draws that it finds more probable than the true
    x: ``log_q_samples [M, S]`` (log q(x_ij | y_i) of its own draws), ``log_q_truth [M]`` (log
    q(x_i | y_i)). The truth lies in the model's highest-density region of credibility a iff this
    share is below a (Hermans et al. 2022, "A trust crisis in simulation-based inference? Your
    posterior approximations can be unfaithful", arXiv:2110.06581, Sec. 2), so for a model that
    is its own posterior it is uniform on [0, 1] (up to 1 / S)."""
    ls = np.asarray(log_q_samples, dtype=np.float64)
    lt = np.asarray(log_q_truth, dtype=np.float64)
    if ls.ndim != 2 or lt.shape != (ls.shape[0],):
        raise MetricInputError(f"hpd_f: log_q_samples must be [M, S] and log_q_truth [M], got {ls.shape} "
                               f"and {lt.shape}")
    return (ls > lt[:, None]).mean(axis=1)


def hpd_rows(f, levels=TARP_LEVELS) -> dict[str, float]:
    """Expected coverage of highest-density regions from ``hpd_f``'s shares: ECP(a) = the share of
    observations whose truth lies in the region of credibility a; ``hpd_error`` = the mean |ECP(a) -
    a| over ``levels`` (0 calibrated, up to 0.5), ``hpd_atc`` = the area between ECP and the
    diagonal over a >= 0.5 (> 0 conservative, as Hermans et al. 2022 ask of a posterior, < 0
    over-confident), read the same way as TARP's."""
    f = np.asarray(f, dtype=np.float64)
    lev = np.asarray(levels, dtype=np.float64)
    ecp = (f[None, :] < lev[:, None]).mean(axis=1)
    upper = lev >= 0.5
    return {"hpd_error": float(np.abs(ecp - lev).mean()),
            "hpd_atc": float(np.trapezoid(ecp[upper] - lev[upper], lev[upper]))}




def tarp_coverage(samples, truth, references=None, seed: int = TARP_SEED) -> np.ndarray:
    """TARP's coverage values (Lemos, Coogan et al. 2023, "Sampling-based accuracy testing of
    posterior estimators for general inference", arXiv:2302.03026, Algorithm 2): for observation i
    with true x_i and draws x_ij, f_i = the share of draws nearer (Euclidean) to a random reference
    point r_i than x_i is. Coordinates are scaled to [0, 1] by the truths' range and the references
    drawn uniformly in that box, as sbi's ``run_tarp`` does. ``samples [M, n, d]``, ``truth [M, d]``."""
    s = np.asarray(samples, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    lo, hi = t.min(0), t.max(0)
    scale = hi - lo + 1e-10
    s, t = (s - lo) / scale, (t - lo) / scale
    if references is None:
        r = np.random.default_rng(seed).uniform(0.0, 1.0, size=t.shape)
    else:
        r = (np.asarray(references, dtype=np.float64) - lo) / scale
    d_samples = np.linalg.norm(s - r[:, None, :], axis=-1)
    d_truth = np.linalg.norm(t - r, axis=-1)
    return (d_samples < d_truth[:, None]).mean(axis=1)


def tarp_rows(samples, truth, levels=TARP_LEVELS, references=None) -> dict[str, float]:
    """TARP on a whole run's calibration set: the expected coverage ECP(a) = share of observations
    with f_i < a (``tarp_coverage``) against the credibility a; ``tarp_error`` = the mean |ECP(a) -
    a| over ``levels`` (0 for a calibrated sampler, up to 0.5), ``tarp_atc`` = the area between
    ECP and the diagonal over a >= 0.5 (sbi's ``check_tarp``: > 0 too wide, < 0 too narrow or
    biased). Unlike the per-coordinate coverage it is computed on the joint draws (distances in
    the whole space); how much more it sees depends on the error: on a correlated Gaussian posterior
    it hardly separates independent draws with the right marginals (tests/test_metrics.py)."""
    f = tarp_coverage(samples, truth, references)
    lev = np.asarray(levels, dtype=np.float64)
    ecp = (f[None, :] < lev[:, None]).mean(axis=1)
    upper = lev >= 0.5
    return {"tarp_error": float(np.abs(ecp - lev).mean()),
            "tarp_atc": float(np.trapezoid(ecp[upper] - lev[upper], lev[upper]))}


# ----------------------------------------------------------------------------------------------
# C2ST as sbibm computes it (Lueckmann et al. 2021, arXiv:2101.04653; sbibm.metrics.c2st)
# ----------------------------------------------------------------------------------------------
def c2st_sbibm(X, Y, seed: int = 1, n_folds: int = 5, max_epochs: int = 10000, batch_size: int = 200,
               lr: float = 1e-3, alpha: float = 1e-4, tol: float = 1e-4, n_iter_no_change: int = 10) -> float:
    """sbibm's classifier two-sample test in torch: both sets z-scored with X's mean and (unbiased)
    standard deviation, all samples of both, ``n_folds``-fold cross-validation over a shuffled
    split, and per fold scikit-learn's ``MLPClassifier`` as sbibm configures it (two hidden ReLU
    layers of 10 x dim units, a logistic output, Adam at lr 1e-3 on minibatches of 200 reshuffled
    every epoch, an L2 penalty alpha / 2 x |W|^2 / batch, Glorot-uniform initialisation, training
    stopped when the epoch's training loss has not fallen by ``tol`` for ``n_iter_no_change``
    epochs, at most ``max_epochs``); the mean held-out accuracy. The folds' networks train side by
    side as one stacked model (each sees only its own rows and loss; a fold that has stopped keeps
    the parameters of its stopping epoch). Not bit-identical to scikit-learn (another random
    stream, float32): tests/test_metrics.py checks it against ``sbibm.metrics.c2st`` within the
    classifiers' own seed spread."""
    X, Y = _check(X, Y, "c2st_sbibm")
    mu, sd = X.mean(0), X.std(0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    data = np.concatenate([(X - mu) / sd, (Y - mu) / sd]).astype(np.float32)
    target = np.concatenate([np.zeros(len(X)), np.ones(len(Y))]).astype(np.float32)
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(len(data)), n_folds)
    train_idx = [np.setdiff1d(np.arange(len(data)), f) for f in folds]
    n_train = min(len(t) for t in train_idx)
    train_idx = [t[:n_train] if len(t) > n_train else t for t in train_idx]   # equal sizes (+-1 row)
    F, d = n_folds, data.shape[1]
    h = 10 * d
    g = torch.Generator().manual_seed(int(seed))

    def glorot(fan_in, fan_out, factor=6.0):
        bound = math.sqrt(factor / (fan_in + fan_out))
        w = torch.empty(F, fan_in, fan_out).uniform_(-bound, bound, generator=g)
        b = torch.empty(F, 1, fan_out).uniform_(-bound, bound, generator=g)
        return w.requires_grad_(), b.requires_grad_()

    (w1, b1), (w2, b2), (w3, b3) = glorot(d, h), glorot(h, h), glorot(h, 1, factor=2.0)
    params = [w1, b1, w2, b2, w3, b3]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    data_t, target_t = torch.from_numpy(data), torch.from_numpy(target)
    tr = torch.from_numpy(np.stack(train_idx))            # [F, n_train]
    bs = min(batch_size, n_train)

    def forward(x):                                         # x [F, b, d] -> logits [F, b]
        a = torch.relu(torch.baddbmm(b1, x, w1))
        a = torch.relu(torch.baddbmm(b2, a, w2))
        return torch.baddbmm(b3, a, w3).squeeze(-1)

    best = np.full(F, np.inf)
    wait = np.zeros(F, dtype=int)
    done = np.zeros(F, dtype=bool)
    kept = [None] * F
    gen = np.random.default_rng([seed, 1])
    for _ in range(max_epochs):
        order = torch.from_numpy(np.stack([gen.permutation(n_train) for _ in range(F)]))
        rows = torch.gather(tr, 1, order)
        epoch_loss = torch.zeros(F)
        for start in range(0, n_train, bs):
            idx = rows[:, start:start + bs]
            xb, yb = data_t[idx], target_t[idx]
            bce = torch.nn.functional.binary_cross_entropy_with_logits(forward(xb), yb, reduction="none").mean(1)
            l2 = 0.5 * alpha * sum((w * w).sum(dim=(1, 2)) for w in (w1, w2, w3)) / idx.shape[1]
            loss = bce + l2                                  # [F]: each fold's own loss
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            epoch_loss += loss.detach() * idx.shape[1]
        epoch_loss = (epoch_loss / n_train).numpy()
        for f in np.flatnonzero(~done):
            if epoch_loss[f] > best[f] - tol:
                wait[f] += 1
            else:
                wait[f] = 0
            best[f] = min(best[f], epoch_loss[f])
            if wait[f] >= n_iter_no_change:
                done[f] = True
                kept[f] = [p.detach()[f].clone() for p in params]
        if done.all():
            break
    accs = []
    with torch.no_grad():
        for f, test in enumerate(folds):
            pw1, pb1, pw2, pb2, pw3, pb3 = kept[f] if kept[f] is not None else [p.detach()[f] for p in params]
            x = data_t[torch.from_numpy(test)]
            a = torch.relu(x @ pw1 + pb1)
            a = torch.relu(a @ pw2 + pb2)
            logits = (a @ pw3 + pb3).squeeze(-1)
            accs.append(float(((logits > 0).float() == target_t[torch.from_numpy(test)]).float().mean()))
    return float(np.mean(accs))
