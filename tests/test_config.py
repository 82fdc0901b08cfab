import copy
import re

import pytest
import yaml

from flowbench.config import (ConfigError, dim_requirement, iter_runs, method_params, read_config_file,
                              validate_config)
from flowbench.configfile import (configfile_groups, main as configfile_main, merged_configfiles_note,
                                  repeated_configfile_error)

GiB = 2**30


def test_full_and_smoke_configs_validate(full_config, smoke_config):
    validate_config(full_config)
    validate_config(smoke_config)
    assert full_config["device"] == "auto"


def test_defaults_filled(smoke_config):
    cfg = validate_config(smoke_config)
    assert cfg["threads_per_job"] == 1
    assert cfg["report_dir"] is None  # unset: results/<name>/report (the Snakefile fills it)


def test_paper_recipe_in_full_config(full_config):
    cfg = validate_config(full_config)
    p = method_params(cfg, "ours", "paper")
    assert (p["dim"], p["blocks"], p["subnet_layers"], p["width"]) == (10, 8, 3, 512)
    assert (p["eps"], p["pad_noise"], p["lr"]) == (0.1, 0.05, 1e-3)
    tr = cfg["tasks"]["gmm"]["train"]
    assert (tr["iterations"], tr["batch_size"]) == (400, 1600)
    seeds = {s for (t, m, v, s) in iter_runs(cfg, "gmm") if (m, v) == ("ours", "paper")}
    assert len(seeds) >= 3


def test_every_fig52_variant_defined(full_config):
    cfg = validate_config(full_config)
    for v in ["full", "forward_only", "ramp_fast", "ramp_slow", "no_ramp", "wx_0.1", "wx_10", "orig16_full"]:
        method_params(cfg, "inn", v)
    assert method_params(cfg, "inn", "orig16_full")["dim"] == 16
    assert method_params(cfg, "inn", "forward_only")["weights"]["x"] == 0


def test_variant_override_is_deep_merge(smoke_config):
    cfg = validate_config(smoke_config)
    p = method_params(cfg, "inn", "ramp_fast")
    assert p["ramp"]["speed"] == 2.0 and p["ramp"]["kind"] == "exp" and p["ramp"]["iters_per_epoch"] == 2


BAD = [
    # (mutation, words the message must contain)
    (lambda c: c.update(colour="red"), ["colour", "allowed keys", "device"]),
    (lambda c: c["tasks"]["gmm"]["train"].update(batch_size=0), ["tasks.gmm.train.batch_size", "minimum"]),
    (lambda c: c["tasks"]["gmm"]["train"].update(iterations="many"), ["tasks.gmm.train.iterations", "integer"]),
    (lambda c: c["methods"]["ours"]["base"].update(eps=0.0), ["methods.ours.base.eps"]),
    (lambda c: c["methods"]["ours"]["base"].update(eps=-0.1), ["methods.ours.base.eps"]),
    (lambda c: c["tasks"]["gmm"]["runs"][0].update(seeds=[-1]), ["seeds", "minimum"]),
    (lambda c: c["tasks"]["gmm"]["runs"][0].update(seeds=[]), ["seeds"]),
    (lambda c: c["tasks"]["gmm"]["runs"][0].update(method="glow"), ["method", "glow", "ours", "inn", "cinn"]),
    (lambda c: c["tasks"]["gmm"]["runs"][1].update(variants=["fulll"]), ["fulll", "allowed", "full"]),
    (lambda c: c["methods"]["inn"]["variants"]["full"].update(ramp={"kind": "cosine"}),
     ["ramp.kind", "cosine", "exp", "linear", "constant", "none"]),
    (lambda c: c["methods"]["inn"]["variants"]["full"].update(lamda=3), ["lamda", "methods.inn.variants.full"]),
    (lambda c: c["tasks"]["gmm"].update(kind="spirals"), ["tasks.gmm.kind", "spirals", "gmm"]),
    (lambda c: c["tasks"]["gmm"].update(labels="most"), ["tasks.gmm.labels", "most", "some"]),
    (lambda c: c.update(device="tpu"), ["device", "tpu"]),
    (lambda c: c["methods"]["ours"]["variants"]["paper"].update(pad_resample="sometimes"),
     ["pad_resample", "per_sample", "per_iteration"]),
]


def test_iter_runs_unique_and_ordered(smoke_config):
    cfg = validate_config(smoke_config)
    runs = list(iter_runs(cfg))
    assert len(runs) == len(set(runs))
    assert runs[0] == ("gmm", "ours", "paper", 0)


# --------------------------------------------------------------------------- shapes

def _gmm(c):
    return c["tasks"]["gmm"]


THREE = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]

BAD_SHAPES = [
    (lambda c: _gmm(c).update(labels=[0, 1, 2, 3, 4, 5, 6]),
     ["'tasks.gmm.labels'", "7 labels", "8 modes"]),
    (lambda c: _gmm(c).update(labels=[0, 0, 2, 3, 4, 5, 6, 7]),
     ["'tasks.gmm.labels'", "0..L-1", "[1] unused"]),
    (lambda c: _gmm(c).update(labels="some", modes={"std": 0.2, "centres": THREE}),
     ["'tasks.gmm.labels'", "'some'", "8 modes", "has 3"]),
    (lambda c: _gmm(c).update(labels="some", modes={"std": 0.2, "n": 6, "radius": 2.0}),
     ["'tasks.gmm.labels'", "'some'", "has 6"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2, "n": 4, "centres": THREE}, labels="all"),
     ["'tasks.gmm.modes.n'", "n is 4", "lists 3 centres"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2}),
     ["config key 'tasks.gmm.modes': give either 'n' (with 'radius') or 'centres'"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2, "radius": 2.0}), ["'tasks.gmm.modes'", "give either"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2, "n": 8}), ["'tasks.gmm.modes'", "'n' needs 'radius'"]),
    (lambda c: _gmm(c)["modes"].update(n=10**9), ["'tasks.gmm.modes.n'", "maximum of 10000", "sanity bound"]),
    (lambda c: _gmm(c).update(labels=[0, 10**9, 1, 1, 1, 1, 1, 1]), ["'tasks.gmm.labels'", "[2] unused"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2, "n": None, "radius": 2.0}), ["'tasks.gmm.modes'", "give either"]),
    (lambda c: _gmm(c).update(modes={"std": 0.2, "centres": THREE, "radius": 2.0}, labels="all"),
     ["'tasks.gmm.modes.radius'", "no effect", "centres"]),
    (lambda c: _gmm(c)["modes"].pop("std"), ["config key 'tasks.gmm.modes': missing key 'std'"]),
    (lambda c: _gmm(c).pop("train"), ["config key 'tasks.gmm': missing key 'train'"]),
    (lambda c: c.pop("tasks"), ["config: missing key 'tasks' at the top level"]),
    (lambda c: c["methods"]["ours"]["base"].pop("eps"), ["config key 'methods.ours.base': missing key 'eps'"]),
    (lambda c: c["methods"]["inn"]["base"]["weights"].pop("x"),
     ["config key 'methods.inn.base.weights': missing key 'x'"]),
    # ours on 8 labels needs dim >= 9 (z keeps one dimension); named where dim is set
    (lambda c: c["methods"]["ours"]["base"].update(dim=8),
     ["'methods.ours.base.dim'", "dim >= 9", "task 'gmm'", "got 8", "tasks.gmm.runs.0"]),
    (lambda c: c["methods"]["ours"]["variants"].update(paper={"dim": 4}),
     ["'methods.ours.variants.paper.dim'", "dim >= 9"]),
    (lambda c: c["methods"]["inn"]["variants"]["ramp_fast"].update(dim=9),
     ["'methods.inn.variants.ramp_fast.dim'", "dim >= 10", "got 9"]),
    (lambda c: c["methods"]["cinn"]["base"].update(dim=1), ["'methods.cinn.base.dim'", "minimum of 2"]),
    (lambda c: c["images"]["ours"].update(dim=19), ["'images.ours.dim'", "ours needs dim >= 20", "got 19"]),
    (lambda c: c["images"]["autoencoder"].update(latent_dim=31), ["'images.ours.dim'", "dim >= 31", "got 30"]),
    (lambda c: (c["images"]["autoencoder"].update(latent_dim=24), c["images"]["ours"].update(dim=40)),
     ["'images.cinn.dim'", "dim >= 24", "got 20"]),
    (lambda c: (c["images"].update(datasets=[]), c["images"]["ours"].update(dim=5)), ["'images.ours.dim'"]),
    (lambda c: c["images"].update(n_train=60001),
     ["'images.n_train'", "maximum of 60000", "60000 training images"]),
    (lambda c: c["images"].update(n_test=20000), ["'images.n_test'", "10000 test images"]),
    (lambda c: c.update(benchmark={"task": "gmx"}), ["'benchmark.task'", "'gmx'", "'gmm'"]),
    (lambda c: c.update(benchmark={"runs": [{"method": "inn", "variant": "fulll"}]}),
     ["'benchmark.runs.0.variant'", "fulll", "full"]),
    (lambda c: (_gmm(c).update(labels="none"), c.update(benchmark={})),
     ["'benchmark.precision.labels'", "[3]", "0..0"]),
]


@pytest.mark.parametrize("mutate,words", BAD + BAD_SHAPES)
def test_bad_config_is_refused_with_the_key_named(smoke_config, mutate, words):
    cfg = copy.deepcopy(smoke_config)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


GOOD_SHAPES = [
    lambda c: None,
    lambda c: _gmm(c).update(modes={"std": 0.2, "centres": THREE, "n": 3}, labels=[0, 1, 1]),
    lambda c: _gmm(c).update(modes={"std": 0.2, "centres": THREE}, labels="none"),
    lambda c: _gmm(c).update(modes={"std": 0.2, "n": 8, "radius": 2.0, "phase_deg": 0.0}, labels="some"),
    lambda c: _gmm(c).update(labels=[3, 2, 1, 0, 0, 1, 2, 3]),
    # a file merged over another drops a key of the other with null
    lambda c: _gmm(c).update(modes={"std": 0.2, "n": None, "radius": None, "centres": THREE}, labels="all"),
    # the least dims each class accepts: ours 9, inn 10, cinn 2 on 8 labels
    lambda c: (c["methods"]["ours"]["base"].update(dim=9), c["methods"]["inn"]["base"].update(dim=10)),
    # fewer labels need fewer dims
    lambda c: (_gmm(c).update(labels="none"), c["methods"]["ours"]["base"].update(dim=2),
               c["methods"]["inn"]["base"].update(dim=3)),
    # a variant whose dim is too small is fine while no task runs it
    lambda c: c["methods"]["ours"]["variants"].update(tiny={"dim": 4}),
    lambda c: (c["images"]["autoencoder"].update(latent_dim=10), c["images"]["ours"].update(dim=11),
               c["images"]["cinn"].update(dim=10)),
    # image dims are not checked while the image stage does not run
    lambda c: (c["images"].update(datasets=[]), c["images"]["epoch_curve"].update(datasets=[]),
               c["images"]["ours"].update(dim=5)),
    lambda c: (c["images"].update(datasets=[]), c["images"]["cinn"].update(dim=5)),  # epoch curve: ours only
    lambda c: c["images"].update(n_train=60000, n_test=10000),
    lambda c: c.update(benchmark={"task": "gmm", "runs": [{"method": "inn", "variant": "full"}]}),
]


@pytest.mark.parametrize("mutate", GOOD_SHAPES)
def test_valid_shapes_pass(smoke_config, mutate):
    cfg = copy.deepcopy(smoke_config)
    mutate(cfg)
    validate_config(cfg)


def test_null_mode_keys_are_dropped(smoke_config):
    _gmm(smoke_config)["modes"] = {"std": 0.2, "n": None, "phase_deg": None, "centres": THREE}
    _gmm(smoke_config)["labels"] = "all"
    assert validate_config(smoke_config)["tasks"]["gmm"]["modes"] == {"std": 0.2, "centres": THREE}


def test_config_label_check_agrees_with_the_task():
    """The config-time check (no torch) and the task's own label map agree."""
    from flowbench.tasks.gmm import config_mode_labels, resolve_label_map
    task = {"modes": {"std": 0.2, "n": 8, "radius": 2.0}}
    for labels in ["all", "some", "none", [1, 0, 1, 0, 2, 2, 2, 2]]:
        got = config_mode_labels("t", {**task, "labels": labels})
        assert got == resolve_label_map(labels, 8).tolist()


@pytest.mark.parametrize("method", ["ours", "inn", "cinn"])
@pytest.mark.parametrize("x_dim,y_dim", [(2, 8), (2, 4), (2, 1), (20, 10)])
def test_dim_requirement_is_what_the_method_class_enforces(full_config, method, x_dim, y_dim):
    from flowbench.methods import make_method
    params = method_params(validate_config(full_config), method, {"ours": "paper", "inn": "full",
                                                                  "cinn": "default"}[method])
    params.update(blocks=1, width=4, subnet_layers=2)
    need, _ = dim_requirement(method, x_dim, y_dim)
    make_method(method, x_dim, y_dim, {**params, "dim": need})
    if need > 2:
        with pytest.raises(ValueError, match="dim"):
            make_method(method, x_dim, y_dim, {**params, "dim": need - 1})


# ---------------------------------------------------------------------------- sizes

BAD_SIZES = [
    (lambda c: _gmm(c).update(n_eval=10_000_000), "tasks.gmm.n_eval", "n x n"),
    (lambda c: _gmm(c).update(n_test=100_000_000), "tasks.gmm.n_test", "forward pass"),
    (lambda c: _gmm(c)["train"].update(batch_size=100_000_000), "tasks.gmm.train.batch_size", "activations"),
    (lambda c: _gmm(c)["train"].update(probe_n=1_000_000), "tasks.gmm.train.probe_n", "w2"),
    (lambda c: c.update(benchmark={"batch_sizes": [200, 10_000_000]}), "benchmark.batch_sizes.1", "activations"),
    (lambda c: c.update(benchmark={"profile_batch": 10_000_000}), "benchmark.profile_batch", "activations"),
    (lambda c: c.update(benchmark={"precision": {"sample_sizes": [100, 1_000_000]}}),
     "benchmark.precision.sample_sizes.1", "n x n"),
    (lambda c: c["images"]["ours"].update(batch_size=100_000_000), "images.ours.batch_size", "activations"),
    (lambda c: c["images"]["cinn"].update(batch_size=100_000_000), "images.cinn.batch_size", "activations"),
    (lambda c: (c["images"].update(n_train=60000), c["images"]["autoencoder"].update(batch_size=60000)),
     "images.autoencoder.batch_size", "auto-encoder"),
    (lambda c: (c["images"].update(n_train=60000), c["images"]["classifier_cnn"].update(batch_size=60000)),
     "images.classifier_cnn.batch_size", "CNN"),
    (lambda c: c["images"]["evaluation"].update(n_generated=10_000_000), "images.evaluation.n_generated", "images"),
    (lambda c: c["images"]["evaluation"].update(n_style=10_000_000), "images.evaluation.n_style", "images"),
]


@pytest.mark.parametrize("mutate,key,what", BAD_SIZES)
def test_size_above_the_memory_budget_is_refused(smoke_config, mutate, key, what):
    cfg = copy.deepcopy(smoke_config)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(cfg), memory_budget=4 * GiB)
    msg = str(err.value)
    assert msg.startswith(f"config key '{key}': ") and "needs about" in msg and what in msg, msg
    assert "above the limit of 4.0 GiB" in msg
    # the value the message says fits does fit
    fit = int(re.search(r"at most (\d+) fits", msg).group(1))
    assert fit > 0
    *path, last = key.split(".")
    node = cfg
    for p in path:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = fit
    else:
        node[last] = fit
    validate_config(cfg, memory_budget=4 * GiB)


def test_shipped_configs_fit_a_small_machine(full_config, smoke_config):
    # 2 GiB per job: far below any machine this suite targets
    validate_config(copy.deepcopy(full_config), memory_budget=2 * GiB)
    validate_config(copy.deepcopy(smoke_config), memory_budget=2 * GiB)


def test_default_memory_budget_is_half_the_machine():
    import os
    from flowbench.config import memory_budget_bytes
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory_budget_bytes() <= total // 2


def test_batch_clipped_to_the_data_is_not_refused(smoke_config):
    # the auto-encoder and classifiers take min(batch_size, n_train) images per batch
    smoke_config["images"]["autoencoder"]["batch_size"] = 100_000_000
    validate_config(smoke_config, memory_budget=1 * GiB)


# ------------------------------------------------------------------------ config files

@pytest.mark.parametrize("text,words", [
    ("a: [1\n", ["config file '{f}', line 2, column 1: expected ',' or ']'", "flow sequence",
                 "line 1, column 4"]),
    ("tasks:\n  gmm:\n    n_eval: 10\n   labels: all\n", ["config file '{f}', line 4, column 4"]),
    ("device:\tcpu\n", ["config file '{f}', line 1, column 8", "'\\t'"]),
    ("device: cpu\nmethods: {}\ndevice: cuda\n", ["config file '{f}', line 3, column 1",
                                                  "key 'device' given twice (first at line 1)"]),
    ("", ["config file '{f}': the top level must be a mapping", "empty"]),
    ("- 1\n- 2\n", ["config file '{f}': the top level must be a mapping", "list"]),
])
def test_read_config_file_names_file_line_and_column(tmp_path, text, words):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_config_file(f)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        w = w.format(f=f)
        assert w in msg, f"{w!r} not in {msg!r}"


def test_read_config_file_missing_and_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"config file '.*missing.yaml' does not exist"):
        read_config_file(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        read_config_file(tmp_path)


def test_read_config_file_reads_the_shipped_configs_as_yaml_does(root):
    for name in ("config.yaml", "smoke.yaml"):
        path = root / "config" / name
        assert read_config_file(path) == yaml.safe_load(path.read_text())


def test_read_config_file_allows_merge_keys_and_nested_same_names(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text("base: &b {x: 1, y: 2}\nover:\n  <<: *b\n  y: 3\nother: {x: 1}\n")
    assert read_config_file(f) == {"base": {"x": 1, "y": 2}, "over": {"x": 1, "y": 3}, "other": {"x": 1}}


def test_configfile_groups_and_repeated_option():
    argv = ["snakemake", "-n", "--configfile", "a.yaml", "b.yaml", "--cores", "1", "--configfiles=c.yaml"]
    assert configfile_groups(argv) == [["a.yaml", "b.yaml"], ["c.yaml"]]
    msg = repeated_configfile_error(argv)
    assert "given 2 times" in msg and "only the last one (c.yaml)" in msg and "ignore a.yaml b.yaml" in msg
    assert "--configfile a.yaml b.yaml c.yaml" in msg
    assert repeated_configfile_error(["snakemake", "--configfile", "a.yaml", "b.yaml", "-n"]) is None
    assert repeated_configfile_error(["snakemake", "--cores", "2"]) is None
    assert configfile_groups(["snakemake", "--configf", "a.yaml", "--config", "x=1"]) == [["a.yaml"]]


def test_merged_configfiles_note():
    assert merged_configfiles_note(["config/smoke.yaml"]) is None
    note = merged_configfiles_note(["a.yaml", "b.yaml"])
    assert "2 config files merged in this order" in note and "a.yaml, b.yaml" in note


def test_configfile_cli(tmp_path, root, capsys):
    assert configfile_main([str(root / "config" / "smoke.yaml")]) == 0
    assert "config OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    assert configfile_main([str(bad)]) == 1
    assert f"Invalid configuration: config file '{bad}', line 2, column 1" in capsys.readouterr().err
    assert configfile_main([str(tmp_path / "missing.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err
    over = tmp_path / "over.yaml"
    over.write_text("tasks:\n  gmm:\n    n_eval: 300\n")
    assert configfile_main([str(root / "config" / "smoke.yaml"), str(over)]) == 0
    over.write_text("tasks:\n  gmm:\n    modes: {centres: [[0, 0], [1, 1]]}\n")
    assert configfile_main([str(root / "config" / "smoke.yaml"), str(over)]) == 1
    assert "'tasks.gmm.modes.radius': has no effect" in capsys.readouterr().err
    over.write_text("report_dir: report\n")   # the committed report is config/config.yaml's alone
    assert configfile_main([str(root / "config" / "smoke.yaml"), str(over)]) == 1
    assert "config key 'report_dir': 'report' is outside results/smoke/" in capsys.readouterr().err
    assert configfile_main([str(root / "config" / "config.yaml")]) == 0


def test_paper_figures_config_runs_one_seed_of_the_papers_pictures(root):
    """config/paper_figures.yaml: Fig. 5.1-5.4 and Table 1, one seed each, its own results folder."""
    import yaml

    from flowbench.config import iter_runs
    cfg = validate_config(yaml.safe_load((root / "config" / "paper_figures.yaml").read_text()))
    assert cfg["name"] == "paper_figures" and cfg["report_dir"] is None
    runs = list(iter_runs(cfg))
    assert {(m, v) for _, m, v, _ in runs} == {("ours", "paper"), ("inn", "full"), ("inn", "forward_only"),
                                               ("inn", "ramp_fast")}
    assert {s for *_, s in runs} == {0} and cfg["images"]["seeds"] == [0]
    assert set(cfg["images"]["datasets"]) == {"mnist", "fashion-mnist"}


def test_full_config_has_five_seeds_where_a_verdict_tests_a_difference(full_config):
    from flowbench.config import iter_runs
    cfg = validate_config(full_config)
    seeds = {}
    for t, m, v, s in iter_runs(cfg):
        seeds.setdefault((t, m, v), set()).add(s)
    tested = [("ours", "paper"), ("inn", "full"), ("inn", "forward_only"), ("inn", "orig16_full"),
              ("inn", "ramp_fast"), ("inn", "ramp_slow"), ("inn", "ramp_linear"), ("inn", "wx_0.1"),
              ("inn", "wx_10"), ("ours", "eps_0.05"), ("ours", "eps_0.2"), ("ours", "pad_0.2")]
    for mv in tested:
        assert len(seeds[("gmm", *mv)]) >= 5, mv


# --- non-finite numbers and folder names --------------------------------------------------------
def _methods_with(key):
    from flowbench.methods import METHODS
    return sorted(m for m, cls in METHODS.items() if key in cls.PARAMS)


# (YAML overlay over config/smoke.yaml, the key path named, the value shown)
NON_FINITE = [
    ("methods: {ours: {variants: {x: {eps: .nan}}}}", "methods.ours.variants.x.eps", "nan"),
    ("methods: {ours: {base: {clamp: .inf}}}", "methods.ours.base.clamp", "inf"),
    ("methods: {inn: {base: {weights: {z: -.inf}}}}", "methods.inn.base.weights.z", "-inf"),
    ("methods: {inn: {base: {y_noise: .NaN}}}", "methods.inn.base.y_noise", "nan"),
    ("methods: {inn: {base: {betas: [0.8, .inf]}}}", "methods.inn.base.betas.1", "inf"),
    ("methods: {inn: {variants: {full: {ramp: {speed: .inf}}}}}", "methods.inn.variants.full.ramp.speed", "inf"),
    ("tasks: {gmm: {modes: {std: .nan}}}", "tasks.gmm.modes.std", "nan"),
    ("tasks: {gmm: {modes: {radius: .nan}}}", "tasks.gmm.modes.radius", "nan"),
    ("tasks: {gaussian_linear: {noise_var: .inf}}", "tasks.gaussian_linear.noise_var", "inf"),
    ("images: {autoencoder: {lr: .inf}}", "images.autoencoder.lr", "inf"),
    ("images: {ours: {eps: .nan}}", "images.ours.eps", "nan"),
] + [(f"methods: {{{m}: {{base: {{lr: .inf}}}}}}", f"methods.{m}.base.lr", "inf") for m in _methods_with("lr")]


@pytest.mark.parametrize("overlay,key,shown", NON_FINITE)
def test_non_finite_number_is_refused_naming_the_key(smoke_config, tmp_path, overlay, key, shown):
    from flowbench.config import deep_merge
    f = tmp_path / "extra.yaml"
    f.write_text(overlay + "\n")
    cfg = deep_merge(smoke_config, read_config_file(f))
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value).startswith(f"config key '{key}': {shown} is not a finite number"), str(err.value)


def test_every_method_learning_rate_is_covered():
    from flowbench.methods import METHODS
    # NON_FINITE holds every registered method's learning rate (a new one is covered by registering)
    assert _methods_with("lr") == sorted(METHODS)


@pytest.mark.parametrize("mutate,words", [
    (lambda c: c.update(name="smoke\n"), ["config key 'name'", "'smoke\\n'", "results/<name>/"]),
    (lambda c: c["tasks"].update({"g\n": c["tasks"].pop("gmm")}), ["config key 'tasks'", "'g\\n'"]),
    (lambda c: c["methods"]["ours"]["variants"].update({"..": {}}), ["'methods.ours.variants'", "'..'"]),
    (lambda c: c["methods"]["ours"]["variants"].update({".hidden": {}}), ["'.hidden'", "not start with '.'"]),
])
def test_names_of_folders_are_matched_whole(smoke_config, mutate, words):
    cfg = copy.deepcopy(smoke_config)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    for w in words:
        assert w in str(err.value), str(err.value)


# ------------------------------------------------------------------ recipe provenance
def test_every_recipe_setting_of_the_full_config_has_a_source(full_config_with_stages):
    """The recipes are fixed with their provenance: every setting of every method's recipe on every
    task of the full config and its stages states where it comes from; ours's recipe is the
    paper's eps and padding noise on every task whose y is deterministic or a label."""
    from flowbench.recipes import NOT_STATED, recipe_provenance, task_recipes
    cfg = validate_config(full_config_with_stages)
    rows = recipe_provenance(cfg)
    assert not [r for r in rows if r["source"] == NOT_STATED]
    assert {r["method"] for r in rows} == set(cfg["methods"])
    for task in ("gmm", "gmm_some", "arm", "ballistics"):
        p = method_params(cfg, "ours", task_recipes(cfg, task)["ours"])
        assert (p["eps"], p["pad_noise"]) == (0.1, 0.05), task


def test_recipe_provenance_rows_name_the_variant_source_over_the_base(smoke_config):
    from flowbench.recipes import NOT_STATED, recipe_provenance
    cfg = copy.deepcopy(smoke_config)
    ours = cfg["methods"]["ours"]
    variant = next(iter(ours["variants"]))
    ours["variants"][variant] = {**(ours["variants"][variant] or {}), "eps": 0.2}
    ours["sources"] = {"base": {"eps, lr": "the paper"}, "variants": {variant: {"eps": "a rule"}}}
    cfg = validate_config(cfg)
    rows = [r for r in recipe_provenance(cfg) if r["method"] == "ours" and variant in r["variants"]]
    by_key = {r["key"]: r for r in rows}
    assert by_key["eps"]["source"] == "a rule" and by_key["eps"]["value"] == "0.2"
    assert by_key["lr"]["source"] == "the paper"
    assert by_key["blocks"]["source"] == NOT_STATED


@pytest.mark.parametrize("sources, match", [
    ({"base": {"epz": "typo"}}, r"methods\.ours\.sources\.base\.epz.*not a setting"),
    ({"variants": {"nope": {"eps": "x"}}}, r"methods\.ours\.sources\.variants\.nope.*no variant"),
    ({"base": {"eps": ""}}, r"methods\.ours\.sources\.base\.eps"),
])
def test_sources_naming_no_setting_are_refused(smoke_config, sources, match):
    cfg = copy.deepcopy(smoke_config)
    cfg["methods"]["ours"]["sources"] = sources
    with pytest.raises(ConfigError, match=match):
        validate_config(cfg)


def test_a_variant_source_for_an_inherited_setting_is_refused(smoke_config):
    cfg = copy.deepcopy(smoke_config)
    ours = cfg["methods"]["ours"]
    variant = next(v for v, o in ours["variants"].items() if "blocks" not in (o or {}))
    ours["sources"] = {"variants": {variant: {"blocks": "x"}}}
    with pytest.raises(ConfigError, match=r"not overridden by variant"):
        validate_config(cfg)


def test_dim_auto_is_the_least_each_task_allows(smoke_config):
    """`dim: auto` in a flow's recipe: on each task the method's min_dim for its dimensions (ours:
    max(x, y + 1); the INN: x + y; the cINN: x), checked and built as a number."""
    import copy

    from flowbench.config import validate_config
    from flowbench.methods import make_method, resolve_dim
    from flowbench.recipes import method_params
    cfg = copy.deepcopy(smoke_config)
    for m in ("ours", "inn", "cinn"):
        cfg["methods"][m]["variants"]["auto"] = {"dim": "auto"}
    cfg["tasks"]["gaussian_linear"]["runs"] = [{"method": m, "variants": ["auto"], "seeds": [0]}
                                               for m in ("ours", "inn", "cinn")]
    validate_config(cfg)
    d = cfg["tasks"]["gaussian_linear"]["dim"]
    want = {"ours": d + 1, "inn": 2 * d, "cinn": d}
    for m, dim in want.items():
        p = method_params(cfg, m, "auto")
        assert p["dim"] == "auto" and resolve_dim(m, p, d, d)["dim"] == dim
        assert make_method(m, d, d, p, conditions="continuous").dim == dim
    cfg["methods"]["ours"]["variants"]["auto"] = {"dim": "wide"}
    with pytest.raises(ConfigError, match="dim"):
        validate_config(cfg)
