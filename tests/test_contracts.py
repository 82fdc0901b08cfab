"""One contract for every registered method and every registered task kind (as zuko tests every
flow with one parametrized test): a new method or task kind is covered by being registered."""
import copy

import numpy as np
import pytest
import torch

from flowbench import metrics as M
from flowbench.config import ConfigError, validate_config
from flowbench.io import write_npz
from flowbench.methods import METHODS, make_method
from flowbench.registry import method_infos
from flowbench.tasks import TASK_KINDS, make_task
from tests.conftest import tiny_params, tiny_task_section

NAMES = sorted(METHODS)
KINDS = sorted(TASK_KINDS)


def _build(name, x_dim=2, y_dim=3, conditions="continuous", seed=0):
    cls = METHODS[name]
    torch.manual_seed(seed)
    return make_method(name, x_dim, y_dim, tiny_params(cls, x_dim, y_dim), total_steps=10,
                       seed=seed, conditions=conditions)


def test_the_torch_free_view_is_the_registry():
    infos = method_infos()
    assert set(infos) == set(METHODS)
    for name, info in infos.items():
        cls = METHODS[name]
        for attr in ("label", "long_label", "order", "role", "image_flow", "image_variant",
                     "fixed_noise", "ensemble_ready", "smoothed_limit"):
            assert getattr(info, attr) == getattr(cls, attr), (name, attr)
        assert info.image_defaults == (cls.image_defaults is not None), name
        for cap in ("log_prob", "predict", "noise_of", "generate"):
            assert info.has(cap) == cls.has(cap), (name, cap)
    orders = [i.order for i in infos.values()]
    assert len(set(orders)) == len(orders), "two methods share an order"


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_finite_and_has_gradients(name):
    m = _build(name)
    x, y = torch.randn(64, 2), torch.randn(64, 3)
    loss, parts = m.loss(x, y, 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(np.isfinite(v) for v in parts.values())
    loss.backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_gives_the_shapes_for_every_condition(name):
    m = _build(name).eval()
    s = m.sample_posterior(torch.randn(5, 3), 7)
    assert tuple(s.shape) == (5, 7, 2) and torch.isfinite(torch.as_tensor(s)).all()


@pytest.mark.parametrize("name", [n for n in NAMES if METHODS[n].has("log_prob")])
def test_log_prob_is_a_density_of_the_samples_space(name):
    """exp(log_prob(x | y)) integrates to about one over x (a 2-d grid covering the samples); the
    cVAE's is the IWAE lower bound, so at most about one."""
    m = _build(name, x_dim=2, y_dim=1).eval()
    y = torch.tensor([[0.3]])
    with torch.no_grad():
        s = torch.as_tensor(m.sample_posterior(y, 2000))[0]
    half = float(s.abs().max()) * 1.5 + 1.0
    g = torch.linspace(-half, half, 121)
    xx = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        lp = m.log_prob(xx, y.expand(len(xx), 1))
    mass = float(torch.exp(lp).sum() * (g[1] - g[0]) ** 2)
    low = 0.5 if name == "cvae" else 0.9
    assert low < mass < 1.1, mass


@pytest.mark.parametrize("name", [n for n in NAMES if METHODS[n].has("noise_of")])
def test_noise_of_inverts_generate(name):
    m = _build(name).eval()
    c = torch.randn(20, 3)
    noise = torch.randn(20, m.noise_dim)
    with torch.no_grad():
        x = m.generate(c, noise)
        back = m.generate(c, m.noise_of(x, c))
    assert torch.allclose(back, x, atol=2e-2), float((back - x).abs().max())


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_round_trip(name, tmp_path):
    m = _build(name, seed=0).eval()
    torch.save(m.state_dict(), tmp_path / "m.pt")
    other = _build(name, seed=1).eval()
    other.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x, y = torch.randn(16, 2), torch.randn(16, 3)
    for a, b in zip(m.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    if METHODS[name].has("generate"):
        noise = torch.randn(16, m.noise_dim)
        with torch.no_grad():
            assert torch.allclose(m.generate(y, noise), other.generate(y, noise))
    torch.manual_seed(3)
    la, _ = m.loss(x, y, 0)
    torch.manual_seed(3)
    lb, _ = other.loss(x, y, 0)
    assert torch.allclose(la, lb)


def _method_config(smoke_config, name, base):
    """The smoke config's mixture alone, run by ``name`` with ``base`` (no image stage)."""
    cfg = copy.deepcopy(smoke_config)
    cfg["methods"] = {name: {"base": base, "variants": {"default": {}}}}
    gmm = cfg["tasks"]["gmm"]
    gmm["runs"] = [{"method": name, "variants": ["default"], "seeds": [0]}]
    cfg["tasks"] = {"gmm": gmm}
    cfg.pop("images", None)
    cfg.pop("benchmark", None)
    return cfg


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameter_values_are_refused_naming_the_key(name, smoke_config):
    cls = METHODS[name]
    base = tiny_params(cls, 2, 8)
    validate_config(_method_config(smoke_config, name, dict(base)))     # the tiny base is valid
    key = next(k for k, p in cls.PARAMS.items() if p.type == "integer" and p.minimum is not None)
    bad = {**base, key: cls.PARAMS[key].minimum - 1}
    with pytest.raises(ConfigError, match=rf"methods\.{name}\.base\.{key}"):
        validate_config(_method_config(smoke_config, name, bad))
    with pytest.raises(ConfigError, match=rf"unknown key.*no_such_key.*methods\.{name}\.base"):
        validate_config(_method_config(smoke_config, name, {**base, "no_such_key": 1}))


# ------------------------------------------------------------------------------ task kinds


def _task(kind, tmp_path):
    cfg = {"name": "t", "methods": {}, "tasks": {"t": {**tiny_task_section(kind), "runs": []}}}
    section = copy.deepcopy(cfg["tasks"]["t"])
    section["runs"] = [{"method": "x", "variants": ["v"], "seeds": [0]}]
    task = make_task(section)
    if TASK_KINDS[kind].reference_file:
        f = tmp_path / "reference.npz"
        write_npz(f, **task.build_reference(quality=False))
        task.attach_reference(f)
    return task


@pytest.mark.parametrize("kind", KINDS)
def test_reference_sampler_shapes(kind, tmp_path):
    task = _task(kind, tmp_path)
    ids, y = task.evaluation_conditions()
    assert len(ids) == len(y) and y.shape[1] == task.y_dim
    ref = task.reference_posterior(0, 50)
    assert ref.shape == (50, task.x_dim) and np.isfinite(ref).all()
    xb, yb = task.sample_batch(32, np.random.default_rng(0))
    assert tuple(xb.shape) == (32, task.x_dim) and tuple(yb.shape) == (32, task.y_dim)


@pytest.mark.parametrize("kind", KINDS)
def test_a_perfect_sampler_scores_at_the_floor_and_a_shifted_one_does_not(kind, tmp_path):
    """Independent exact draws score like the finite-sample floor; the same draws shifted by one
    posterior standard deviation (per coordinate) score clearly above it."""
    task = _task(kind, tmp_path)
    n = 100
    ref = task.reference_posterior(0, n)
    rng = np.random.default_rng(1)
    floor = np.mean([M.w2(task.reference_posterior(0, n, rng=rng), ref) for _ in range(2)])
    perfect = task.reference_posterior(0, n, rng=np.random.default_rng(2))
    shifted = perfect + ref.std(0, keepdims=True)
    assert M.w2(perfect, ref) < 2.0 * floor
    assert M.w2(shifted, ref) > 2.0 * floor


@pytest.mark.parametrize("kind", KINDS)
def test_the_config_section_round_trips(kind, smoke_config):
    """A tiny section validates, its defaults fill in, and validating the result again changes
    nothing (the generated schema and the task's own reading agree)."""
    cfg = copy.deepcopy(smoke_config)
    cfg["tasks"] = {"t": {**tiny_task_section(kind),
                          "runs": [{"method": "ours", "variants": ["paper"], "seeds": [0]}]}}
    cfg["tasks"]["t"].setdefault("train", {}).update({"iterations": 2, "batch_size": 16})
    if kind not in ("gmm",):
        cfg["methods"]["ours"]["variants"]["paper"] = {"dim": max(2, TASK_KINDS[kind].config_dims(
            "t", copy.deepcopy(cfg["tasks"]["t"]))[0] + TASK_KINDS[kind].config_dims(
            "t", copy.deepcopy(cfg["tasks"]["t"]))[1])}
    cfg.pop("benchmark", None)
    cfg.pop("images", None)
    once = validate_config(cfg)
    again = copy.deepcopy(once)
    again.pop("benchmark")    # filled by default for a `gmm` task; an explicit one is checked
    twice = validate_config(again)
    assert once["tasks"] == twice["tasks"] and once["methods"] == twice["methods"]
    section = once["tasks"]["t"]
    for key, p in TASK_KINDS[kind].PARAMS.items():
        if p.has_default and p.filled:
            assert key in section, key
    task = make_task(section)
    assert (task.x_dim, task.y_dim) == TASK_KINDS[kind].config_dims("t", section)


# ----------------------------------------------------------------------- tuning search spaces
class _EndTrial:
    """An Optuna-like trial that answers every suggestion with the low (``end=0``) or the high
    end of its range (the first or the last choice), recording the calls."""

    def __init__(self, end):
        self.end, self.calls = end, []

    def suggest_float(self, name, low, high, log=False):
        self.calls.append(("float", name, low, high, log))
        return low if self.end == 0 else high

    def suggest_int(self, name, low, high, log=False):
        self.calls.append(("int", name, low, high, log))
        return low if self.end == 0 else high

    def suggest_categorical(self, name, choices):
        self.calls.append(("categorical", name, tuple(choices)))
        return choices[0] if self.end == 0 else choices[-1]


def _declared(cls, dotted):
    """The Param a dotted search-space key names (``weights.x``: the field x of weights)."""
    top, *rest = dotted.split(".")
    p = cls.PARAMS[top]
    for part in rest:
        p = p.fields[part]
    return p


@pytest.mark.parametrize("name", NAMES)
def test_search_space_names_declared_keys_within_their_bounds(name):
    cls = METHODS[name]
    assert cls.SEARCH_SPACE, f"{name} declares no SEARCH_SPACE"
    assert "lr" in cls.SEARCH_SPACE      # every method's learning rate is tuned
    for key, space in cls.SEARCH_SPACE.items():
        p = _declared(cls, key)            # KeyError: not a declared key
        for v in space.values():
            if p.minimum is not None:
                assert v >= p.minimum, (key, v)
            if p.exclusive_minimum is not None:
                assert v > p.exclusive_minimum, (key, v)
            if p.maximum is not None:
                assert v <= p.maximum, (key, v)
            if p.exclusive_maximum is not None:
                assert v < p.exclusive_maximum, (key, v)


@pytest.mark.parametrize("end", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_every_corner_of_the_search_space_is_a_valid_trainable_config(name, end, smoke_config):
    """Both ends of every range, applied to a tiny base: the config validates, the method builds
    and its loss is finite."""
    from flowbench.params import apply_draw, suggest
    cls = METHODS[name]
    trial = _EndTrial(end)
    draw = suggest(cls.SEARCH_SPACE, trial)
    assert sorted(draw) == sorted(cls.SEARCH_SPACE) and len(trial.calls) == len(draw)
    logs = {c[1]: c[4] for c in trial.calls if c[0] in ("float", "int")}
    assert all(logs[k] == s.log for k, s in cls.SEARCH_SPACE.items() if s.kind != "choice")
    params = apply_draw(tiny_params(cls, 2, 8), draw)
    validate_config(_method_config(smoke_config, name, params))
    torch.manual_seed(0)
    m = make_method(name, 2, 8, cls.resolve(params), total_steps=10, conditions="continuous")
    loss, _ = m.loss(torch.randn(16, 2), torch.randn(16, 8), 0)
    assert torch.isfinite(loss)


def test_space_declarations_refuse_what_cannot_be_sampled():
    from flowbench.params import Space, apply_draw
    for bad in (dict(kind="float", low=1.0, high=1.0, source="rule"),
                dict(kind="float", low=0.0, high=1.0, log=True, source="rule"),
                dict(kind="choice", choices=(), source="rule"),
                dict(kind="beta", low=0.0, high=1.0, source="rule"),
                dict(kind="int", low=1, high=4)):
        with pytest.raises(ValueError):
            Space(**bad)
    base = {"weights": {"x": 1.0}, "lr": 1e-3}
    out = apply_draw(base, {"weights.x": 2.0, "ramp.speed": 0.5, "lr": 3e-4})
    assert out == {"weights": {"x": 2.0}, "lr": 3e-4, "ramp": {"speed": 0.5}} and base["weights"]["x"] == 1.0


def test_readme_table_is_the_search_spaces(root):
    from flowbench.methods import search_space_rows
    readme = (root / "README.md").read_text()
    section = readme[readme.index("### Tuning search spaces"):]
    section = section[:section.index("\n## ")]
    rows = [[c.strip().strip("`") for c in ln.strip().strip("|").split("|")] for ln in section.splitlines()
            if ln.startswith("| `")]
    assert rows == search_space_rows()
