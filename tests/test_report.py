"""The replication report: claim verdicts on synthetic metrics, provenance, deterministic rendering."""
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flowbench import report as R
from flowbench import tables as T
from flowbench.images.names import DEFAULT_FIGURES, flow_figures
from flowbench.io import write_csv

N_LABELS = 8


# ----------------------------------------------------------------------------------------------
# synthetic tidy metrics
# ----------------------------------------------------------------------------------------------
def run_rows(method, variant, seed, w2=None, acc=1.0, spi=0.1, diverged=False, step=None, task="gmm",
             c2st=0.55):
    """Rows of one run; per-label W2 spread around ``w2`` so that its label mean is exactly ``w2``."""
    base = {"task": task, "method": method, "variant": variant, "seed": seed}
    rows = [{**base, "condition": "", "metric": "seconds_per_iteration", "value": spi},
            {**base, "condition": "", "metric": "train_seconds", "value": spi * 100},
            {**base, "condition": "", "metric": "diverged", "value": float(diverged)}]
    if diverged:
        rows.append({**base, "condition": "", "metric": "diverged_step", "value": float(step)})
        rows.append({**base, "condition": "", "metric": "last_finite_loss", "value": 12.5})
        return rows
    rows.append({**base, "condition": "", "metric": "final_loss", "value": 1.0})
    rows.append({**base, "condition": "", "metric": "accuracy", "value": acc})
    offsets = np.linspace(-0.01, 0.01, N_LABELS)
    offsets -= offsets.mean()
    for k in range(N_LABELS):
        rows.append({**base, "condition": str(k), "metric": "w2", "value": w2 + offsets[k] * min(w2, 1)})
        rows.append({**base, "condition": str(k), "metric": "c2st", "value": c2st})
    return rows


def frame(*runs):
    rows = []
    for r in runs:
        rows.extend(r)
    return T.tidy(pd.DataFrame(rows))


def seeds(method, variant, values, **kw):
    return [run_rows(method, variant, s, w2=v, **kw) for s, v in enumerate(values)]


def metrics_with(*groups):
    return frame(*[r for g in groups for r in g])


# ----------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------
def test_per_seed_w2_is_label_mean_and_excludes_diverged():
    m = metrics_with(seeds("ours", "paper", [0.1, 0.2]),
                     [run_rows("ours", "paper", 2, diverged=True, step=17)])
    s = T.per_seed(m, "gmm", "ours", "paper", "w2")
    assert list(s.index) == [0, 1]
    assert np.allclose(s.to_numpy(), [0.1, 0.2])
    st = R.run_stats(m, "ours", "paper")
    assert st["runs"] == 3 and st["diverged"] == 1 and st["n"] == 2
    assert math.isclose(st["w2"], 0.15)
    d = T.diverged_runs(m)
    assert d[["method", "variant", "seed", "diverged_step"]].values.tolist() == [["ours", "paper", 2, 17.0]]
    # a diverged run's speed is not the method's: excluded; the compute it spent still counts
    assert len(T.per_seed(m, "gmm", "ours", "paper", "seconds_per_iteration")) == 2
    assert len(T.per_seed(m, "gmm", "ours", "paper", "train_seconds")) == 3


def test_mean_ci_matches_t_interval():
    mean, half, n = T.mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert math.isclose(half, stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    mean, half, n = T.mean_ci([0.5, float("nan")])
    assert mean == 0.5 and n == 1 and math.isnan(half)
    assert T.mean_ci([])[2] == 0


def test_welch_one_sided():
    a, b = [0.5, 0.55, 0.6], [0.1, 0.12, 0.11]
    p = R.welch_greater(a, b)
    assert math.isclose(p, stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)
    assert p < 0.05
    assert R.welch_greater(b, a) > 0.95
    assert R.welch_greater([0.5], b) is None
    assert R.welch_greater([0.5, 0.5], [0.1, 0.1]) is None  # both constant: undefined


# ----------------------------------------------------------------------------------------------
# the verdicts flip where their evidence crosses the threshold
# ----------------------------------------------------------------------------------------------
def floor_rows(value=0.03, task="gmm", n=2000, probe_n=None):
    """A noise floor: W2 between two exact samples = ``value`` at size n (and 1.6x at probe_n)."""
    rows = [{"task": task, "condition": str(k), "metric": "w2", "n": n, "repeat": r, "value": value}
            for k in range(N_LABELS) for r in range(3)]
    if probe_n:
        rows += [{**x, "n": probe_n, "value": 1.6 * value} for x in rows]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("w2, acc, verdict", [
    (0.08, 0.995, R.REPRODUCED), (0.08, 0.98, R.PARTLY), (0.10, 0.995, R.PARTLY),
    (0.17, 1.0, R.PARTLY), (0.19, 1.0, R.NOT_REPRODUCED)])
def test_c1_relative_to_the_floor(w2, acc, verdict):
    """Floor 0.03: reproduced within 3x (0.09), partly within 6x (0.18)."""
    m = metrics_with(seeds("ours", "paper", [w2, w2, w2], acc=acc))
    c = R.claim_c1(m, floors=floor_rows(0.03))
    assert c.verdict == verdict
    assert f"q = W2 / floor = {w2 / 0.03:.2f}" in c.evidence and c.rule == R.RULES["C1"]
    assert c.stability == "3/3"
    # without a floor no threshold can be set: not tested
    assert R.claim_c1(m).verdict == R.NOT_TESTED


def test_c1_perfect_sampler_on_a_multimodal_label_map_passes():
    """On gmm_some the floor is large (the random count per mode is transported between modes): an
    absolute 0.10 cut failed a perfect sampler; a floor-relative one passes it and still fails a
    sampler 10x worse."""
    perfect = metrics_with(seeds("ours", "paper", [0.11, 0.12, 0.10], task="gmm_some"))
    floor = floor_rows(0.11, task="gmm_some")
    assert R.claim_c1(perfect, "gmm_some", floor).verdict == R.REPRODUCED
    bad = metrics_with(seeds("ours", "paper", [1.1, 1.2, 1.0], task="gmm_some"))
    assert R.claim_c1(bad, "gmm_some", floor).verdict == R.NOT_REPRODUCED


def test_c1_absent_or_all_diverged_is_not_tested():
    f = floor_rows()
    assert R.claim_c1(metrics_with(seeds("inn", "full", [0.1])), floors=f).verdict == R.NOT_TESTED
    m = metrics_with([run_rows("ours", "paper", 0, diverged=True, step=3)])
    c = R.claim_c1(m, floors=f)
    assert c.verdict == R.NOT_TESTED and "diverged" in c.evidence
    # the other task's runs do not count
    other = metrics_with(seeds("ours", "paper", [0.05], task="gmm_some"))
    assert R.claim_c1(other, floors=f).verdict == R.NOT_TESTED


@pytest.mark.parametrize("inn, verdict", [(0.14, R.REPRODUCED), (0.15, R.REPRODUCED), (0.25, R.PARTLY),
                                          (0.35, R.NOT_REPRODUCED), (0.05, R.REPRODUCED)])
def test_c2_ratio_of_geometric_means(inn, verdict):
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1]), seeds("inn", "full", [inn, inn]),
                     seeds("inn", "orig16_full", [0.1, 0.1]))
    c = R.claim_c2(m)
    assert c.verdict == verdict
    assert f"r = {inn / 0.1:.2f}" in c.evidence
    assert R.claim_c2(metrics_with(seeds("ours", "paper", [0.1]))).verdict == R.NOT_TESTED
    # both INN networks, each its own verdict
    assert R.claim_c2b(m).verdict == R.REPRODUCED and "inn/orig16_full" in R.claim_c2b(m).evidence


def test_log_ratio_test_and_holm():
    res = R.log_ratio_test([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    assert res["ratio"] == pytest.approx(2.0)
    lo, hi = res["ci"]
    assert lo < 2.0 < hi
    log_a, log_b = np.log([2.0, 4.0, 8.0]), np.log([1.0, 2.0, 4.0])
    want = stats.ttest_ind(log_a, log_b, equal_var=False, alternative="greater").pvalue
    assert res["p"] == pytest.approx(want)
    assert R.log_ratio_test([1.0], [1.0, 2.0])["p"] is None
    adj = R.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert adj == {"a": pytest.approx(0.03), "b": pytest.approx(0.06), "c": pytest.approx(0.06), "d": None}


def test_c3_decided_on_log_w2():
    full = seeds("inn", "full", [0.10, 0.11, 0.12, 0.10, 0.11])
    # a heavy-tailed forward-only arm (the inverse blows up, by different amounts per seed): on raw
    # W2 the one huge seed makes the t-test insignificant; on log W2 it is five orders of magnitude
    heavy = seeds("inn", "forward_only", [2.0e5, 50.0, 3.0e3, 900.0, 1.2e4])
    raw_p = R.welch_greater([2.0e5, 50.0, 3.0e3, 900.0, 1.2e4], [0.10, 0.11, 0.12, 0.10, 0.11])
    assert raw_p > 0.05
    c = R.claim_c3(metrics_with(full, heavy))
    assert c.verdict == R.REPRODUCED and "p = " in c.evidence and c.stability == "10/10"
    # ratio of geometric means >= 1.5 but overlapping seeds: not significant, partly
    noisy = seeds("inn", "forward_only", [0.05, 0.5, 2.0])
    assert R.claim_c3(metrics_with(full, noisy)).verdict == R.PARTLY
    # one large seed among small ones is not "worse" on the log scale (GM ratio 1.33)
    one_big = seeds("inn", "forward_only", [0.05, 0.06, 1.0])
    assert R.claim_c3(metrics_with(full, one_big)).verdict == R.NOT_REPRODUCED
    # one seed: no test, partly
    assert R.claim_c3(metrics_with(full, seeds("inn", "forward_only", [0.5]))).verdict == R.PARTLY
    # significantly worse but by less than 1.5x: not reproduced
    c = R.claim_c3(metrics_with(full, seeds("inn", "forward_only", [0.150, 0.151, 0.152, 0.150, 0.151])))
    assert c.verdict == R.NOT_REPRODUCED
    assert R.claim_c3(metrics_with(full)).verdict == R.NOT_TESTED


def test_c4_ramp_variants_with_holm_and_no_ramp_as_the_extreme():
    full = seeds("inn", "full", [0.10, 0.11, 0.12, 0.10, 0.11])
    good = seeds("inn", "ramp_fast", [0.40, 0.42, 0.44, 0.41, 0.43])
    flat = seeds("inn", "ramp_slow", [0.10, 0.12, 0.11, 0.10, 0.12])
    extreme = seeds("inn", "no_ramp", [2.0, 2.1, 1.9, 2.0, 2.2])
    weights = seeds("inn", "wx_10", [5.0, 5.1, 5.2, 5.0, 5.1])
    m = metrics_with(full, good, flat, extreme, weights)
    assert R.changed_ramp_variants(m) == ["ramp_fast", "ramp_slow"]
    c = R.claim_c4(m)
    assert c.verdict == R.REPRODUCED and "Holm p" in c.evidence
    assert "inn/no_ramp (the extreme" in c.evidence and "wx_10" not in c.evidence
    # no_ramp alone does not decide C4 (it is not a changed speed or shape)
    assert R.claim_c4(metrics_with(full, flat, extreme)).verdict == R.NOT_REPRODUCED
    assert R.claim_c4(metrics_with(full, extreme)).verdict == R.NOT_TESTED
    # the weights have their own verdict
    assert R.claim_c4b(m).verdict == R.REPRODUCED
    assert R.claim_c4b(metrics_with(full, good)).verdict == R.NOT_TESTED


def test_holm_can_undo_an_uncorrected_pass():
    """Two variants each at p ~ 0.03: alone each passes; over the family neither survives Holm."""
    full = seeds("inn", "full", [0.10, 0.14, 0.12])
    a = seeds("inn", "ramp_fast", [0.16, 0.30, 0.22])
    b = seeds("inn", "ramp_slow", [0.16, 0.30, 0.22])
    single = R.family_test(metrics_with(full, a), "gmm", "inn", "full", ["ramp_fast"])["ramp_fast"]
    both = R.family_test(metrics_with(full, a, b), "gmm", "inn", "full", ["ramp_fast", "ramp_slow"])
    assert single["p"] < 0.05 and single["verdict"] == R.REPRODUCED
    assert both["ramp_fast"]["p_holm"] >= 0.05 and both["ramp_fast"]["verdict"] == R.PARTLY


def test_claims_by_task_checks_each_label_map():
    m = metrics_with(seeds("ours", "paper", [0.08, 0.09, 0.10]), seeds("inn", "full", [0.10, 0.12, 0.11]),
                     seeds("inn", "forward_only", [1.0, 1.2, 1.1]),
                     seeds("ours", "paper", [0.30, 0.35, 0.32], task="gmm_some"),
                     seeds("inn", "full", [0.30, 0.33, 0.31], task="gmm_some"))
    f = pd.concat([floor_rows(0.031), floor_rows(0.10, task="gmm_some")])
    bt = R.claims_by_task(m, ["gmm", "gmm_some"], f)
    assert list(bt.columns) == ["task", "id", "claim", "evidence", "verdict", "stability", "rule"]
    assert bt["id"].tolist() == list(R.TASK_CLAIMS) * 2
    v = bt.set_index(["task", "id"])["verdict"]
    assert (v["gmm", "C1"], v["gmm", "C2"], v["gmm", "C3"], v["gmm", "C4"]) == (
        R.REPRODUCED, R.REPRODUCED, R.REPRODUCED, R.NOT_TESTED)
    assert v["gmm_some", "C1"] == R.PARTLY                # q = 0.32 / 0.10 = 3.2
    assert v["gmm_some", "C2"] == R.REPRODUCED            # r = 0.313 / 0.323 < 1.5
    assert v["gmm_some", "C3"] == R.NOT_TESTED
    ev = bt.set_index(["task", "id"])["evidence"]
    assert "inn/forward_only not run" in ev["gmm_some", "C3"]
    # the rows of the claim task are exactly the main claims
    main = {c.id: c for c in R.evaluate_claims(m, floors=f)}
    for row in bt[bt["task"] == "gmm"].itertuples(index=False):
        assert (row.evidence, row.verdict) == (main[row.id].evidence, main[row.id].verdict)


def test_c5_the_same_sensitivity_rule_for_both_methods():
    s5 = lambda method, variant, base: seeds(method, variant, [base * f for f in (0.9, 1.0, 1.1, 0.95, 1.05)])  # noqa: E731
    paper, full = s5("ours", "paper", 0.10), s5("inn", "full", 0.10)
    ours_ok = s5("ours", "eps_0.2", 0.11) + s5("ours", "pad_0.2", 0.10)
    inn_bad = s5("inn", "wx_10", 0.50) + s5("inn", "ramp_fast", 0.11)
    schedule = s5("ours", "paper_cosine", 0.50)          # a schedule is not a sensitivity variant
    c = R.claim_c5(metrics_with(paper, full, ours_ok, inn_bad, schedule))
    assert c.verdict == R.REPRODUCED and "paper_cosine" not in c.evidence
    assert "ours: 0 of 2 variants sensitive" in c.evidence and "inn: 1 of 2 sensitive" in c.evidence
    # neither method sensitive: the claim holds for ours but shows no advantage
    assert R.claim_c5(metrics_with(paper, full, ours_ok, s5("inn", "wx_10", 0.1))).verdict == R.PARTLY
    # ours as sensitive as the INN: not reproduced
    ours_bad = s5("ours", "eps_0.2", 0.5)
    assert R.claim_c5(metrics_with(paper, full, ours_bad, inn_bad)).verdict == R.NOT_REPRODUCED
    # a variant whose every seed diverged counts as sensitive
    div = [run_rows("ours", "pad_0.01", s, diverged=True, step=5) for s in range(2)]
    c = R.claim_c5(metrics_with(paper, full, ours_ok, div, inn_bad))   # 1 of 3 against 1 of 2
    assert c.verdict == R.PARTLY and "pad_0.01: all 2 runs diverged (sensitive)" in c.evidence
    # one seed per variant cannot be tested
    one = seeds("ours", "eps_0.2", [0.5])
    assert R.claim_c5(metrics_with(paper, full, one)).verdict == R.NOT_TESTED
    assert R.claim_c5(metrics_with(paper)).verdict == R.NOT_TESTED


@pytest.mark.parametrize("ours, verdict", [(0.04, R.REPRODUCED), (0.05, R.REPRODUCED), (0.08, R.PARTLY),
                                           (0.10, R.NOT_REPRODUCED), (0.12, R.NOT_REPRODUCED)])
def test_c6_speed_ratio(ours, verdict):
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=ours), seeds("inn", "full", [0.1], spi=0.1))
    assert R.claim_c6(m).verdict == verdict
    assert R.claim_c6(metrics_with(seeds("ours", "paper", [0.1]))).verdict == R.NOT_TESTED


def test_c6_reports_time_to_threshold():
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=0.01), seeds("inn", "full", [0.1], spi=0.1))
    ttt = pd.DataFrame([
        {"task": "gmm", "method": "ours", "variant": "paper", "seed": 0, "probes": 4, "reached": True,
         "seconds_to_threshold": 2.0},
        {"task": "gmm", "method": "ours", "variant": "paper", "seed": 1, "probes": 4, "reached": True,
         "seconds_to_threshold": 4.0},
        {"task": "gmm", "method": "inn", "variant": "full", "seed": 0, "probes": 4, "reached": False,
         "seconds_to_threshold": float("nan")}])
    c = R.claim_c6(m, ttt=ttt)
    assert "ours/paper 2/2 seeds, mean 3.00 s" in c.evidence and "inn/full 0/1 seeds" in c.evidence


def images(mnist=None, fashion=None, style=None, method="ours", consistency=None, diverged=None):
    """Tidy image metrics: accuracy per seed (mnist / fashion), style_follows_label and
    style_consistency per data set, all of ``method``; ``diverged``: {dataset: [seed, ...]}."""
    variant = {"ours": "paper"}.get(method, "default")
    base = lambda ds, s: {"task": ds, "method": method, "variant": variant, "seed": s, "condition": ""}  # noqa: E731
    rows = []
    for ds, vals in (("mnist", mnist), ("fashion-mnist", fashion)):
        for s, v in enumerate(vals or []):
            rows.append({**base(ds, s), "metric": "accuracy", "value": v})
    for metric, d in (("style_follows_label", style), ("style_consistency", consistency)):
        for ds, vals in (d or {}).items():
            for s, v in enumerate(vals):
                rows.append({**base(ds, s), "metric": metric, "value": v})
    for ds, seeds_ in (diverged or {}).items():
        for s in seeds_:
            rows.append({**base(ds, s), "metric": "diverged", "value": 1.0})
    return T.tidy(pd.DataFrame(rows, columns=T.METRIC_COLUMNS))


def image_stage(datasets=("mnist", "fashion-mnist"), seeds_=(0, 1)):
    """A full synthetic results/images/metrics.csv: the four methods, every metric."""
    rows = []
    acc = {"ours": 0.98, "cinn": 0.97, "latent_classifier": 0.985, "cnn": 0.99}
    gen = {"ours": (0.95, 0.93, 0.20), "cinn": (0.90, 0.50, 0.05)}
    for ds in datasets:
        for s in seeds_:
            for m in T.IMAGE_METHODS:
                b = {"task": ds, "method": m, "variant": "paper" if m == "ours" else "default", "seed": s,
                     "condition": ""}
                rows += [{**b, "metric": "accuracy", "value": acc[m] - 0.002 * s},
                         {**b, "metric": "train_seconds", "value": 10.0}]
                if m in gen:
                    rows.append({**b, "metric": "diverged", "value": 0.0})
                    rows.append({**b, "metric": "z_label_accuracy", "value": 0.105 + 0.001 * s})
                    for metric, v in zip(T.GENERATION_METRICS, gen[m]):
                        rows.append({**b, "metric": metric, "value": v + 0.01 * s})
    return T.tidy(pd.DataFrame(rows))


def test_c7_table1():
    assert R.claim_c7(None).verdict == R.NOT_TESTED
    assert R.claim_c7(images()).verdict == R.NOT_TESTED
    assert R.claim_c7(images([0.980], [0.895])).verdict == R.REPRODUCED   # within 0.01
    assert R.claim_c7(images([0.974], [0.895])).verdict == R.REPRODUCED   # exactly paper - 0.01
    assert R.claim_c7(images([0.970], [0.895])).verdict == R.PARTLY
    assert R.claim_c7(images([0.950], [0.895])).verdict == R.NOT_REPRODUCED
    assert R.claim_c7(images([0.984])).verdict == R.PARTLY                # one dataset not run
    # only ours counts: the cINN's accuracy is not the paper's forward process
    assert R.claim_c7(images([0.99], [0.95], method="cinn")).verdict == R.NOT_TESTED
    t1 = T.table1(images([0.98, 0.99], None)).set_index("dataset")
    assert t1.loc["mnist", "ours_n_seeds"] == 2 and t1.loc["fashion-mnist", "ours_n_seeds"] == 0
    assert t1.loc["mnist", "paper_accuracy"] == 0.984 and t1.loc["mnist", "cnn_n_seeds"] == 0


def test_table1_all_methods_and_diverged_excluded():
    img = image_stage()
    t1 = T.table1(img).set_index("dataset")
    assert list(t1.index) == ["mnist", "fashion-mnist"]
    for m, acc in (("ours", 0.98), ("cinn", 0.97), ("latent_classifier", 0.985), ("cnn", 0.99)):
        assert t1.loc["mnist", f"{m}_n_seeds"] == 2
        assert math.isclose(t1.loc["mnist", f"{m}_accuracy_mean"], acc - 0.001)
        assert t1.loc["mnist", f"{m}_accuracy_ci95"] > 0
    # a diverged seed of ours is excluded from its accuracy (and counted in C7's evidence)
    div = T.tidy(pd.concat([img, images(mnist=[0.1], diverged={"mnist": [0]})]))
    div = div.drop_duplicates(T.METRIC_COLUMNS[:6], keep="last")
    assert T.table1(div).set_index("dataset").loc["mnist", "ours_n_seeds"] == 1
    c = R.claim_c7(div)
    assert "1 of 2 diverged, excluded" in c.evidence


def test_generation_table():
    g = T.generation_table(image_stage(datasets=("mnist",)))
    assert g[["dataset", "method"]].values.tolist() == [["mnist", "ours"], ["mnist", "cinn"]]
    ours = g.set_index("method").loc["ours"]
    assert ours["runs"] == 2 and ours["diverged"] == 0
    assert math.isclose(ours["generated_accuracy_mean"], 0.955)
    assert math.isclose(ours["style_follows_label_mean"], 0.935)
    assert math.isclose(ours["style_consistency_mean"], 0.205) and ours["style_consistency_n"] == 2
    assert T.generation_table(None).empty and list(T.generation_table(None).columns)[:2] == ["dataset", "method"]


def test_c7_names_what_limits_table1():
    im = images(mnist=[0.985], fashion=[0.85, 0.86])
    curve = pd.DataFrame({"epoch": [2, 6, 18], "latent_classifier_accuracy": [0.83, 0.86, 0.87],
                          "ours_accuracy": [float("nan"), float("nan"), 0.86]})
    c = R.claim_c7(im, {"fashion-mnist": curve})
    assert c.verdict == R.NOT_REPRODUCED
    assert "reaches 0.8700 at auto-encoder epoch 18 (of 18)" in c.evidence
    assert "the auto-encoder's latent, not the flow, limits Table 1" in c.evidence
    good = curve.assign(latent_classifier_accuracy=[0.85, 0.90, 0.905])
    assert "the flow's forward process, not the latent" in R.claim_c7(im, {"fashion-mnist": good}).evidence


def z_test(z, control=(0.98,), ds="mnist", style=None, diverged=None):
    """Image metrics for C8: ours' z_label_accuracy per seed and the latent classifier (control)."""
    rows = [{"task": ds, "method": "ours", "variant": "paper", "seed": s, "condition": "",
             "metric": "z_label_accuracy", "value": v} for s, v in enumerate(z)]
    rows += [{"task": ds, "method": "latent_classifier", "variant": "default", "seed": s,
              "condition": "", "metric": "accuracy", "value": v} for s, v in enumerate(control)]
    frames = [pd.DataFrame(rows)]
    if style or diverged:
        frames.append(images(style=style, diverged=diverged))
    return T.tidy(pd.concat(frames, ignore_index=True))


def test_c8_z_carries_no_label():
    assert R.claim_c8(None).verdict == R.NOT_TESTED
    assert R.claim_c8(images([0.98])).verdict == R.NOT_TESTED
    # z at chance while the same classifier on u finds the label: reproduced
    c = R.claim_c8(z_test([0.10, 0.11]))
    assert c.verdict == R.REPRODUCED and "chance 0.1" in c.evidence and "fashion-mnist not run" in c.evidence
    assert R.claim_c8(z_test([0.12])).verdict == R.REPRODUCED            # threshold 0.1 + 0.02
    assert R.claim_c8(z_test([0.15])).verdict == R.PARTLY
    # a model whose z carries the label (one that ignores z would): fails, although its style
    # metric (the old rule) would have passed it
    c = R.claim_c8(z_test([0.85, 0.9], style={"mnist": [1.0, 1.0]}))
    assert c.verdict == R.NOT_REPRODUCED and "style_follows_label 1.000" in c.evidence
    # a control at chance: the classifier could not have found the label anywhere, no power
    c = R.claim_c8(z_test([0.10], control=(0.11,)))
    assert c.verdict == R.NOT_TESTED and "no power" in c.evidence
    # the worse data set decides
    both = T.tidy(pd.concat([z_test([0.10]), z_test([0.5], ds="fashion-mnist")]))
    assert R.claim_c8(both).verdict == R.NOT_REPRODUCED
    assert "control" in R.RULES["C8"] and "ignored z would pass them" in R.RULES["C8"]


# ----------------------------------------------------------------------------------------------
# the performance benchmark in C6
# ----------------------------------------------------------------------------------------------
def step_costs(ours=(0.010, 0.020), inn=(0.030, 0.080), batches=(400, 1600)):
    rows = []
    for name, vals in (("ours/paper", ours), ("inn/full", inn), ("cinn/default", [v * 1.1 for v in ours])):
        for b, v in zip(batches, vals):
            rows.append({"method": name, "batch_size": b, "seconds_per_iteration": v, "peak_mem_mb": b / 10})
    return pd.DataFrame(rows)


def test_c6_uses_the_benchmark_at_batch_1600():
    # workflow runs say partly (r = 0.8); the controlled benchmark at 1600 says reproduced (0.25)
    m = metrics_with(seeds("ours", "paper", [0.1], spi=0.08), seeds("inn", "full", [0.1], spi=0.1))
    assert R.claim_c6(m).verdict == R.PARTLY
    assert "benchmark (`snakemake benchmark`) was not run" in R.claim_c6(m).evidence
    c = R.claim_c6(m, costs=step_costs())
    assert c.verdict == R.REPRODUCED
    assert c.evidence.startswith("benchmark, one process, one method at a time, batch 1600")
    assert "r = 0.25" in c.evidence and "jobs side by side, noisier" in c.evidence and "r = 0.80" in c.evidence
    # the benchmark decides even when it disagrees the other way
    assert R.claim_c6(m, costs=step_costs(ours=(0.01, 0.09), inn=(0.03, 0.08))).verdict == R.NOT_REPRODUCED
    # batch 1600 absent: the largest batch measured for both
    c = R.claim_c6(m, costs=step_costs(ours=(0.01, 0.04), inn=(0.03, 0.1), batches=(200, 800)))
    assert "batch 800 (batch 1600 not measured" in c.evidence and c.verdict == R.REPRODUCED
    # the benchmark alone (no workflow runs of inn/full) still decides
    c = R.claim_c6(metrics_with(seeds("ours", "paper", [0.1])), costs=step_costs())
    assert c.verdict == R.REPRODUCED and "inn/full not run" in c.evidence
    # a benchmark without inn/full falls back to the workflow runs
    c = R.claim_c6(m, costs=step_costs().query("method != 'inn/full'"))
    assert c.verdict == R.PARTLY and "lacks ours/paper or inn/full" in c.evidence


def test_c6_ignores_diverged_runs():
    """Runs that diverged at step 1 time one step, not the method: C6 is not tested on them."""
    inn = seeds("inn", "full", [0.1, 0.1], spi=1.0)
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=0.009, diverged=True, step=1), inn)
    c = R.claim_c6(m)
    assert c.verdict == R.NOT_TESTED
    assert "ours/paper: all 2 runs diverged, no speed measured" in c.evidence
    # one of two ours runs diverged: decided on the other alone (0.3 / 1.0 = 0.30 -> reproduced)
    m = metrics_with(seeds("ours", "paper", [0.1], spi=0.3), inn,
                     [run_rows("ours", "paper", 1, spi=0.009, diverged=True, step=1)])
    c = R.claim_c6(m)
    assert c.verdict == R.REPRODUCED and "ours/paper 0.3000 (1 run)" in c.evidence
    # and the summary table's s/iteration excludes the diverged run too
    assert T.per_seed(m, "gmm", "ours", "paper", "seconds_per_iteration").tolist() == [0.3]


def test_step_cost_ratios_sorted():
    costs = T.sort_step_costs(step_costs().iloc[::-1].reset_index(drop=True))
    assert costs["method"].tolist()[:2] == ["ours/paper", "ours/paper"]
    assert costs["method"].tolist()[-1] == "cinn/default" and costs["batch_size"].tolist()[:2] == [400, 1600]
    r = T.step_cost_ratios(costs)
    assert r["batch_size"].tolist() == [400, 1600]
    assert np.allclose(r["ratio"], [0.01 / 0.03, 0.25])


def test_claim_rejects_unknown_verdict():
    with pytest.raises(ValueError):
        R.Claim("C1", "x", "y", "maybe", "z")


# ----------------------------------------------------------------------------------------------
# training logs, benchmarks
# ----------------------------------------------------------------------------------------------
def test_time_to_threshold():
    log = pd.DataFrame({"step": [0, 1, 2, 3], "loss": [4, 3, 2, 1],
                        "probe_w2": [np.nan, 0.3, 0.14, 0.1], "seconds": [0.5, 1.0, 1.5, 2.0]})
    assert T.time_to_threshold(log, 0.15) == 1.5
    assert T.time_to_threshold(log, 0.05) is None
    assert T.time_to_threshold(log.drop(columns="probe_w2"), 0.15) is None


def test_pattern_regex_and_benchmarks(tmp_path, monkeypatch):
    rx = R.pattern_regex("results/benchmarks/{task,[A-Za-z0-9_]+}/{method}/seed{seed,[0-9]+}/train.tsv")
    assert rx.match("results/benchmarks/gmm/ours/seed3/train.tsv")
    assert not rx.match("results/benchmarks/gmm/ours/seedx/train.tsv")
    assert not rx.match("results/benchmarks/gmm/ours/seed3/evaluate.tsv")
    monkeypatch.chdir(tmp_path)
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for i, (stage, s) in enumerate([("train", 4.0), ("train", 6.0), ("evaluate", 1.5), ("other", 0.5)]):
        f = tmp_path / "results" / "benchmarks" / "gmm" / f"seed{i}" / f"{stage}.tsv"
        f.parent.mkdir(parents=True)
        f.write_text(head + f"{s}\t0:00:0{int(s)}\t{100 + i}\t0\t0\t0\t0\t0\t50\t{s / 2}\n")
    pats = {"train_gmm": "results/benchmarks/{task}/seed{seed}/train.tsv",
            "evaluate_gmm": "results/benchmarks/{task}/seed{seed}/evaluate.tsv"}
    jobs = R.read_benchmarks("results/benchmarks", pats)
    assert [j["rule"] for j in jobs] == ["train_gmm", "train_gmm", "evaluate_gmm", "other"]
    summary = R.summarise_benchmarks(jobs)
    assert summary["per_rule"]["train_gmm"]["jobs"] == 2
    assert summary["per_rule"]["train_gmm"]["s"] == 10.0
    assert summary["total"]["s"] == 12.0 and summary["total"]["jobs"] == 4
    wall = T.wall_time_table({"benchmarks": summary})
    assert wall["rule"].tolist() == ["evaluate_gmm", "other", "train_gmm", "total"]
    assert wall.iloc[-1]["wall_s"] == 12.0


# ----------------------------------------------------------------------------------------------
# rendering from a fake results/ tree
# ----------------------------------------------------------------------------------------------
def tiny_png(color=(255, 0, 0)) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00" + bytes(color)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


GMM_FIGURES = ["fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time"]
GMM_RECORD = {"kind": "gmm", "conditions": "label", "description": "Kind `gmm`: a mixture.",
              "paper_claims": True, "figures": GMM_FIGURES, "forward_metrics": ["accuracy"]}
TWO_TASKS = {"gmm": GMM_FIGURES, "gmm_some": GMM_FIGURES}

RUNS = [("ours", "paper", [0.08, 0.09], 0.01), ("inn", "full", [0.10, 0.12], 0.03),
        ("inn", "forward_only", [0.40, 0.45], 0.02), ("inn", "ramp_fast", [0.30], 0.03),
        ("cinn", "default", [0.2], 0.01)]


def fake_results(root, with_images=False, with_benchmark=False, image_datasets=("mnist", "fashion-mnist")):
    """A small results/ tree: metrics.csv, train logs, figures, provenance.json, benchmarks."""
    rows, run_settings = [], []
    for task in ("gmm", "gmm_some"):
        for method, variant, w2s, spi in RUNS:
            for seed, w2 in enumerate(w2s):
                rows += run_rows(method, variant, seed, w2=w2, spi=spi, task=task)
                base = {"task": task, "method": method, "variant": variant, "seed": seed, "condition": ""}
                rows += [{**base, "metric": "probe_count", "value": 4.0},
                         {**base, "metric": "probe_best_w2", "value": w2},
                         {**base, "metric": "probe_threshold", "value": 0.144}]
                if w2 <= 0.144:
                    rows.append({**base, "metric": "seconds_to_probe_threshold", "value": 20 * spi})
                d = root / task / method / variant / f"seed{seed}"
                d.mkdir(parents=True)
                steps = np.arange(20)
                probe = np.where(steps % 5 == 4, w2 * (1 + 3.0 / (steps + 1)), np.nan)
                pd.DataFrame({"step": steps, "loss": 10.0 / (steps + 1), "probe_w2": probe,
                              "seconds": (steps + 1) * spi}).to_csv(d / "train_log.csv", index=False)
                (d / "train_info.json").write_text(json.dumps({"device": "cpu"}))
                run_settings.append({"task": task, "method": method, "variant": variant, "seed": seed,
                                     "iterations": 20 if method != "inn" else 40, "batch_size": 64,
                                     "n_eval": 200, "device": "cpu"})
        rows += run_rows("inn", "no_ramp", 0, diverged=True, step=7, task=task)
        write_csv(root / task / "runs.csv", pd.DataFrame([r for r in run_settings if r["task"] == task]))
        (root / task / "task.json").write_text(json.dumps(GMM_RECORD))
        write_csv(root / task / "noise_floor.csv", floor_rows(0.03, task=task, n=200, probe_n=100))
        for name in GMM_FIGURES:
            f = root / task / "figures" / f"{name}.png"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(tiny_png())
        write_csv(root / task / "metrics.csv", pd.DataFrame(rows).query("task == @task"))
    if with_images:
        write_csv(root / "images" / "metrics.csv", image_stage(datasets=image_datasets))
        for i, ds in enumerate(image_datasets):
            for name in R.IMAGE_FIGURE_NAMES:
                f = root / "images" / ds / "figures" / f"{name}.png"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(tiny_png((0, 255 - i, 0)))
    if with_benchmark:
        b = root / "benchmark"
        b.mkdir(parents=True)
        step_costs().to_csv(b / "step_costs.csv", index=False)
        frac = {str(bs): {"batch_size": bs, "step_gflops": 10.0 * k, "matmul_gflops": 40.0,
                          "fraction": 0.25 * k} for k, bs in ((1, 400), (2, 1600))}
        (b / "matmul_fraction.json").write_text(json.dumps({"device": "cpu", "fractions": frac}))
        (b / "scaling.png").write_bytes(tiny_png((0, 0, 255)))
        pd.DataFrame({"metric": "w2", "n": [500, 500, 2000, 2000], "label": 0, "repeat": [0, 1, 0, 1],
                      "value": [0.06, 0.08, 0.03, 0.03], "seconds": [0.1, 0.1, 1.0, 1.2]}
                     ).to_csv(b / "metric_precision.csv", index=False)
        pd.DataFrame({"method": ["ours/paper"] * 3, "batch_size": 1600,
                      "group": ["matmul", "element-wise/reduction", "wall (profiled step)"],
                      "self_seconds_per_step": [0.8, 0.2, 1.1], "share": [0.8, 0.2, float("nan")]}
                     ).to_csv(b / "op_profile.csv", index=False)
    prov = {"config_digest": "0123456789abcdef", "configfiles": ["config/smoke.yaml"],
            "command": R.reproduce_command(["config/smoke.yaml"]),
            "config": {"tasks": {"gmm": {"kind": "gmm", "labels": "all",
                                         "train": {"iterations": 20, "batch_size": 128}, "n_eval": 200}}},
            "packages": {"numpy": "2.0", "python": "3.11.0"},
            "hardware": {"platform": "Linux", "cpu_count": 2, "cuda_available": False, "cuda_device": None},
            "git": {"commit": None, "dirty": None},
            "benchmarks": R.summarise_benchmarks([
                {"file": "a/train.tsv", "rule": "train_gmm", "s": 3.0, "cpu_time": 2.0, "max_rss": 300.0},
                {"file": "b/evaluate.tsv", "rule": "evaluate_gmm", "s": 1.0, "cpu_time": 1.0, "max_rss": 200.0}])}
    (root / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True))
    return root


def test_render_from_fake_results(tmp_path):
    res = fake_results(tmp_path / "results")
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"])
    expected = R.report_outputs(out, TWO_TASKS)
    assert sorted(str(p) for p in written.values()) == sorted(expected)
    for p in expected:
        assert Path(p).exists(), p
    md = (out / "README.md").read_text()
    assert md.startswith("# Replication report")
    for section in ("## Claims", "## Diverged runs", "## Results per task", "## Table 1", "## Figures",
                    "## How it was produced"):
        assert section in md
    for cid in R.CLAIMS:
        assert f"| {cid} " in md
    assert "figures/gmm/fig5_1.png" in md and "figures/gmm_some/w2_vs_time.png" in md
    assert "0123456789abcdef" in md and "snakemake --cores all --configfile config/smoke.yaml" in md
    assert "| train_gmm " in md and "| total " in md
    assert str(tmp_path) not in md  # no absolute paths
    sec = md[md.index("### The Gaussian-mixture claims on every label map"):md.index("## Diverged runs")]
    head = next(line for line in sec.splitlines() if line.startswith("| #"))
    assert [c.strip() for c in head.split("|")[1:-1]] == ["#", "verdict on `gmm`", "verdict on `gmm_some`"]
    assert "Evidence on `gmm_some`:" in sec
    by_task = pd.read_csv(out / "tables" / "claims_by_task.csv")
    assert sorted(set(by_task["task"])) == ["gmm", "gmm_some"] and len(by_task) == 2 * len(R.TASK_CLAIMS)
    claims = pd.read_csv(out / "tables" / "claims.csv")
    verdicts = dict(zip(claims["id"], claims["verdict"]))
    assert verdicts["C1"] == R.REPRODUCED          # q = W2 0.085 / floor 0.03 = 2.8, accuracy 1.0
    assert verdicts["C2"] == R.REPRODUCED          # r = 0.11 / 0.085 = 1.29
    assert verdicts["C3"] == R.REPRODUCED          # r = 3.86, p small
    assert verdicts["C4"] == R.PARTLY              # ramp_fast r = 2.7 with one seed; no_ramp diverged
    assert verdicts["C5"] == R.NOT_TESTED
    assert verdicts["C6"] == R.REPRODUCED          # r = 0.01 / 0.03 = 0.33
    assert verdicts["C7"] == R.NOT_TESTED and verdicts["C8"] == R.NOT_TESTED
    div = pd.read_csv(out / "tables" / "diverged.csv")
    assert len(div) == 2 and set(div["variant"]) == {"no_ramp"}
    assert "2 of 18 runs stopped on a non-finite loss" in md
    assert "; 2 runs diverged." in md.split("## Claims")[0]     # the summary counts runs, not seeds
    summary = pd.read_csv(out / "tables" / "summary_gmm.csv")
    assert summary["method"].tolist()[:1] == ["ours"]
    assert summary.set_index("variant").loc["no_ramp", "diverged"] == 1
    assert (out / "figures" / "gmm" / "fig5_2.png").read_bytes() == tiny_png()
    # the stated settings are what the runs recorded (runs.csv), not the config's 20 for every run
    # (the common budget, then the runs with another: 5 INN runs of 40, ours' and the cINN's 3 of 20)
    assert "40 (20: cinn/default, ours/paper) iterations of batch 64; 200 posterior samples" in md
    assert "Training device of the runs: cpu (16 runs)" in md
    # time to quality comes from the rows evaluation wrote, against the threshold it used
    ttt = pd.read_csv(out / "tables" / "time_to_w2.csv")
    assert len(ttt) == 16 and set(ttt["threshold"]) == {0.144}
    assert ttt[ttt["method"] == "ours"]["reached"].all() and not ttt[ttt["variant"] == "forward_only"]["reached"].any()
    assert "Time to a probe W2 <= 0.144 (3 x its floor 0.048 at n = 100" in md


def test_mixture_claims_only_on_tasks_they_apply_to(tmp_path):
    """A task whose record does not take the paper's mixture claims (a continuous task) gets its
    summary and figures but no C1-C4 rows; its forward metric is its own column."""
    res = fake_results(tmp_path / "results")
    rows = []
    for method, variant in (("ours", "linear"), ("cinn", "linear")):
        for r in run_rows(method, variant, 0, w2=0.3, task="lin"):
            rows.append({**r, "metric": "y_rmse"} if r["metric"] == "accuracy" else r)
    (res / "lin").mkdir()
    write_csv(res / "lin" / "metrics.csv", pd.DataFrame(rows))
    figs = ["posterior_pairs", "w2_comparison"]
    (res / "lin" / "task.json").write_text(json.dumps(
        {**GMM_RECORD, "kind": "gaussian_linear", "conditions": "continuous", "paper_claims": False,
         "figures": figs, "forward_metrics": ["y_rmse"], "description": "Kind `gaussian_linear`."}))
    for name in figs:
        (res / "lin" / "figures").mkdir(exist_ok=True)
        (res / "lin" / "figures" / f"{name}.png").write_bytes(tiny_png())
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some", "lin"])
    assert sorted(map(str, written.values())) == sorted(
        R.report_outputs(out, {**TWO_TASKS, "lin": figs}))
    by_task = pd.read_csv(out / "tables" / "claims_by_task.csv")
    assert set(by_task["task"]) == {"gmm", "gmm_some"}
    summary = pd.read_csv(out / "tables" / "summary_lin.csv")
    assert "y_rmse" in summary.columns and "accuracy" not in summary.columns
    md = (out / "README.md").read_text()
    assert "Kind `gaussian_linear`." in md and "figures/lin/posterior_pairs.png" in md
    assert "verdict on `lin`" not in md


def test_render_is_deterministic(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    a = R.render_report(res, tmp_path / "a")
    b = R.render_report(res, tmp_path / "b")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    md = a["README.md"].read_text()
    assert "| mnist " in md and "0.984" in md   # Table 1 with the paper's numbers beside ours
    claims = pd.read_csv(tmp_path / "a" / "tables" / "claims.csv")
    verdicts = dict(zip(claims["id"], claims["verdict"]))
    assert verdicts["C7"] == R.REPRODUCED and verdicts["C8"] == R.REPRODUCED


def test_render_with_images(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, image_datasets=("mnist",))
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"], image_datasets=["mnist"])
    expected = R.report_outputs(out, TWO_TASKS, ["mnist"])
    assert sorted(str(p) for p in written.values()) == sorted(expected)
    # ours' and the cINN's figures; a baseline's (its png lies in results/) only where it has metrics
    assert not any("cvae" in p for p in expected)
    for name in DEFAULT_FIGURES:
        assert f"{out}/figures/images/mnist/{name}.png" in expected
        assert (out / "figures" / "images" / "mnist" / f"{name}.png").read_bytes() == tiny_png((0, 255, 0))
    assert not any("fashion-mnist" in p for p in expected)
    md = (out / "README.md").read_text()
    assert "and on MNIST." in md
    # extended Table 1: every method, the paper's number, the seed count
    row = next(line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" in line)
    for cell in ("0.9790 ± 0.0127", "0.9690 ± 0.0127", "0.9840 ± 0.0127", "0.9890 ± 0.0127", "| 2 "):
        assert cell in row, (cell, row)
    fashion = next(line for line in md.splitlines() if line.startswith("| fashion-mnist ") and "0.901" in line)
    assert fashion.count("not run") == 4
    assert "CNN (real images)" in md and "cINN (Bayes' rule)" in md
    # generated images table and the figures with captions
    assert "## Generated images (Fig. 5.3, Fig. 5.4)" in md
    gen_rows = [line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" not in line]
    assert [r.split("|")[2].strip() for r in gen_rows] == ["ours", "cINN"]
    assert "0.955 ± 0.064" in gen_rows[0]
    for name in DEFAULT_FIGURES:
        assert f"](figures/images/mnist/{name}.png)" in md
    assert "fig5_3_cvae" not in md
    assert "one row per class, 20 samples each" in md and "thickness, slant" in md
    gen = pd.read_csv(out / "tables" / "image_generation.csv")
    assert gen["method"].tolist() == ["ours", "cinn"]
    t1 = pd.read_csv(out / "tables" / "table1.csv")
    assert {"cinn_accuracy_mean", "latent_classifier_n_seeds", "cnn_accuracy_ci95"} <= set(t1.columns)
    claims = dict(zip(*pd.read_csv(out / "tables" / "claims.csv")[["id", "evidence"]].T.values))
    assert "style_consistency" in claims["C8"]
    # the cost section says the benchmark was not run, and so does C6
    assert "## Cost of training" in md and "The performance benchmark was not run" in md
    assert "benchmark (`snakemake benchmark`) was not run" in claims["C6"]


def test_report_outputs_image_datasets():
    base = R.report_outputs("report", {"gmm": GMM_FIGURES})
    assert base == R.report_outputs("report", {"gmm": GMM_FIGURES}, []) == R.report_outputs("report", {"gmm": GMM_FIGURES}, None)
    assert not any("/images/" in p for p in base)
    both = R.report_outputs("report", {"gmm": GMM_FIGURES}, ["mnist", "fashion-mnist"])
    extra = sorted(set(both) - set(base))
    assert extra == sorted(f"report/figures/images/{d}/{n}.png" for d in ("mnist", "fashion-mnist")
                           for n in DEFAULT_FIGURES)
    with_cfm = R.report_outputs("report", {"gmm": GMM_FIGURES}, ["mnist"], flow_figures(("ours", "cinn", "cfm")))
    assert sorted(set(with_cfm) - set(base)) == sorted(
        f"report/figures/images/mnist/{n}.png" for n in (*DEFAULT_FIGURES, "fig5_3_cfm", "fig5_4_cfm"))
    assert "report/tables/image_generation.csv" in base
    assert not any("benchmark" in p for p in both)   # the optional benchmark is never declared


def test_render_with_benchmark(tmp_path):
    res = fake_results(tmp_path / "results", with_benchmark=True)
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"])
    expected = R.report_outputs(out, TWO_TASKS)
    # every declared output, plus the benchmark figure and precision table as undeclared side files
    assert sorted(set(str(p) for p in written.values()) - set(expected)) == sorted(
        [str(out / R.BENCH_FIGURE), str(out / "tables" / "metric_precision.csv"),
         str(out / "tables" / "op_profile.csv")])
    assert (out / R.BENCH_FIGURE).read_bytes() == tiny_png((0, 0, 255))
    md = (out / "README.md").read_text()
    prec = md[md.index("### Metric precision"):md.index("## How it was produced")]
    assert "n_eval = 200 samples" in prec
    prof = md[md.index("### Where a training step's time goes"):md.index("### Metric precision")]
    row = next(line for line in prof.splitlines() if line.startswith("| ours/paper "))
    assert [c.strip() for c in row.split("|")[1:-1]] == ["ours/paper", "1600", "0.80", "0.20", "1.100"]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in prec.splitlines()
             if line.startswith("| w2 ")]
    assert cells == [["w2", "500", "0.0700 ± 0.0141", "0.100"], ["w2", "2000", "0.0300 ± 0.0000", "1.100"]]
    sec = md[md.index("## Cost of training"):md.index("## How it was produced")]
    assert "| ours/paper " in sec and "| inn/full " in sec and "| cinn/default " in sec
    assert "| 1600 " in sec and "0.25" in sec           # ratio at 1600: 0.02 / 0.08
    assert "- batch 400: step 10.0 GFLOP/s, matmul 40.0 GFLOP/s: fraction 0.25" in sec
    assert "- batch 1600: step 20.0 GFLOP/s, matmul 40.0 GFLOP/s: fraction 0.50" in sec
    assert sec.index("batch 400:") < sec.index("batch 1600:")
    assert f"]({R.BENCH_FIGURE})" in sec and "on `cpu`" in sec
    claims = pd.read_csv(out / "tables" / "claims.csv").set_index("id")
    assert claims.loc["C6", "evidence"].startswith("benchmark, one process, one method at a time, batch 1600")
    assert "r = 0.25" in claims.loc["C6", "evidence"] and claims.loc["C6", "verdict"] == R.REPRODUCED
    # the benchmark removed from results/: the section says so and the stale figure goes
    for f in (res / "benchmark").iterdir():
        f.unlink()
    (res / "benchmark").rmdir()
    R.render_report(res, out, tasks=["gmm", "gmm_some"])
    assert not (out / R.BENCH_FIGURE).exists()
    assert not (out / "tables" / "metric_precision.csv").exists()
    assert not (out / "tables" / "op_profile.csv").exists()
    assert "The performance benchmark was not run" in (out / "README.md").read_text()


def test_render_benchmark_without_figure_or_fraction(tmp_path):
    res = fake_results(tmp_path / "results", with_benchmark=True)
    (res / "benchmark" / "scaling.png").unlink()
    (res / "benchmark" / "matmul_fraction.json").unlink()
    written = R.render_report(res, tmp_path / "report", tasks=["gmm"])
    assert R.BENCH_FIGURE not in written
    md = written["README.md"].read_text()
    assert "*scaling.png: not produced.*" in md and "No matmul fraction" in md
    assert "| ours/paper " in md


def test_render_without_provenance_or_runs(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    written = R.render_report(res, tmp_path / "report", tasks=[])
    md = written["README.md"].read_text()
    assert "No results/provenance.json" in md
    assert md.count("**not tested**") == len(R.CLAIM_SPECS)


def test_collect_provenance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "results" / "benchmarks" / "gmm" / "train.tsv"
    f.parent.mkdir(parents=True)
    f.write_text("s\tmax_rss\tcpu_time\n2.5\t100\t2.0\n")
    cfg = {"tasks": {"gmm": {}}, "device": "cpu"}
    p = R.collect_provenance(cfg, ["config/smoke.yaml"], "results/benchmarks",
                             {"train_gmm": "results/benchmarks/{task}/train.tsv"})
    from flowbench.config import digest
    assert p["config_digest"] == digest(cfg)
    assert p["command"] == "snakemake --cores all --configfile config/smoke.yaml"
    assert set(R.PACKAGES) | {"python"} <= set(p["packages"])
    assert p["packages"]["pot"] and p["packages"]["numpy"] == np.__version__
    assert {"platform", "cpu_count", "cuda_available", "cuda_device"} <= set(p["hardware"])
    assert p["benchmarks"]["per_rule"]["train_gmm"]["s"] == 2.5
    json.dumps(p)  # serialisable


def test_render_epoch_curve_section_and_stale_copies(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, image_datasets=("mnist",))
    cdir = res / "images" / "epoch_curve"
    cdir.mkdir(parents=True)
    pd.DataFrame({"dataset": "fashion-mnist", "seed": 0, "epoch": [1, 2],
                  "train_loss": [30.5, 20.25], "test_reconstruction_mse": [29.0, 19.5],
                  "latent_classifier_accuracy": [0.80, 0.85], "ours_accuracy": [float("nan"), 0.8512],
                  "ae_train_seconds": [100.0, 200.0], "probe_seconds": [5.0, 9.0]}
                 ).to_csv(cdir / "fashion-mnist.csv", index=False)
    (cdir / "fashion-mnist.png").write_bytes(tiny_png((0, 0, 255)))
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm"], image_datasets=["mnist"])
    assert "tables/epoch_curve_fashion-mnist.csv" in written
    assert (out / "figures/images/epoch_curve_fashion-mnist.png").read_bytes() == tiny_png((0, 0, 255))
    md = (out / "README.md").read_text()
    assert "## Accuracy against auto-encoder epochs" in md
    section = md.split("## Accuracy against auto-encoder epochs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert rows[0].split("|")[4].strip() == "0.8000" and rows[0].split("|")[5].strip() == ""
    assert rows[1].split("|")[5].strip() == "0.8512"
    # without the curve in results/, the copies and the section go away
    for p in cdir.iterdir():
        p.unlink()
    R.render_report(res, out, tasks=["gmm"], image_datasets=["mnist"])
    assert not (out / "tables/epoch_curve_fashion-mnist.csv").exists()
    assert not (out / "figures/images/epoch_curve_fashion-mnist.png").exists()
    assert "auto-encoder epochs" not in (out / "README.md").read_text()


def test_lock_file_in_provenance_and_report(tmp_path, monkeypatch):
    """Provenance records the lock file's path, SHA-256 and the packages that differ from it; the
    report names the file and its digest and says to install from it."""
    import hashlib
    from importlib import metadata
    lock = tmp_path / "requirements" / "lock.txt"
    lock.parent.mkdir()
    lock.write_text(f"NumPy=={metadata.version('numpy')} \\\n    --hash=sha256:{'a' * 64} \\\n"
                    f"    --hash=sha256:{'c' * 64}\n    # via flowbench (pyproject.toml)\n"
                    f"tabulate==0.0.1 \\\n    --hash=sha256:{'b' * 64}\n    # via flowbench\n")
    assert R.read_lock(lock) == {"numpy": {"version": metadata.version("numpy"),
                                           "hashes": [f"sha256:{'a' * 64}", f"sha256:{'c' * 64}"]},
                                 "tabulate": {"version": "0.0.1", "hashes": [f"sha256:{'b' * 64}"]}}
    monkeypatch.chdir(tmp_path)
    p = R.collect_provenance({"tasks": {}}, [], "results/benchmarks")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    assert p["lock_file"] == {"path": "requirements/lock.txt", "sha256": digest,
                              "differs": [f"tabulate 0.0.1 locked, {metadata.version('tabulate')} installed"]}

    res = fake_results(tmp_path / "results")
    prov = json.loads((res / "provenance.json").read_text())
    prov["lock_file"] = p["lock_file"]
    prov["packages"]["torch"] = "2.13.0+cpu"
    (res / "provenance.json").write_text(json.dumps(prov))
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert f"lock file `requirements/lock.txt`, SHA-256 `{digest}`" in md
    assert "1 installed package differed from it: tabulate 0.0.1 locked" in md
    assert ("`pip install torch==2.13.0`, then `pip install --require-hashes -r requirements/lock.txt` "
            "and `pip install --no-deps -e .`") in md
    # a run that matched the lock says so; one without a lock file says that
    prov["lock_file"]["differs"] = []
    (res / "provenance.json").write_text(json.dumps(prov))
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert "every package it pins was installed at its locked version" in md
    lock.unlink()
    assert R.lock_provenance() == {"path": "requirements/lock.txt", "sha256": None, "differs": []}
    prov["lock_file"] = R.lock_provenance()
    (res / "provenance.json").write_text(json.dumps(prov))
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert "no lock file `requirements/lock.txt` was found" in md and "after `pip install -e .`" in md


# ----------------------------------------------------------------------------------------------
# the report package: claims as data, captions in one place, no torch, atomic files
# ----------------------------------------------------------------------------------------------
def test_claims_tables_read_the_claim_specs(tmp_path):
    """One structure holds each claim's words, the runs it needs and its rule; the claims table
    and the README's claims table both show them from there."""
    assert [s.id for s in R.CLAIM_SPECS] == list(R.CLAIMS) == list(R.RULES) == [
        "C1", "C2", "C2b", "C3", "C4", "C4b", "C5", "C6", "C6b", "C7", "C8", "C9"]
    for s in R.CLAIM_SPECS:
        assert s.claim and s.rule and s.needs and all(isinstance(n, str) and n for n in s.needs)
        assert R.CLAIMS[s.id] == s.claim and R.RULES[s.id] == s.rule
    assert set(R.TASK_CLAIMS) <= set(R.CLAIMS)
    res = fake_results(tmp_path / "results")
    written = R.render_report(res, tmp_path / "report", tasks=["gmm", "gmm_some"])
    claims = pd.read_csv(written["tables/claims.csv"])
    specs = {s.id: s for s in R.CLAIM_SPECS}
    assert claims["claim"].tolist() == [specs[c].claim for c in claims["id"]]
    assert claims["rule"].tolist() == [specs[c].rule for c in claims["id"]]
    by_task = pd.read_csv(written["tables/claims_by_task.csv"])
    assert by_task["rule"].tolist() == [specs[c].rule for c in by_task["id"]]
    md = written["README.md"].read_text()
    for s in R.CLAIM_SPECS:
        assert f"| {s.id} " in md and s.claim in md and s.rule in md


def test_image_captions_live_in_captions():
    from flowbench.captions import IMAGE_CAPTIONS, figure_caption
    assert R.IMAGE_FIGURE_NAMES == tuple(IMAGE_CAPTIONS)
    assert R.IMAGE_FIGURE_NAMES[:4] == DEFAULT_FIGURES == ("fig5_3", "fig5_4", "fig5_3_cinn", "fig5_4_cinn")
    for name, text in IMAGE_CAPTIONS.items():
        assert text and figure_caption(name) == text


def test_report_imports_no_torch(tmp_path):
    """The report reads results/ only: importing it, and rendering, loads no training or benchmark
    code and so no torch."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", "import flowbench.report, sys; assert 'torch' not in sys.modules"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    code = ("import sys; from flowbench import report; report.render_report(sys.argv[1], sys.argv[2]); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flowbench'))")
    done = subprocess.run([sys.executable, "-c", code, str(res), str(tmp_path / "report")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report" / "README.md").exists()


def test_metric_columns_agree_with_io():
    """flowbench.tables defines the tidy columns itself (flowbench.io imports torch); both agree."""
    from flowbench import io
    assert T.METRIC_COLUMNS == io.METRIC_COLUMNS


def test_report_files_are_written_atomically(tmp_path, monkeypatch):
    from flowbench.report import files
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    out = tmp_path / "report"
    R.render_report(res, out)
    assert not [p for p in out.rglob(".*")]   # no temporary file left behind
    f = out / "README.md"
    before = f.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(files.os, "replace", fail)
    for write in (lambda: files.write_text(f, "partial"), lambda: files.copy(res / "provenance.json", f)):
        with pytest.raises(OSError, match="disk full"):
            write()
        assert f.read_bytes() == before           # the old file stays whole
        assert not [p for p in out.glob(".*")]


def _tidy_rows(task, method, variant, seeds, w2, extra=None):
    rows = []
    for s in seeds:
        for c in ("0", "1"):
            rows.append((task, method, variant, s, c, "w2", w2[s]))
            rows.append((task, method, variant, s, c, "c2st", 0.6))
            for k, v in (extra or {}).items():
                rows.append((task, method, variant, s, c, k, v))
        rows.append((task, method, variant, s, "", "diverged", 0.0))
        rows.append((task, method, variant, s, "", "seconds_per_iteration", 0.1))
    return rows


def test_summary_extra_columns_and_ranking_by_geometric_mean():
    rows = (_tidy_rows("t", "ours", "paper", [0, 1], {0: 0.1, 1: 0.1}, {"mode_weight_tv": 0.02})
            + _tidy_rows("t", "ours", "eps_0.2", [0, 1], {0: 0.01, 1: 0.01}, {"mode_weight_tv": 0.5})
            + _tidy_rows("t", "inn", "full", [0, 1], {0: 0.04, 1: 0.4}, {"mode_weight_tv": 0.1})
            + _tidy_rows("t", "cgan", "default", [0, 1], {0: 0.05, 1: 0.05}, {"mode_weight_tv": 0.3}))
    m = pd.DataFrame(rows, columns=T.METRIC_COLUMNS)
    s = T.summary_table(m, "t", forward=(), extra=("mode_weight_tv",))
    assert list(s.columns).index("mode_weight_tv") == list(s.columns).index("c2st_mean") + 1
    assert s.set_index(["method", "variant"]).loc[("inn", "full"), "mode_weight_tv"] == pytest.approx(0.1)
    # the recipe, not the best variant, represents a method: ours/eps_0.2 (W2 0.01) is not picked
    r = T.ranking_table(s, {"ours": "paper", "inn": "full", "cgan": "default"})
    assert list(r["method"]) == ["cgan", "ours", "inn"]        # geometric means 0.05, 0.1, 0.126
    assert list(r["rank"]) == [1, 2, 3] and list(r["variant"]) == ["default", "paper", "full"]
    # without recipes a method's first variant in report order stands for it
    assert T.ranking_table(s).set_index("method").loc["ours", "variant"] == "paper"


def _c9_metrics(ours, inn_full, inn_orig, task="arm"):
    rows = []
    for variant, method, vals in (("arm", "ours", ours), ("arm", "inn", inn_full), ("arm_orig16", "inn", inn_orig)):
        rows += _tidy_rows(task, method, variant, list(range(len(vals))), dict(enumerate(vals)))
    return pd.DataFrame(rows, columns=T.METRIC_COLUMNS)


@pytest.mark.parametrize("ours, inn_full, inn_orig, expected", [
    # ours clearly better than both INN networks: at least as good
    ([0.05, 0.06, 0.05, 0.055, 0.05], [0.2, 0.25, 0.3, 0.22, 0.21], [0.15, 0.2, 0.18, 0.17, 0.16], "reproduced"),
    # ours a little worse than one net, within noise: still at least as good under the rule
    ([0.10, 0.13, 0.09, 0.12, 0.11], [0.09, 0.12, 0.10, 0.11, 0.10], [0.3, 0.3, 0.3, 0.3, 0.31], "reproduced"),
    # the original-code INN is 3x better on every seed: significant, so C9 fails
    ([0.30, 0.31, 0.29, 0.30, 0.32], [0.3, 0.3, 0.31, 0.3, 0.3], [0.10, 0.11, 0.10, 0.09, 0.10], "not reproduced"),
    # 2x worse but with two seeds only of the INN and a wide spread: not significant, partly
    ([0.2, 0.5, 0.1, 0.3, 0.2], [0.05, 0.4], [0.3, 0.3, 0.3, 0.3, 0.3], "partly"),
])
def test_c9_rule_passes_and_fails(ours, inn_full, inn_orig, expected):
    from flowbench.report.claims import claim_c9, claim_c9_task
    m = _c9_metrics(ours, inn_full, inn_orig)
    rec = {"arm": {"practical": True, "recipes": {"ours": "arm", "inn": "arm"}}}
    c = claim_c9_task(m, "arm", rec["arm"])
    assert c.verdict == expected, c.evidence
    assert "inn/arm_orig16" in c.evidence and "Holm p" in c.evidence
    assert claim_c9(m, rec).verdict == expected
    # no practical task: not tested; ours absent: not tested
    assert claim_c9(m, {"arm": {"practical": False}}).verdict == "not tested"
    assert claim_c9_task(m[m["method"] != "ours"], "arm", rec["arm"]).verdict == "not tested"


def test_c9_decides_on_the_recipe_and_shows_other_variants_of_ours_beside_it():
    """A variant of ours that beats the INN (added after the data were seen) is shown under the same
    rule but does not turn a failing recipe into a pass; without other variants nothing is added."""
    from flowbench.report.claims import claim_c9_task
    bad, good = [3.0, 30.0, 2.0, 10.0, 4.0], [0.30, 0.31, 0.29, 0.30, 0.32]
    inn = [0.47, 0.46, 0.48, 0.47, 0.47]
    m = _c9_metrics(bad, inn, inn)
    rec = {"practical": True, "recipes": {"ours": "arm", "inn": "arm"}}
    alone = claim_c9_task(m, "arm", rec)
    assert alone.verdict == "not reproduced" and "not in the verdict" not in alone.evidence
    extra = pd.DataFrame(_tidy_rows("arm", "ours", "arm_eps_0.1", list(range(5)), dict(enumerate(good))),
                         columns=T.METRIC_COLUMNS)
    c = claim_c9_task(pd.concat([m, extra]), "arm", rec)
    assert c.verdict == "not reproduced", c.evidence
    head, beside = c.evidence.split("; beside the recipe, not in the verdict: ")
    assert head == alone.evidence
    assert beside.startswith("W2(ours/arm_eps_0.1) = 0.304") and beside.endswith("(would be reproduced)")


def test_reference_quality_lines_from_the_task_record():
    from flowbench.report.sections.tasks import reference_lines
    assert reference_lines({"kind": "gmm"}) == [] and reference_lines(None) == []
    rec = {"reference": {"keep": 4000, "pool": 100_000_000, "n_quality": 2000, "per_condition": {
        "ystar": {"radius": 0.03, "resim_error": 0.02, "radius_small_pool": 0.09,
                  "w2_full_vs_small_pool": 0.364, "w2_split_floor": 0.193},
        "0": {"radius": 0.004, "resim_error": 0.003, "radius_small_pool": 0.012,
              "w2_full_vs_small_pool": 0.07, "w2_split_floor": 0.07}}}}
    text = "\n".join(reference_lines(rec))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    assert "100,000,000" in text
    assert ["ystar", "0.03", "0.02", "0.09", "0.364", "0.193"] in cells
    assert [c[0] for c in cells[1:]] == ["0", "ystar"], cells


def test_task_description_names_the_runs_with_another_budget():
    import pandas as pd
    from flowbench.report.sections.tasks import task_description
    runs = pd.DataFrame({"task": "gmm", "method": ["ours", "ours", "inn", "inn"],
                         "variant": ["paper", "paper_4x", "full", "full_4x"],
                         "iterations": [400, 1600, 400, 1600 * 2], "batch_size": 1600, "n_eval": 2000})
    text = task_description("gmm", {"description": "Eight modes"}, runs)
    assert text.startswith("Eight modes. ")
    # the common budget once, each other one with the runs that used it
    assert "400 (1600: ours/paper_4x; 3200: inn/full_4x) iterations of batch 1600" in text
    assert "2000 posterior samples" in text
    one = task_description("gmm", {"description": "Eight modes."}, runs[runs["iterations"] == 400])
    assert "Eight modes. 400 iterations of batch 1600;" in one
    assert task_description("gmm", None, runs) == ""


def test_ceiling_lines_put_the_longer_runs_beside_their_recipe():
    from types import SimpleNamespace
    import pandas as pd
    from flowbench.report.sections.tasks import ceiling_lines
    runs = pd.DataFrame({"task": "gmm", "method": ["ours", "ours", "inn", "inn", "cfm"],
                         "variant": ["paper", "paper_4x", "full", "full_4x", "default"],
                         "iterations": [400, 1600, 400, 1600, 400]})
    summary = pd.DataFrame({"method": ["ours", "ours", "inn", "inn", "cfm"],
                            "variant": ["paper", "paper_4x", "full", "full_4x", "default"],
                            "w2_gm": [0.08, 0.032, 0.16, 0.064, 0.07], "w2_over_floor": [2.5, 1.0, 5.0, 2.0, 2.2],
                            "w2_n": [5, 1, 5, 1, 5]})
    rec = {"recipes": {"ours": "paper", "inn": "full", "cfm": "default"}}
    ctx = SimpleNamespace(summaries={"gmm": summary}, runs=runs, records={"gmm": rec})
    text = "\n".join(ceiling_lines("gmm", ctx))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    assert ["ours/paper_4x", "1,600", "1", "0.032", "1.00", "ours/paper", "400", "5", "0.080", "2.50", "0.40"] in cells
    assert [c[0] for c in cells[1:]] == ["ours/paper_4x", "inn/full_4x"]   # ours first; cfm has none
    assert "inn/full_4x / ours/paper_4x (W2) = 2.00 at the ceilings, against inn/full / ours/paper = 2.00" in text
    assert "with one seed this is shown, not tested" in text
    # no run beyond the common budget: no section
    ctx.runs = runs[runs["iterations"] == 400]
    assert ceiling_lines("gmm", ctx) == []


def test_ours_variant_lines_apply_c5s_rule_off_the_mixture():
    from types import SimpleNamespace
    import numpy as np
    import pandas as pd
    from flowbench.report.sections.tasks import ours_variant_lines
    rng = np.random.default_rng(3)
    rows, runs = [], []
    for variant, gm in (("linear", 0.1), ("linear_eps_0.1", 0.3), ("eps_big", 0.02), ("pad", 0.105),
                        ("long", 0.05)):
        for seed in range(5):
            w = gm * np.exp(0.1 * rng.standard_normal())
            rows += [dict(task="t", method="ours", variant=variant, seed=seed, condition=c, metric="w2", value=w)
                     for c in ("0", "1")]
            runs.append(dict(task="t", method="ours", variant=variant, seed=seed,
                             iterations=4000 if variant == "long" else 1000))
    ctx = SimpleNamespace(metrics=pd.DataFrame(rows), runs=pd.DataFrame(runs),
                          records={"t": {"paper_claims": False, "recipes": {"ours": "linear"}}})
    text = "\n".join(ours_variant_lines("t", ctx))
    assert "against its recipe ours/linear" in text
    assert "ours/linear_eps_0.1: W2 0.3" in text and "worse (sensitive)" in text
    assert "ours/eps_big:" in text and "better beyond the interval" in text
    assert "ours/pad:" in text and "not separated" in text
    assert "ours/long" not in text          # a ceiling run (more iterations) is not a variant here
    # the mixture tasks: C5 tests ours's variants there
    ctx.records["t"]["paper_claims"] = True
    assert ours_variant_lines("t", ctx) == []


def test_summary_counts_diverged_runs_in_words():
    from flowbench.report.sections.claims import _diverged_runs
    assert [_diverged_runs(n) for n in (0, 1, 3)] == ["no run diverged", "1 run diverged", "3 runs diverged"]


def test_git_state_ignores_the_rendered_report_but_not_the_code(tmp_path):
    import shutil
    import subprocess
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "README.md").write_text("old report\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is False
    (tmp_path / "report" / "README.md").write_text("rendered again\n")
    (tmp_path / "untracked.txt").write_text("ignored\n")
    assert R.git_state(tmp_path)["dirty"] is True                   # the report is tracked
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is False
    assert R.git_state(tmp_path, ignore=["report/"])["commit"]
    (tmp_path / "code.py").write_text("x = 2\n")
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is True


def test_summary_says_verdicts_on_too_few_seeds_are_not_tests(tmp_path, monkeypatch):
    from flowbench.report.sections import claims as S
    res = fake_results(tmp_path / "results")
    prov = json.loads((res / "provenance.json").read_text())
    prov["configfiles"] = ["config/paper_figures.yaml"]          # not a smoke run
    (res / "provenance.json").write_text(json.dumps(prov))
    most = max(len(w2s) for _, _, w2s, _ in RUNS)
    R.render_report(res, tmp_path / "a", tasks=["gmm", "gmm_some"])
    head = (tmp_path / "a" / "README.md").read_text().split("## ")[0]
    assert f"Every run here has at most {most} seeds" in head and "not as tests" in head
    monkeypatch.setattr(S, "TEST_SEEDS", most)                   # enough seeds: no caveat
    R.render_report(res, tmp_path / "b", tasks=["gmm", "gmm_some"])
    assert "not as tests" not in (tmp_path / "b" / "README.md").read_text()
