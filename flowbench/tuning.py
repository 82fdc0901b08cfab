"""Equal-budget hyper-parameter tuning of every method with Optuna (Akiba et al. 2019,
arXiv:1907.10902), on validation data only.

One *study* per (task, method): the same number of trials for every method, in three phases that
do not depend on the results of the others:

- trial 0, ``recipe``: the method's recipe on the task as the config states it (its validation
  distance is the "no tuning" point of the expected-best curve);
- trials 1..R, ``random``: independent draws from the method's declared search space
  (``SEARCH_SPACE``); the expected best after k of them (Dodge et al. 2019, "Show your work",
  arXiv:1909.03004) is how much tuning a method needs;
- trials R+1..R+T, ``tpe``: the tree-structured Parzen estimator (Bergstra et al. 2011) on all
  finished trials, pruned by the median rule on the validation curve (a TPE trial whose validation
  distance after ``warmup_checks`` checks is worse than the median of the earlier trials at the
  same step stops there). Random trials are never pruned: their values are the sample of the
  expected-best curve.

The objective is the task's validation distance (``flowbench.pipeline.make_validation``: W2 at
validation conditions and draws the test never uses): the best check under the task's early
stopping, else the last check of the fixed budget (what a test run of that recipe keeps). A trial
that diverges, draws non-finite samples or is no better than a sampler that ignores the condition
(draws of x's prior, the *useless level*) is *unstable*: its value is the useless level, so a
method whose draws blow up pays for it in the expected-best curve (instability counts as
sensitivity) and TPE learns to avoid the region.

Each trial's sampler is seeded by the study's seed and the trial's position, so the draws do not
depend on how often the study was interrupted: the storage (SQLite here; an RDB or journal
storage on a cluster) holds every finished trial, a killed job leaves its running trial behind as
failed, and the rerun job starts that position again with the same draw.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .identity import _task_section
from .params import apply_draw, suggest
from .recipes import digest, method_params, task_recipes

PHASES = ("recipe", "random", "tpe")
#: the columns of a study's trials table
TRIAL_COLUMNS = ["task", "method", "trial", "position", "phase", "state", "value", "raw_value", "unstable",
                 "steps_done", "best_step", "seconds", "error", "draw"]


def settings(config: dict) -> dict | None:
    """The config's ``tuning`` section with its defaults, or None when it has none."""
    t = config.get("tuning")
    if not t:
        return None
    out = {"trials": 24, "random_trials": 12, "seed": 0, "train_seed": 0, "prune": {"warmup_checks": 2},
           "validate_every": None, "n": 500, "storage": None, **t}
    out["prune"] = {"warmup_checks": 2, **(t.get("prune") or {})}
    return out


def studies(config: dict) -> list[tuple[str, str]]:
    """[(task, method)] of every study the config's ``tuning`` section asks for."""
    t = settings(config)
    if t is None:
        return []
    return [(task, m) for task in t["tasks"] for m in t["methods"]]


def recipe_variant(config: dict, task: str, method: str) -> str:
    """The variant a study starts from: the method's recipe on the task (the first variant the
    task's runs list for it)."""
    recipes = task_recipes(config, task)
    if method not in recipes:
        raise ValueError(f"tuning: method {method!r} has no run on task {task!r}, so it has no recipe "
                         f"there to start from; add it to tasks.{task}.runs or drop it from tuning.methods")
    return recipes[method]


def space_record(space: dict) -> dict:
    """The search space as plain data (what the study's identity records)."""
    return {k: {"kind": s.kind, "low": s.low, "high": s.high, "log": s.log,
                "choices": list(s.choices) if s.choices else None} for k, s in space.items()}


def study_identity(config: dict, task: str, method: str) -> dict:
    """Everything a study's trials depend on: the task as training reads it, the recipe it starts
    from, the search space, the phases and seeds. A change makes a new study (the old trials are
    dropped, never mixed in)."""
    from .methods import method_class
    t = settings(config)
    variant = recipe_variant(config, task, method)
    return {"task": _task_section(config, task, drop=("metrics",)), "task_name": task, "method": method,
            "recipe_variant": variant, "recipe": method_params(config, method, variant),
            "space": space_record(method_class(method).SEARCH_SPACE),
            "tuning": {k: t[k] for k in ("trials", "random_trials", "seed", "train_seed", "prune",
                                          "validate_every", "n")}}


def task_digest(config: dict, task: str) -> str:
    """The task as its training reads it (what a tuned recipe is valid for)."""
    return digest(_task_section(config, task, drop=("metrics",)))


def study_digest(config: dict, task: str, method: str) -> str:
    return digest(study_identity(config, task, method))


def trial_seed(seed: int, position: int) -> int:
    """The sampler seed of the trial at ``position`` (a 32-bit draw of the study seed and the
    position: independent of how often the study was interrupted)."""
    return int(np.random.SeedSequence([int(seed), int(position)]).generate_state(1)[0])


def phase_of(position: int, random_trials: int) -> str:
    """The phase of the trial at ``position`` (0: the recipe, then random, then TPE)."""
    if position < 0:
        raise ValueError(f"trial position must be >= 0, got {position}")
    return "recipe" if position == 0 else "random" if position <= random_trials else "tpe"


def validation_floor(task, n: int) -> float:
    """The validation distance between two independent exact samples of n draws (the mean over
    validation conditions of W2 between the two halves of 2n validation reference draws; n // 2
    each where the reference keeps fewer than 2n): a difference smaller than this is noise."""
    from .metrics import w2
    _, conds = task.validation_conditions()
    vals = []
    for k in range(len(conds)):
        try:
            ref = task.validation_reference(k, 2 * n)
            m = n
        except ValueError:
            ref = task.validation_reference(k, n)
            m = n // 2
        vals.append(w2(ref[:m], ref[m:2 * m]))
    return float(np.mean(vals))


def useless_level(task, n: int, seed: int = 0) -> float:
    """The validation distance of a sampler that ignores the condition: n draws of x's prior
    (the x of the task's joint draws) against each validation reference, averaged."""
    from .metrics import w2
    _, conds = task.validation_conditions()
    x, _ = task.sample_batch(n, np.random.default_rng([20261205, seed]))
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean([w2(x, task.validation_reference(k, n)) for k in range(len(conds))]))


class _Context:
    """What every trial of a study shares: the task, its validation function and levels."""

    def __init__(self, config, task_name, method, log):
        from .pipeline import make_validation
        from .tasks import load_task
        self.config, self.task_name, self.method, self.log = config, task_name, method, log
        self.t = settings(config)
        self.tcfg = config["tasks"][task_name]
        self.task = load_task(config, task_name)
        es = self.tcfg["train"].get("early_stopping") or {}
        self.early_stopping = bool(es)
        self.n = int(es.get("n", self.t["n"]))
        self.every = int(es.get("every") or self.t["validate_every"] or 0)
        if self.every < 1:
            raise ValueError(f"tuning on task {task_name!r}: the task has no train.early_stopping, so "
                             f"tuning.validate_every must say how often the validation distance is checked")
        self.validate = make_validation(self.task, self.n)
        self.floor = validation_floor(self.task, self.n)
        self.useless = useless_level(self.task, self.n)
        self.variant = recipe_variant(config, task_name, method)
        self.recipe = method_params(config, method, self.variant)


class TrialPruned(Exception):
    """Raised inside training when the pruner stops a TPE trial (re-raised as Optuna's)."""


def run_trial(ctx: _Context, params: dict, report=None, device=None) -> dict:
    """Train one recipe ``params`` on the study's task and return its objective: ``value`` (the
    validation distance, the useless level for an unstable trial), ``raw_value``, ``unstable``,
    ``steps_done``, ``best_step``, ``seconds``. ``report(value, step)`` is called after every
    validation check (the pruner's hook; it may raise ``TrialPruned``)."""
    from .methods import make_method
    from .pipeline import run_iterations
    from .training import train
    task, tr = ctx.task, ctx.tcfg["train"]
    iterations = run_iterations(ctx.tcfg, params)
    model = make_method(ctx.method, task.x_dim, task.y_dim, params, total_steps=iterations,
                        seed=int(ctx.t["train_seed"]), label_prior=task.label_prior, conditions=task.conditions)
    checks = []

    def validate(m):
        v = ctx.validate(m)
        checks.append(v)
        if report is not None:
            report(min(v, ctx.useless) if math.isfinite(v) else ctx.useless,
                   min(len(checks) * ctx.every, iterations))
        return v

    es = tr.get("early_stopping") or {}
    stop = ({"patience": int(es.get("patience", 5)), "min_improvement": float(es.get("min_improvement", 0.01))}
            if ctx.early_stopping else {"patience": 10 ** 9, "min_improvement": 0.0})
    t0 = time.perf_counter()
    res = train(model, task, iterations, int(tr["batch_size"]), int(ctx.t["train_seed"]), device,
                log_every=max(iterations // 4, 1), validate=validate, validate_every=ctx.every,
                log=lambda msg: None, **stop)
    seconds = time.perf_counter() - t0
    if res.diverged or not checks:
        raw = math.inf
    else:
        raw = float(res.best_val) if ctx.early_stopping and res.best_val is not None else float(checks[-1])
    unstable = not math.isfinite(raw) or raw >= ctx.useless
    return {"value": ctx.useless if unstable else raw, "raw_value": raw, "unstable": unstable,
            "steps_done": res.steps_done, "best_step": res.best_step, "seconds": seconds}


def _storage(storage):
    """An Optuna storage: an RDB URL as it is; a ``.jsonl`` path a journal file (append-only text,
    file-locked: several workers may share it, and a committed one carries a study across
    machines); any other path a SQLite file."""
    s = str(storage)
    if "://" in s:
        return s
    Path(s).parent.mkdir(parents=True, exist_ok=True)
    if s.endswith(".jsonl"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        return JournalStorage(JournalFileBackend(s))
    return f"sqlite:///{Path(s).resolve()}"


def storage_path(config: dict, results: str, task: str, method: str) -> str:
    """Where the study of (task, method) is stored: ``tuning.storage/<task>/<method>.jsonl`` (a
    journal file) when the config names a folder, else ``<results>/tuning/<task>/<method>/study.db``."""
    folder = (settings(config) or {}).get("storage")
    return f"{folder.rstrip('/')}/{task}/{method}.jsonl" if folder else f"{results}/tuning/{task}/{method}/study.db"


def open_study(config: dict, task: str, method: str, storage, log=None):
    """The study of (task, method) in ``storage`` (a SQLite or ``.jsonl`` journal file path, or an
    Optuna storage URL),
    created when absent. A study made under another identity (``study_digest``) is deleted and
    made afresh; a trial left running by a killed job is marked failed (its position reruns)."""
    import optuna
    log = log or (lambda m: None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = _storage(storage)
    name, want = f"{task}/{method}", study_digest(config, task, method)
    study = optuna.create_study(study_name=name, storage=url, direction="minimize", load_if_exists=True)
    got = study.user_attrs.get("identity_digest")
    if got is not None and got != want:
        log(f"[tune {name}] the stored study was made under identity {got}, the config now gives {want}: "
            f"its {len(study.trials)} trials are dropped and the study starts again")
        optuna.delete_study(study_name=name, storage=url)
        study = optuna.create_study(study_name=name, storage=url, direction="minimize")
    study.set_user_attr("identity_digest", want)
    for tr in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        log(f"[tune {name}] trial {tr.number} (position {tr.user_attrs.get('position')}) was left running "
            f"by a stopped job: marked failed, its position runs again")
        study.tell(tr.number, state=optuna.trial.TrialState.FAIL)
    return study


def finished(study) -> list:
    """The trials that count (complete or pruned), in trial order."""
    import optuna
    ok = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in ok]


def run_study(config: dict, task: str, method: str, storage, log=None, device=None, max_trials=None):
    """Run (or resume) the study of (task, method) until it holds 1 + ``tuning.trials`` finished
    trials; ``max_trials``: stop after that many new trials (tests). Returns the study."""
    import optuna
    from .methods import method_class
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    t = settings(config)
    if t is None:
        raise ValueError("the config has no tuning section")
    total, n_random = 1 + int(t["trials"]), int(t["random_trials"])
    study = open_study(config, task, method, storage, log)
    ctx = _Context(config, task, method, log)
    space = method_class(method).SEARCH_SPACE
    warmup = int(t["prune"]["warmup_checks"]) * ctx.every
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=warmup)
    log(f"[tune {task}/{method}] recipe {ctx.variant!r}; {len(finished(study))}/{total} trials done; "
        f"validation every {ctx.every} steps on {ctx.n} draws; floor {ctx.floor:.4g}, useless level "
        f"{ctx.useless:.4g}")
    new = 0
    while (k := len(finished(study))) < total and (max_trials is None or new < max_trials):
        phase = phase_of(k, n_random)
        seed = trial_seed(int(t["seed"]), k)
        study.sampler = (optuna.samplers.TPESampler(seed=seed, n_startup_trials=0) if phase == "tpe"
                         else optuna.samplers.RandomSampler(seed=seed))
        trial = study.ask()
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("position", k)
        draw = suggest(space, trial) if phase != "recipe" else {}
        params = apply_draw(ctx.recipe, draw)

        reported = []

        def report(value, step, trial=trial, phase=phase):
            trial.report(value, step)
            reported.append((value, step))
            if phase == "tpe" and trial.should_prune():
                raise TrialPruned()

        try:
            out = run_trial(ctx, params, report=report, device=device)
        except TrialPruned:
            last, step = reported[-1]
            trial.set_user_attr("unstable", bool(last >= ctx.useless))   # pruned at the useless level
            trial.set_user_attr("steps_done", int(step))
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            log(f"[tune {task}/{method}] trial {k} ({phase}) pruned")
            new += 1
            continue
        except (ValueError, RuntimeError) as err:   # a draw the method cannot build or train
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            out = {"value": ctx.useless, "raw_value": math.inf, "unstable": True, "steps_done": 0,
                   "best_step": None, "seconds": 0.0}
            log(f"[tune {task}/{method}] trial {k} ({phase}) failed: {err}; scored as unstable")
        for key in ("raw_value", "unstable", "steps_done", "best_step", "seconds"):
            trial.set_user_attr(key, out[key] if not isinstance(out[key], float) or math.isfinite(out[key])
                                else str(out[key]))
        study.tell(trial, out["value"])
        new += 1
        log(f"[tune {task}/{method}] trial {k} ({phase}): validation W2 {out['value']:.4g}"
            f"{' (unstable)' if out['unstable'] else ''}, {out['steps_done']} steps, {out['seconds']:.0f} s")
    study.set_user_attr("floor", ctx.floor)
    study.set_user_attr("useless", ctx.useless)
    return study


def trials_frame(study, task: str, method: str) -> pd.DataFrame:
    """One row per finished trial (``TRIAL_COLUMNS``), in position order; ``draw``: the trial's
    values of the search space as JSON."""
    rows = []
    for tr in finished(study):
        a = tr.user_attrs
        raw = a.get("raw_value", tr.value)
        rows.append({"task": task, "method": method, "trial": tr.number, "position": a.get("position"),
                     "phase": a.get("phase"), "state": tr.state.name.lower(),
                     "value": tr.value, "raw_value": float(raw) if raw is not None else math.nan,
                     "unstable": bool(a.get("unstable", False)), "steps_done": a.get("steps_done"),
                     "best_step": a.get("best_step"), "seconds": a.get("seconds"), "error": a.get("error", ""),
                     "draw": json.dumps(tr.params, sort_keys=True)})
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    return df.sort_values("position", kind="stable").reset_index(drop=True)


def best_record(config: dict, study, task: str, method: str) -> dict:
    """The study's result: the best complete trial, its full recipe (the task's recipe with the
    trial's draw), the validation floor and useless level, and the study's identity digest."""
    from .methods import method_class
    done = [t for t in finished(study) if t.state.name == "COMPLETE" and not t.user_attrs.get("unstable")]
    t = settings(config)
    variant = recipe_variant(config, task, method)
    rec = {"task": task, "method": method, "recipe_variant": variant,
           "study_digest": study_digest(config, task, method), "task_digest": task_digest(config, task),
           "recipe_digest": digest(method_params(config, method, variant)), "trials": len(finished(study)),
           "planned_trials": 1 + int(t["trials"]), "floor": study.user_attrs.get("floor"),
           "useless": study.user_attrs.get("useless")}
    if not done:
        return {**rec, "best": None}
    best = min(done, key=lambda tr: tr.value)
    space = method_class(method).SEARCH_SPACE
    draw = {k: (space[k].choices[v] if space[k].kind == "choice" else v) for k, v in best.params.items()}
    recipe = method_params(config, method, rec["recipe_variant"])
    return {**rec, "best": {"trial": best.number, "phase": best.user_attrs.get("phase"), "value": best.value,
                            "draw": draw, "params": apply_draw(recipe, draw)}}


def write_study_outputs(config: dict, study, task: str, method: str, trials_csv, best_json) -> None:
    from .io import write_csv, write_json
    write_csv(trials_csv, trials_frame(study, task, method))
    write_json(best_json, best_record(config, study, task, method))


def summarise_studies(trials_files, best_files, trials_out, recipes_out, figure_out=None) -> None:
    """Every study's trials in one table (``trials_out``) and every best record in one JSON
    (``recipes_out``: {studies: [...], trials_sha256}), all read through their records; with
    ``figure_out``, the expected-best figure (``flowbench.plots.expected_best_figure``)."""
    from .io import write_csv, write_json
    from .records import read_csv, read_json, sha256_of
    frames = [read_csv(f, keep_default_na=False, na_values=[""]) for f in trials_files]
    df = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TRIAL_COLUMNS))
    write_csv(trials_out, df.sort_values(["task", "method", "position"], kind="stable"))
    studies_ = sorted((read_json(f) for f in best_files), key=lambda r: (r["task"], r["method"]))
    write_json(recipes_out, {"studies": studies_, "trials_sha256": sha256_of(trials_out)})
    if figure_out is not None:
        from .plots import expected_best_figure
        expected_best_figure(df, {r["task"]: r["floor"] for r in studies_ if r.get("floor") is not None},
                             figure_out)


def publish(trials_in, recipes_in, outputs, figure_in=None) -> None:
    """Copy the summary to the committed folder (``outputs``: its trials.csv, tuned_recipes.json and
    expected_best.png), each table with its integrity record; the recipes' ``trials_sha256`` names
    the copied table. A ``README.md`` among the outputs gets the studies' account (C10, the cost,
    the tables: ``flowbench.report.sections.tuning.published_readme``)."""
    from .io import write_csv, write_json
    from .records import read_csv, read_json, sha256_of
    out = {Path(o).name: o for o in outputs}
    write_csv(out["trials.csv"], read_csv(trials_in, keep_default_na=False, na_values=[""]))
    rec = read_json(recipes_in)
    rec["trials_sha256"] = sha256_of(out["trials.csv"])
    write_json(out["tuned_recipes.json"], rec)
    if figure_in is not None and "expected_best.png" in out:
        import shutil
        shutil.copyfile(figure_in, out["expected_best.png"])
    if "README.md" in out:
        from .io import atomic_path
        from .report.inputs import load_tuning
        from .report.sections.tuning import published_readme
        pub = load_tuning(Path(out["trials.csv"]).parent)     # read back through its checks
        with atomic_path(out["README.md"]) as tmp:
            tmp.write_text(published_readme(pub["trials"], pub["recipes"], pub["floors"],
                                            "expected_best.png" if "expected_best.png" in out else None))


def tuned_variant(task: str) -> str:
    """The variant name of a method's tuned recipe on ``task``."""
    return f"tuned_{task}"


def apply_tuned(config: dict, root=".", log=None) -> list[tuple[str, str]]:
    """Add the published best recipes (``tuned.from``, relative to ``root``) to a validated config:
    for each study with a stable best trial whose task is configured, the variant
    ``tuned_<task>`` of its method (the recipe it started from with the trial's draw, its sources
    naming the study) and a run of it at ``tuned.seeds``. A study tuned under another task setting
    or recipe than the config's is refused (``ConfigError``): its recipe was never validated on
    this task. Idempotent; returns the (task, method) pairs added. Validate the config again after."""
    from .errors import ConfigError
    from .records import DamagedFile
    from .report.inputs import load_tuning
    tuned = config.get("tuned")
    if not tuned:
        return []
    log = log or (lambda m: None)
    folder = Path(root) / tuned["from"]
    try:
        pub = load_tuning(folder)
    except DamagedFile as err:
        raise ConfigError(f"config key 'tuned.from': {err}") from None
    if pub is None:
        raise ConfigError(f"config key 'tuned.from': {folder} holds no tuning summary (trials.csv, "
                          f"tuned_recipes.json); run the studies first (README \"Tuning\")")
    seeds = [int(s) for s in tuned.get("seeds", [0, 1, 2, 3, 4])]
    added = []
    for s in pub["recipes"]["studies"]:
        task, method, best = s["task"], s["method"], s.get("best")
        if task not in config["tasks"] or method not in config["methods"]:
            log(f"tuned: {task}/{method} is not configured here; not run")
            continue
        if best is None:
            log(f"tuned: the study of {method} on {task} has no stable trial; not run")
            continue
        if task_digest(config, task) != s["task_digest"]:
            raise ConfigError(f"config key 'tuned.from': {method} was tuned on task {task!r} as it was "
                              f"configured then (digest {s['task_digest']}), the config now gives "
                              f"{task_digest(config, task)}; rerun the tuning studies")
        rv = s["recipe_variant"]
        if rv not in config["methods"][method]["variants"] or \
                digest(method_params(config, method, rv)) != s["recipe_digest"]:
            raise ConfigError(f"config key 'tuned.from': {method} was tuned from its recipe {rv!r} as it "
                              f"was then (digest {s['recipe_digest']}); that recipe changed or is gone; "
                              f"rerun the tuning studies")
        m = config["methods"][method]
        v = tuned_variant(task)
        m["variants"][v] = apply_draw(m["variants"][rv] or {}, best["draw"])
        src = m.setdefault("sources", {}).setdefault("variants", {})
        keys = sorted({k.split(".")[0] for k in best["draw"]})
        src[v] = {**{k: val for k, val in (src.get(rv) or {}).items()
                     if not set(x.strip() for x in k.split(",")) & set(keys)},
                  ", ".join(keys): (f"tuned: Optuna study {s['study_digest']} of {method} on {task}, trial "
                                    f"{best['trial']} ({best['phase']}) of {s['trials']}, validation W2 "
                                    f"{best['value']:.4g}")} if keys else dict(src.get(rv) or {})
        runs = config["tasks"][task]["runs"]
        if not any(r["method"] == method and v in r["variants"] for r in runs):
            runs.append({"method": method, "variants": [v], "seeds": seeds})
        added.append((task, method))
    return added
