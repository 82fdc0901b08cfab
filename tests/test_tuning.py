"""The tuning studies (flowbench.tuning) and C10's rule (flowbench.report.claims.tuning): the
expected-best curve against brute force, the rule where it must pass and must fail, and a study
that resumes after a kill with the same draws and values as one that ran straight through."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from flowbench import tuning as T
from flowbench.config import load_config_file
from flowbench.report.inputs import load_tuning
from flowbench.report.claims import NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED
from flowbench.report.claims.tuning import (c10_task_verdict, claim_c10, expected_best, study_summary,
                                            trials_to_near_best)


# ------------------------------------------------------------------- the expected-best curve
def test_expected_best_equals_brute_force_over_all_draws_with_replacement():
    values = [0.7, 0.2, 0.5, 0.9]
    curve = expected_best(values)
    for k in (1, 2, 3):
        mins = [min(c) for c in itertools.product(values, repeat=k)]
        row = curve[curve["k"] == k].iloc[0]
        assert row["mean"] == pytest.approx(np.mean(mins), rel=1e-12)
        assert row["sd"] == pytest.approx(np.std(mins), rel=1e-9)
    assert curve["mean"].iloc[0] == pytest.approx(np.mean(values))
    assert expected_best(values, 200)["mean"].iloc[-1] == pytest.approx(min(values), abs=1e-9)
    assert list(curve["mean"]) == sorted(curve["mean"], reverse=True)   # never rises with k


def test_expected_best_refuses_empty_and_non_finite_values():
    with pytest.raises(ValueError, match="at least one"):
        expected_best([])
    with pytest.raises(ValueError, match="finite"):
        expected_best([0.1, math.inf])


def test_trials_to_near_best_counts_the_trials_a_random_search_needs():
    assert trials_to_near_best([0.3, 0.31, 0.32], best=0.3, floor=0.05) == 1   # every draw is near
    # one good draw in four: E[best of k] = 0.3 + 2.7 (3/4)^k <= 0.35 first at k = 14 > 4
    assert trials_to_near_best([0.3, 3.0, 3.0, 3.0], best=0.3, floor=0.05) == 5
    assert trials_to_near_best([0.3, 3.0, 3.0, 3.0], best=0.3, floor=2.0) == 2


# ------------------------------------------------------------------------------- C10's rule
def _flat_and_steep(seed=0):
    rng = np.random.default_rng(seed)
    flat = 0.3 + 0.02 * rng.random(12)                          # every draw near the best
    steep = np.r_[0.3 + 0.02 * rng.random(2), np.full(10, 3.0)]   # 10 of 12 at the useless level
    return flat, steep


def test_c10_is_reproduced_when_ours_is_flat_and_the_inn_needs_many_trials():
    flat, steep = _flat_and_steep()
    v, o = c10_task_verdict(flat, 0.3, steep, 0.3, floor=0.05)
    assert v == REPRODUCED and o["k_ours"] < o["k_inn"] and o["less"] >= 0.8


def test_c10_fails_when_ours_needs_more_trials_than_the_inn():
    flat, steep = _flat_and_steep()
    v, o = c10_task_verdict(steep, 0.3, flat, 0.3, floor=0.05)
    assert v == NOT_REPRODUCED and o["more"] >= 0.8


def test_c10_is_partly_when_the_trials_cannot_tell_them_apart():
    flat, _ = _flat_and_steep()
    assert c10_task_verdict(flat, 0.3, flat + 1e-3, 0.3, floor=0.05)[0] == PARTLY


def test_unstable_trials_count_as_sensitivity():
    """A method whose random trials blow up carries the useless level for them, so the same good
    values with half its draws unstable need more trials and lose C10."""
    flat, _ = _flat_and_steep()
    useless = 3.5
    blown = flat.copy()
    blown[::2] = useless
    v, o = c10_task_verdict(flat, 0.3, blown, 0.3, floor=0.05)
    assert v == REPRODUCED and o["k_inn"] > o["k_ours"]


def _trials(task, method, random_values, best_tpe, unstable=()):
    rows = [{"task": task, "method": method, "phase": "recipe", "state": "complete", "value": 1.0,
             "unstable": False}]
    rows += [{"task": task, "method": method, "phase": "random", "state": "complete", "value": v,
              "unstable": i in unstable} for i, v in enumerate(random_values)]
    rows += [{"task": task, "method": method, "phase": "tpe", "state": "complete", "value": best_tpe,
              "unstable": False}]
    return rows


def test_claim_c10_reads_the_studies_and_takes_the_worse_task():
    flat, steep = _flat_and_steep()
    rows = (_trials("arm", "ours", flat, 0.3) + _trials("arm", "inn", steep, 0.3, unstable=range(2, 12))
            + _trials("gmm_some", "ours", steep, 0.3) + _trials("gmm_some", "inn", flat, 0.3))
    df = pd.DataFrame(rows)
    floors = {"arm": 0.05, "gmm_some": 0.05}
    c = claim_c10(df[df["task"] == "arm"], floors)
    assert c.verdict == REPRODUCED and "10 unstable" in c.evidence
    assert claim_c10(df, floors).verdict == NOT_REPRODUCED        # gmm_some: ours needs more
    assert claim_c10(df[df["method"] == "ours"], floors).verdict == NOT_TESTED
    assert claim_c10(None, floors).verdict == NOT_TESTED
    s = study_summary(df, floors).set_index(["task", "method"])
    assert s.loc[("arm", "inn"), "unstable_random"] == 10
    assert s.loc[("arm", "ours"), "recipe_regret"] == pytest.approx(1.0 / 0.3)


# ---------------------------------------------------------------------------------- studies
def test_phases_are_recipe_then_random_then_tpe():
    assert [T.phase_of(k, 2) for k in range(5)] == ["recipe", "random", "random", "tpe", "tpe"]
    with pytest.raises(ValueError):
        T.phase_of(-1, 2)


def _config(trials=3, random_trials=1):
    cfg = load_config_file("config/smoke.yaml")
    cfg["tasks"]["gmm"]["train"] = {**cfg["tasks"]["gmm"]["train"], "iterations": 6, "batch_size": 64}
    cfg["tuning"] = {"tasks": ["gmm"], "methods": ["cvae"], "trials": trials, "random_trials": random_trials,
                     "seed": 3, "validate_every": 3, "n": 60, "prune": {"warmup_checks": 1}}
    return cfg


def _table(study):
    return T.trials_frame(study, "gmm", "cvae")[["position", "phase", "state", "value", "draw"]]


def test_a_killed_study_resumes_with_the_draws_and_values_of_an_uninterrupted_one(tmp_path):
    import optuna
    cfg = _config()
    straight = _table(T.run_study(cfg, "gmm", "cvae", tmp_path / "a.db", log=lambda m: None))
    assert list(straight["phase"]) == ["recipe", "random", "tpe", "tpe"]
    # the same study stopped after two trials, with a third left running by a killed job
    study = T.run_study(cfg, "gmm", "cvae", tmp_path / "b.db", log=lambda m: None, max_trials=2)
    left = study.ask()
    left.set_user_attr("position", 2)
    assert study.get_trials()[-1].state == optuna.trial.TrialState.RUNNING
    msgs = []
    resumed = T.run_study(cfg, "gmm", "cvae", tmp_path / "b.db", log=msgs.append)
    assert any("left running" in m for m in msgs)
    pd.testing.assert_frame_equal(_table(resumed), straight)
    states = [t.state.name for t in resumed.get_trials()]
    assert states.count("FAIL") == 1 and len(T.finished(resumed)) == 4
    # a finished study runs no further trial
    again = T.run_study(cfg, "gmm", "cvae", tmp_path / "b.db", log=lambda m: None)
    assert len(again.get_trials()) == len(resumed.get_trials())


def test_a_study_made_under_another_config_is_dropped_not_mixed_in(tmp_path):
    cfg = _config(trials=1, random_trials=1)
    T.run_study(cfg, "gmm", "cvae", tmp_path / "s.db", log=lambda m: None)
    changed = _config(trials=1, random_trials=1)
    changed["tasks"]["gmm"]["train"]["batch_size"] = 32
    msgs = []
    study = T.run_study(changed, "gmm", "cvae", tmp_path / "s.db", log=msgs.append, max_trials=1)
    assert any("dropped" in m for m in msgs)
    assert len(study.get_trials()) == 1


def test_best_record_holds_the_full_recipe_of_the_best_stable_trial(tmp_path):
    cfg = _config(trials=2, random_trials=2)
    study = T.run_study(cfg, "gmm", "cvae", tmp_path / "s.db", log=lambda m: None)
    rec = T.best_record(cfg, study, "gmm", "cvae")
    table = T.trials_frame(study, "gmm", "cvae")
    assert rec["best"]["value"] == pytest.approx(table[table["state"] == "complete"]["value"].min())
    assert rec["study_digest"] == T.study_digest(cfg, "gmm", "cvae")
    assert 0 < rec["floor"] < rec["useless"]
    best = rec["best"]
    for key, value in best["draw"].items():
        assert best["params"][key] == value
    assert set(best["params"]) >= set(cfg["methods"]["cvae"]["base"])


def test_tuning_needs_a_recipe_and_a_validation_interval():
    cfg = _config()
    with pytest.raises(ValueError, match="no run on task"):
        T.recipe_variant(cfg, "gmm", "not_run")
    cfg["tuning"]["validate_every"] = None
    with pytest.raises(ValueError, match="validate_every"):
        T._Context(cfg, "gmm", "cvae", lambda m: None)


# ------------------------------------------------------------- published studies, tuned runs
@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A one-study summary (cvae on the smoke mixture) published to a folder, as the workflow does."""
    d = tmp_path_factory.mktemp("tuning")
    cfg = _config(trials=2, random_trials=1)
    study = T.run_study(cfg, "gmm", "cvae", d / "study.db", log=lambda m: None)
    T.write_study_outputs(cfg, study, "gmm", "cvae", d / "s" / "trials.csv", d / "s" / "best.json")
    T.summarise_studies([d / "s" / "trials.csv"], [d / "s" / "best.json"], d / "trials.csv",
                        d / "tuned_recipes.json")
    pub = d / "published"
    T.publish(d / "trials.csv", d / "tuned_recipes.json",
              [pub / "trials.csv", pub / "tuned_recipes.json", pub / "README.md"])
    return cfg, pub


def test_the_published_readme_states_c10_and_the_cost_from_the_trials(published):
    from flowbench.report.claims.tuning import claim_c10
    cfg, pub = published
    got = load_tuning(pub)
    text = (pub / "README.md").read_text()
    c = claim_c10(got["trials"], got["floors"])
    assert c.verdict == "not tested"                # one study of the cVAE: neither ours nor the INN
    assert f"## C10: {c.claim}" in text and f"**Verdict: {c.verdict}.**" in text
    minutes = pd.to_numeric(got["trials"]["seconds"], errors="coerce").fillna(0).sum() / 60
    row = next(line for line in text.splitlines() if line.startswith("| all"))
    assert row.split("|")[-2].strip().startswith(f"{minutes:.0f} (")
    assert "expected_best.png" not in text          # no figure was published with it
    assert got["recipes"]["studies"][0]["study_digest"] in text


def test_c10_in_the_readme_decides_from_both_studies():
    """A synthetic pair of studies where ours reaches its best at once and the INN needs most of
    its random trials: reproduced; swapped: not reproduced."""
    from flowbench.report.sections.tuning import published_readme

    def study(method, values):
        rows = [{"task": "arm", "method": method, "trial": i, "position": i, "phase": "random",
                 "state": "complete", "value": v, "raw_value": v, "unstable": False, "steps_done": 100,
                 "best_step": 100, "seconds": 60.0, "error": "", "draw": "{}"} for i, v in enumerate(values)]
        return rows

    flat = [0.20 + 0.001 * i for i in range(12)]
    steep = [1.0] * 11 + [0.2]
    recipes = {"studies": [{"task": "arm", "method": m, "recipe_variant": "default", "trials": 12,
                            "planned_trials": 12, "study_digest": f"d{m}", "best": None}
                           for m in ("ours", "inn")]}
    good = pd.DataFrame(study("ours", flat) + study("inn", steep))
    assert "**Verdict: reproduced.**" in published_readme(good, recipes, {"arm": 0.01}, None)
    bad = pd.DataFrame(study("ours", steep) + study("inn", flat))
    text = published_readme(bad, recipes, {"arm": 0.01}, None)
    assert "**Verdict: not reproduced.**" in text
    total = next(line for line in text.splitlines() if line.startswith("| all"))
    assert [c.strip() for c in total.strip("|").split("|")] == ["all", "24", "24 (0.4 h)"]


def test_a_published_summary_loads_and_a_damaged_one_is_refused(published, tmp_path):
    import shutil
    from flowbench.records import DamagedFile, write_record
    cfg, pub = published
    got = load_tuning(pub)
    assert list(got["trials"]["phase"]) == ["recipe", "random", "tpe"]
    assert got["floors"]["gmm"] > 0 and got["recipes"]["studies"][0]["method"] == "cvae"
    assert load_tuning(tmp_path) is None
    bad = tmp_path / "bad"
    shutil.copytree(pub, bad)
    df = pd.read_csv(bad / "trials.csv")
    df.loc[0, "value"] = 1e-6                      # a faked better recipe value, record rewritten
    df.to_csv(bad / "trials.csv", index=False)
    with pytest.raises(DamagedFile, match="integrity record|bytes"):
        load_tuning(bad)
    write_record(bad / "trials.csv")               # even with a fresh record: the recipes name its SHA-256
    with pytest.raises(DamagedFile, match="SHA-256"):
        load_tuning(bad)


def test_tuned_recipes_become_variants_and_runs_of_a_config(published):
    import copy
    from flowbench.config import validate_config
    from flowbench.errors import ConfigError
    from flowbench.recipes import iter_runs, method_params
    cfg, pub = published
    full = copy.deepcopy(cfg)
    full.pop("tuning")
    full["tuned"] = {"from": str(pub), "seeds": [0, 1]}
    assert T.apply_tuned(full) == [("gmm", "cvae")]
    assert T.apply_tuned(full) == [("gmm", "cvae")]          # idempotent: no second run entry
    validate_config(full)
    runs = [r for r in iter_runs(full, "gmm") if r[2] == "tuned_gmm"]
    assert runs == [("gmm", "cvae", "tuned_gmm", 0), ("gmm", "cvae", "tuned_gmm", 1)]
    best = load_tuning(pub)["recipes"]["studies"][0]["best"]
    assert method_params(full, "cvae", "tuned_gmm") == best["params"]
    changed = copy.deepcopy(cfg)
    changed.pop("tuning")
    changed["tuned"] = {"from": str(pub)}
    changed["tasks"]["gmm"]["train"]["batch_size"] = 32
    with pytest.raises(ConfigError, match="tuned on task 'gmm'"):
        T.apply_tuned(changed)
    missing = copy.deepcopy(full)
    missing["tuned"] = {"from": str(pub.parent / "nowhere")}
    with pytest.raises(ConfigError, match="no tuning summary"):
        T.apply_tuned(missing)


def test_config_checks_name_the_bad_tuning_key():
    from flowbench.config import validate_config
    from flowbench.errors import ConfigError
    for change, match in [({"tasks": ["nope"]}, "no configured task"), ({"methods": ["nope"]}, "unknown method"),
                          ({"random_trials": 9, "trials": 3}, "random_trials"),
                          ({"methods": ["nsf"], "tasks": ["gaussian_linear"]}, "no run on task"),
                          ({"publish": "../outside"}, "tuning.publish")]:
        cfg = _config()
        cfg["tuning"].update(change)
        with pytest.raises(ConfigError, match=match):
            validate_config(cfg)


def test_a_method_without_a_stable_trial_needs_the_most_tuning():
    """All trials unstable (each at the useless level): B is undefined, k* = n + 1, and C10 cannot
    favour a method for being uniformly useless."""
    flat, _ = _flat_and_steep()
    rows = _trials("arm", "ours", np.full(12, 3.5), 3.5, unstable=range(12)) + _trials("arm", "inn", flat, 0.3)
    df = pd.DataFrame(rows)
    df.loc[(df["method"] == "ours") & (df["phase"] != "random"), "unstable"] = True
    s = study_summary(df, {"arm": 0.05}).set_index("method")
    assert np.isnan(s.loc["ours", "best_value"]) and s.loc["ours", "k_near_best"] == 13
    assert claim_c10(df, {"arm": 0.05}).verdict == NOT_REPRODUCED


def test_a_journal_file_study_resumes_like_a_sqlite_one(tmp_path):
    """config/tuning.yaml keeps its studies as Optuna journal files (text, committed): a study
    stopped after one trial continues from the file."""
    cfg = _config(trials=1, random_trials=1)
    path = tmp_path / "gmm" / "cvae.jsonl"
    T.run_study(cfg, "gmm", "cvae", path, log=lambda m: None, max_trials=1)
    assert path.read_text().count("\n") > 3
    study = T.run_study(cfg, "gmm", "cvae", path, log=lambda m: None)
    assert [t.user_attrs["phase"] for t in T.finished(study)] == ["recipe", "random"]
    cfg["tuning"]["storage"] = "tuning/studies"
    assert T.storage_path(cfg, "results/x", "gmm", "cvae") == "tuning/studies/gmm/cvae.jsonl"
