"""The image claims on synthetic image metrics: C7 (Table 1) and C8 (z carries no label), and the
tables they read."""
import math

import pandas as pd

from conftest import image_stage
from flowbench import report as R
from flowbench import tables as T


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


# ----------------------------------------------------------------------------------------------
# C7: Table 1
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# C8: z independent of y
# ----------------------------------------------------------------------------------------------
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
