"""Where a config may write (report_dir confined to results/<name>/, the committed report/ kept for
config/config.yaml alone) and which config owns results/<name>/ (a reused name does not retrain
another config's finished runs): flowbench.outputs, on temporary folders."""
import copy
import json

import pytest

from flowbench.config import ConfigError, read_config_file, validate_config
from flowbench.identity import train_digest
from flowbench.outputs import (OWNER_FILE, check_name_reuse, check_report_dir, check_stages, config_source, read_owner,
                               record_owner, stale_runs)
from tests.conftest import ROOT

SMOKE = [str(ROOT / "config" / "smoke.yaml")]


@pytest.fixture(scope="module")
def smoke():
    return validate_config(read_config_file(ROOT / "config" / "smoke.yaml"))


@pytest.fixture(scope="module")
def full():
    return validate_config(read_config_file(ROOT / "config" / "config.yaml"))


def _with(config, **kw):
    c = copy.deepcopy(config)
    c.update(kw)
    return c


# --- report_dir --------------------------------------------------------------------------------
@pytest.mark.parametrize("value,problem", [
    ("report", "is outside results/smoke/"),
    ("report/", "is outside results/smoke/"),
    (".", "is the working directory itself"),
    ("./", "is the working directory itself"),
    ("/tmp/x", "is an absolute path"),
    ("~/x", "is an absolute path"),
    ("../elsewhere", "contains '..'"),
    ("results/smoke/../full/report", "contains '..'"),
    ("results/smoke/./report", "contains '.'"),
    ("results/full", "results/full/ is the folder of config name 'full'"),
    ("results/full/report", "is outside results/smoke/"),
    ("results", "is outside results/smoke/"),
    ("results/smoke", "is results/smoke/ itself"),
    ("results/smoke/gmm/report", "the folder of task 'gmm'"),
    ("results/smoke/logs", "which the workflow fills itself"),
    ("results/smoke/owner.json", "which the workflow fills itself"),
    ("README.md", "is outside results/smoke/"),
])
def test_report_dir_outside_the_configs_folder_is_refused(smoke, tmp_path, value, problem):
    with pytest.raises(ConfigError) as err:
        check_report_dir(_with(smoke, report_dir=value), SMOKE, {}, ROOT, tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"config key 'report_dir': {value!r} ") and problem in msg.split(". ")[0], msg
    for words in ("A config writes only under results/<name>/ (here results/smoke/",
                  "Only config/config.yaml read alone", "this configuration is read from config/smoke.yaml",
                  "set it to a folder under results/smoke/"):
        assert words in msg, msg


@pytest.mark.parametrize("value,got", [
    (None, "results/smoke/report"), ("", "results/smoke/report"),
    ("results/smoke/my_report/", "results/smoke/my_report"), ("results/smoke//r/x", "results/smoke/r/x"),
])
def test_report_dir_under_the_configs_folder_is_kept(smoke, tmp_path, value, got):
    assert check_report_dir(_with(smoke, report_dir=value), SMOKE, {}, ROOT, tmp_path) == got


@pytest.mark.parametrize("configfiles,overrides", [
    ([], {}),                                                  # no --configfile: the default
    (["config/config.yaml"], {}),                              # resolved against the base folder
    ([str(ROOT / "config" / "config.yaml")] * 2, {}),          # the same file twice
    ([str(ROOT / "config" / ".." / "config" / "config.yaml")], {"device": "cuda", "threads_per_job": 4,
                                                                 "replace_runs": True}),
])
def test_the_full_config_alone_writes_the_committed_report(full, tmp_path, configfiles, overrides):
    assert full["report_dir"] == "report"
    assert check_report_dir(full, configfiles, overrides, ROOT, tmp_path) == "report"


@pytest.mark.parametrize("configfiles,overrides,shown", [
    ([], {"name": "trial"}, "read from config/config.yaml with --config name"),
    ([], {"tasks": {"gmm": {"n_eval": 10}}}, "with --config tasks"),
    ([str(ROOT / "config" / "config.yaml"), SMOKE[0]], {}, "read from config/config.yaml, config/smoke.yaml"),
    (SMOKE, {}, "read from config/smoke.yaml"),
])
def test_the_full_config_with_more_is_not_the_owner_of_report(full, tmp_path, configfiles, overrides, shown):
    cfg = _with(full, name=overrides.get("name", "full"))
    with pytest.raises(ConfigError) as err:
        check_report_dir(cfg, configfiles, overrides, ROOT, tmp_path)
    assert "config key 'report_dir': 'report' is outside results/" in str(err.value)
    assert shown in str(err.value)


def test_another_checkouts_config_yaml_is_not_the_owner(full, tmp_path):
    other = tmp_path / "other" / "config" / "config.yaml"
    other.parent.mkdir(parents=True)
    other.write_text((ROOT / "config" / "config.yaml").read_text())
    with pytest.raises(ConfigError, match="is outside results/full/"):
        check_report_dir(full, [str(other)], {}, ROOT, tmp_path)


def test_symbolic_links_out_of_the_configs_folder_are_refused(smoke, full, tmp_path):
    (tmp_path / "report").mkdir()
    home = tmp_path / "results" / "smoke"
    home.mkdir(parents=True)
    (home / "r").symlink_to(tmp_path / "report")
    (home / "up").symlink_to(tmp_path)
    for value in ("results/smoke/r", "results/smoke/up/report", "results/smoke/up/results/full"):
        with pytest.raises(ConfigError, match="a symbolic link"):
            check_report_dir(_with(smoke, report_dir=value), SMOKE, {}, ROOT, tmp_path)
    # the whole of results/smoke/ taken into the committed report
    (tmp_path / "results" / "trial").symlink_to(tmp_path / "report")
    with pytest.raises(ConfigError, match="a symbolic link"):
        check_report_dir(_with(smoke, name="trial", report_dir="results/trial/report"), SMOKE, {}, ROOT, tmp_path)
    # the committed report itself a link elsewhere
    (tmp_path / "report").rmdir()
    (tmp_path / "report").symlink_to(home)
    with pytest.raises(ConfigError, match="a symbolic link"):
        check_report_dir(full, [], {}, ROOT, tmp_path)


def test_results_on_another_disk_by_a_link_is_fine(smoke, tmp_path):
    (tmp_path / "scratch" / "smoke").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "results").symlink_to(tmp_path / "scratch")
    got = check_report_dir(_with(smoke, report_dir="results/smoke/rep"), SMOKE, {}, ROOT, tmp_path / "work")
    assert got == "results/smoke/rep"


# --- who owns results/<name>/ ------------------------------------------------------------------
def tiny(smoke, seeds=(0,), lr=1.0e-3, name="smoke"):
    cfg = copy.deepcopy(smoke)
    cfg["name"] = name
    cfg.pop("tuning", None)     # it names the smoke tasks this config leaves out
    cfg["tasks"] = {"gmm": cfg["tasks"]["gmm"]}
    cfg["tasks"]["gmm"]["runs"] = [{"method": "ours", "variants": ["paper"], "seeds": list(seeds)},
                                   {"method": "cinn", "variants": ["default"], "seeds": [0]}]
    cfg["methods"]["ours"]["base"]["lr"] = lr
    return cfg


def finish_runs(workdir, cfg):
    """Fake finished runs of ``cfg``: a train_info.json with the digest the config gives."""
    from flowbench.recipes import iter_runs
    for t, m, v, s in iter_runs(cfg):
        d = workdir / "results" / cfg["name"] / t / m / v / f"seed{s}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "train_info.json").write_text(json.dumps({"config_digest": train_digest(cfg, t, m, v, s)}))


def owned(workdir, cfg, configfiles, overrides=None):
    """A folder with cfg's finished runs, owned by ``configfiles``."""
    finish_runs(workdir, cfg)
    rec = check_name_reuse(cfg, configfiles, overrides or {}, ROOT, workdir)
    assert rec == {"name": cfg["name"], **config_source(configfiles, overrides or {}, ROOT)}
    record_owner(rec, workdir)
    return workdir / "results" / cfg["name"]


def test_first_config_in_a_folder_is_recorded_as_its_owner(smoke, tmp_path):
    home = owned(tmp_path, tiny(smoke), SMOKE)
    rec = json.loads((home / OWNER_FILE).read_text())
    assert rec == {"name": "smoke", "configfiles": ["config/smoke.yaml"], "overrides": []}
    assert read_owner(home) == {"configfiles": ["config/smoke.yaml"], "overrides": []}
    assert not list(home.glob(".*.tmp"))


def test_another_config_file_that_would_retrain_finished_runs_is_refused(smoke, tmp_path):
    owned(tmp_path, tiny(smoke), SMOKE)
    other = tiny(smoke, lr=5.0e-3)   # e.g. config/paper_figures.yaml with name: smoke
    assert stale_runs(other, tmp_path / "results/smoke") == ["gmm/ours/paper/seed0"]
    with pytest.raises(ConfigError) as err:
        check_name_reuse(other, ["config/paper_figures.yaml"], {}, ROOT, tmp_path)
    msg = str(err.value)
    for words in ("config key 'name': 'smoke' names results/smoke/",
                  "belongs to the configuration read from config/smoke.yaml (results/smoke/owner.json)",
                  "this configuration (read from config/paper_figures.yaml) would retrain 1 of its finished runs",
                  "results/smoke/gmm/ours/paper/seed0", "--config replace_runs=true"):
        assert words in msg, msg
    assert "cinn" not in msg   # the run whose settings did not change is not listed


def test_replace_runs_allows_it_and_hands_the_folder_over(smoke, tmp_path):
    owned(tmp_path, tiny(smoke), SMOKE)
    other = _with(tiny(smoke, lr=5.0e-3), replace_runs=True)
    rec = check_name_reuse(other, ["config/paper_figures.yaml"], {"replace_runs": True}, ROOT, tmp_path)
    assert rec == {"name": "smoke", "configfiles": ["config/paper_figures.yaml"], "overrides": []}
    record_owner(rec, tmp_path)
    # the first config is now the one that needs the flag
    with pytest.raises(ConfigError, match="belongs to the configuration read from config/paper_figures.yaml"):
        finish_runs(tmp_path, tiny(smoke, lr=5.0e-3))
        check_name_reuse(tiny(smoke), SMOKE, {}, ROOT, tmp_path)


def test_the_owner_editing_its_own_file_is_allowed(smoke, tmp_path):
    owned(tmp_path, tiny(smoke), SMOKE)
    edited = tiny(smoke, lr=5.0e-3)
    assert stale_runs(edited, tmp_path / "results/smoke")   # it retrains ours' run, as before
    assert check_name_reuse(edited, SMOKE, {}, ROOT, tmp_path) is None
    assert check_name_reuse(edited, SMOKE, {"device": "cpu", "threads_per_job": 2}, ROOT, tmp_path) is None


def test_another_config_that_retrains_nothing_is_allowed_and_changes_no_owner(smoke, tmp_path):
    home = owned(tmp_path, tiny(smoke), SMOKE)
    same = tiny(smoke, seeds=(0, 1))   # the same settings, one run more
    assert check_name_reuse(same, ["config/copy.yaml"], {}, ROOT, tmp_path) is None
    assert read_owner(home)["configfiles"] == ["config/smoke.yaml"]


def test_other_config_keys_on_the_command_line_are_another_configuration(smoke, tmp_path):
    owned(tmp_path, tiny(smoke), SMOKE)
    with pytest.raises(ConfigError, match=r"read from config/smoke.yaml with --config methods\)"):
        check_name_reuse(tiny(smoke, lr=5.0e-3), SMOKE, {"methods": {"ours": {}}}, ROOT, tmp_path)


def test_finished_runs_without_an_owner_record_are_not_retrained_silently(smoke, tmp_path):
    finish_runs(tmp_path, tiny(smoke))
    with pytest.raises(ConfigError) as err:
        check_name_reuse(tiny(smoke, lr=5.0e-3), SMOKE, {}, ROOT, tmp_path)
    assert "has no record of the configuration that made it (owner.json)" in str(err.value)
    assert "replace_runs=true" in str(err.value)
    # nothing to retrain: the folder becomes this configuration's
    assert check_name_reuse(tiny(smoke), SMOKE, {}, ROOT, tmp_path)["configfiles"] == ["config/smoke.yaml"]


def test_a_long_list_of_runs_is_cut_and_counted(smoke, tmp_path):
    owned(tmp_path, tiny(smoke, seeds=range(13)), SMOKE)
    with pytest.raises(ConfigError) as err:
        check_name_reuse(tiny(smoke, seeds=range(13), lr=5.0e-3), ["other.yaml"], {}, ROOT, tmp_path)
    msg = str(err.value)
    assert "would retrain 13 of its finished runs" in msg and "and 3 more" in msg
    assert "seed9" in msg and "seed10" not in msg


def test_unfinished_runs_and_unreadable_records(smoke, tmp_path):
    home = owned(tmp_path, tiny(smoke), SMOKE)
    (home / "gmm/ours/paper/seed0/train_info.json").write_text("{not json")   # a run killed mid-write
    assert stale_runs(tiny(smoke, lr=5.0e-3), home) == []
    (home / OWNER_FILE).write_text("[]")
    with pytest.raises(ConfigError, match="owner.json: cannot read the record"):
        check_name_reuse(tiny(smoke), SMOKE, {}, ROOT, tmp_path)


@pytest.mark.parametrize("value,allowed", [(True, True), ("true", True), (False, False), ("false", False)])
def test_replace_runs_as_a_file_or_the_command_line_gives_it(smoke, tmp_path, value, allowed):
    owned(tmp_path, tiny(smoke), SMOKE)
    other = validate_config(_with(tiny(smoke, lr=5.0e-3), replace_runs=value))   # "true": --config's word
    if allowed:
        assert check_name_reuse(other, ["other.yaml"], {"replace_runs": value}, ROOT, tmp_path)
    else:
        with pytest.raises(ConfigError, match="replace_runs=true"):
            check_name_reuse(other, ["other.yaml"], {"replace_runs": value}, ROOT, tmp_path)


def test_replace_runs_is_a_setting_of_no_digest(smoke):
    cfg = validate_config(_with(tiny(smoke), replace_runs=True))
    assert cfg["replace_runs"] is True
    assert train_digest(cfg, "gmm", "ours", "paper", 0) == train_digest(tiny(smoke), "gmm", "ours", "paper", 0)
    with pytest.raises(ConfigError, match="'replace_runs'"):
        validate_config(_with(tiny(smoke), replace_runs="yes"))


# --- stage configs ------------------------------------------------------------------------------
STAGE = str(ROOT / "config" / "stages" / "sbibm.yaml")


@pytest.mark.parametrize("overrides", [{}, {"ensemble": "true", "device": "cuda"}])
def test_the_full_config_with_its_stages_writes_the_committed_report(full, tmp_path, overrides):
    files = [str(ROOT / "config" / "config.yaml"), STAGE]
    assert check_stages(files, ROOT) == ["config/stages/sbibm.yaml"]
    assert check_report_dir(full, files, overrides, ROOT, tmp_path) == "report"
    with pytest.raises(ConfigError, match="is outside results/full/"):   # another key: another configuration
        check_report_dir(full, files, {"name": "full", **overrides}, ROOT, tmp_path)


def test_the_stage_only_adds_tasks_to_the_full_config(full):
    stage = read_config_file(STAGE)
    assert set(stage) == {"tasks"} and stage["tasks"]
    assert not set(stage["tasks"]) & set(full["tasks"])
    assert all(t.startswith("sbibm_") for t in stage["tasks"])


def _fake_root(tmp_path, stage_text):
    (tmp_path / "config" / "stages").mkdir(parents=True)
    (tmp_path / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    (tmp_path / "config" / "stages" / "extra.yaml").write_text(stage_text)
    return [str(tmp_path / "config" / "config.yaml"), str(tmp_path / "config" / "stages" / "extra.yaml")]


@pytest.mark.parametrize("text,problem", [
    ("device: cpu\ntasks: {new: {kind: gmm}}\n", "a stage config only adds tasks; it sets 'device'"),
    ("methods: {ours: {variants: {x: {}}}}\n", "it sets 'methods'"),
    ("tasks: {gmm: {n_eval: 10}}\n", "config key 'tasks.gmm': a stage config only adds tasks; 'gmm' is already defined"),
    ("tasks: []\n", "config key 'tasks' must be a mapping of new tasks"),
])
def test_a_stage_that_changes_the_full_config_is_refused(tmp_path, text, problem):
    files = _fake_root(tmp_path, text)
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.").replace("(", r"\(")):
        check_stages(files, tmp_path)


def test_a_stage_is_read_over_the_full_config_only(tmp_path):
    files = _fake_root(tmp_path, "tasks: {new: {kind: gmm}}\n")
    assert check_stages(files, tmp_path) == ["config/stages/extra.yaml"]
    with pytest.raises(ConfigError, match="is a stage config: it adds tasks to config/config.yaml and is read over it"):
        check_stages(files[1:], tmp_path)
    with pytest.raises(ConfigError, match="not over config/smoke.yaml"):
        (tmp_path / "config" / "smoke.yaml").write_text("name: x\n")
        check_stages([str(tmp_path / "config" / "smoke.yaml"), files[1]], tmp_path)
    # a file named like a stage in another checkout is no stage of this one (nor the owner)
    assert check_stages([files[0], files[1]], ROOT) == []
