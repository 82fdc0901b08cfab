import copy

import pytest

from flowbench.config import ConfigError, iter_runs, method_params, validate_config


def test_full_and_smoke_configs_validate(full_config, smoke_config):
    validate_config(full_config)
    validate_config(smoke_config)
    assert full_config["device"] == "auto"


def test_defaults_filled(smoke_config):
    cfg = validate_config(smoke_config)
    assert cfg["threads_per_job"] == 1
    assert cfg["report_dir"] == "report"


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


@pytest.mark.parametrize("mutate,words", BAD)
def test_bad_config_is_refused_with_the_key_named(smoke_config, mutate, words):
    cfg = copy.deepcopy(smoke_config)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_iter_runs_unique_and_ordered(smoke_config):
    cfg = validate_config(smoke_config)
    runs = list(iter_runs(cfg))
    assert len(runs) == len(set(runs))
    assert runs[0] == ("gmm", "ours", "paper", 0)
