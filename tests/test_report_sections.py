"""The README's sections and the tables behind them, one function at a time: captions, the summary
and ranking tables, each task's reference, budgets, ceilings and the variants of ours."""
import json

import pandas as pd
import pytest

from conftest import tidy_rows
from flowbench import report as R
from flowbench import tables as T
from flowbench.images.names import DEFAULT_FIGURES


# ----------------------------------------------------------------------------------------------
# captions and the tidy columns
# ----------------------------------------------------------------------------------------------
def test_image_captions_live_in_captions():
    from flowbench.captions import IMAGE_CAPTIONS, figure_caption
    assert R.IMAGE_FIGURE_NAMES == tuple(IMAGE_CAPTIONS)
    assert R.IMAGE_FIGURE_NAMES[:4] == DEFAULT_FIGURES == ("fig5_3", "fig5_4", "fig5_3_cinn", "fig5_4_cinn")
    for name, text in IMAGE_CAPTIONS.items():
        assert text and figure_caption(name) == text


def test_metric_columns_agree_with_io(tmp_path):
    """flowbench.tables defines the tidy columns (flowbench.io, which imports torch, takes them from
    there): both spell the schema below, and io's aggregate_metrics writes that header."""
    from flowbench import io
    expected = ["task", "method", "variant", "seed", "condition", "metric", "value"]
    assert T.METRIC_COLUMNS == expected
    run = tmp_path / "metrics.json"
    io.write_json(run, [dict(zip(expected, ["gmm", "ours", "paper", 0, "0", "w2", 0.1]))])
    io.aggregate_metrics([run], tmp_path / "metrics.csv")
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",") == expected


# ----------------------------------------------------------------------------------------------
# the tables of each task
# ----------------------------------------------------------------------------------------------
def test_summary_extra_columns_and_ranking_by_geometric_mean():
    rows = (tidy_rows("t", "ours", "paper", [0, 1], {0: 0.1, 1: 0.1}, {"mode_weight_tv": 0.02})
            + tidy_rows("t", "ours", "eps_0.2", [0, 1], {0: 0.01, 1: 0.01}, {"mode_weight_tv": 0.5})
            + tidy_rows("t", "inn", "full", [0, 1], {0: 0.04, 1: 0.4}, {"mode_weight_tv": 0.1})
            + tidy_rows("t", "cgan", "default", [0, 1], {0: 0.05, 1: 0.05}, {"mode_weight_tv": 0.3}))
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


# ----------------------------------------------------------------------------------------------
# the summary
# ----------------------------------------------------------------------------------------------
def test_summary_counts_diverged_runs_in_words():
    from flowbench.report.sections.claims import _diverged_runs
    assert [_diverged_runs(n) for n in (0, 1, 3)] == ["no run diverged", "1 run diverged", "3 runs diverged"]


def test_convergence_lines_say_where_each_run_stopped():
    from flowbench.report.sections.tasks import convergence_lines
    rows = []
    for s, (best, stopped) in enumerate([(1200, 1), (2000, 0), (800, 1)]):
        rows += [("arm", "ours", "inverse", s, "", "best_step", best),
                 ("arm", "ours", "inverse", s, "", "stopped_early", stopped)]
    rows += tidy_rows("gmm", "ours", "paper", [0], {0: 0.1})
    metrics = T.tidy(pd.DataFrame(rows, columns=T.METRIC_COLUMNS))
    runs = pd.DataFrame({"task": "arm", "method": "ours", "variant": "inverse", "seed": [0, 1, 2],
                         "iterations": 2000})
    text = "\n".join(convergence_lines("arm", metrics, runs))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    assert ["ours/inverse", "2/3", "1200", "800-2000", "2,000"] in cells
    assert convergence_lines("gmm", metrics, runs) == []       # a fixed budget: no table


def test_eps_split_lines_show_bias_training_and_an_unresolved_target():
    from flowbench.report.sections.tasks import eps_split_lines
    rows = []
    for m, v, eps, kind, distinct in (("ours", "inverse", 0.1, "reparametrised", 1.0),
                                      ("ours", "inverse_eps_0.01", 0.01, "reparametrised", 0.2),
                                      ("inn", "inverse", 0.1, "transport", 1.0)):
        base = {"task": "arm", "method": m, "variant": v, "eps": eps, "target": kind, "condition": "ystar"}
        for q, val in (("bias", 0.25), ("floor", 0.07), ("distinct", distinct), ("far", 0.0), ("pool_draws", 3.2e7)):
            rows.append({**base, "seed": -1, "quantity": q, "value": val})
        for seed, tr in ((0, 0.1), (1, 0.3)):
            rows += [{**base, "seed": seed, "quantity": "training", "value": tr},
                     {**base, "seed": seed, "quantity": "total", "value": tr + 0.2}]
    text = "\n".join(eps_split_lines("arm", pd.DataFrame(rows)))
    assert "| ours/inverse_eps_0.01 | 0.01    | reparametrised (ours) | ystar       | 0.25   | 0.2 (2 seeds)" in text
    assert "| inn/inverse           | 0.1     | transported (INN)     | ystar" in text
    assert "no (20% distinct of 32,000,000 draws)" in text and "| yes" in text
    # ours's rows first, by eps; then the INN's
    assert text.index("ours/inverse_eps_0.01") < text.index("ours/inverse ") < text.index("inn/inverse")
    assert eps_split_lines("arm", None) == []
