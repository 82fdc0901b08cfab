# Every task, one set of rules: train (and sample) every (task, method, variant, seed), evaluate it
# against the task's exact or reference posterior at its evaluation conditions, aggregate into one
# tidy metrics.csv per task (with runs.csv: what each run used; task.json: the task's own record),
# draw the task's figures. The rules know no task kind: the task protocol (flowbench.tasks) does.
from flowbench.captions import figure_caption
from flowbench.eps_split import smoothed_runs
from flowbench.identity import floor_digest, floor_source, reference_digest
from flowbench.recipes import iter_runs
from flowbench.registry import method_infos
from flowbench.tasks import task_class


def task_all_targets():
    """The stage's final outputs and every run's own files: a deleted or failed per-run file is
    rebuilt by a plain `snakemake` even when the aggregate that read it is still present."""
    out = []
    for task in config["tasks"]:
        out += [f"{RESULTS}/{task}/{f}" for f in TASK_FILES]
        out += reference_files(task)
        out.extend(task_figures(task))
        out.extend(f"{d}/{f}" for d in run_dirs(task) for f in RUN_FILES)
        out += eps_split_files(task)
    return out


def eps_split_files(task):
    """[results/<name>/<task>/eps_split.csv] for a task with an `eps_split` section, else []."""
    return [f"{RESULTS}/{task}/eps_split.csv"] if (config["tasks"][task].get("eps_split")) else []


def smoothed_run_dirs(task):
    """{(method, variant, seed): run folder} of every run on the task whose method declares a
    smoothed limit (ours's eps, the INN's y noise: flowbench.eps_split.smoothed_runs)."""
    limits = smoothed_runs(config, task)
    return {(m, v, s): f"{RESULTS}/{t}/{m}/{v}/seed{s}" for (t, m, v, s) in iter_runs(config, task)
            if (m, v) in limits}


TASK_FILES = ("metrics.csv", "runs.csv", "task.json", "noise_floor.csv")
# with `carry` (flowbench.carry) a run's checkpoint, samples and predictions are temporary: deleted
# once its evaluation has read them, since everything downstream reads its small files only
CARRY = bool(config.get("carry"))
BULKY_RUN_FILES = ("model.pt", "posterior_samples.npz", "predictions.npz")
RUN_FILES = tuple(f for f in ("model.pt", "train_log.csv", "train_info.json", "posterior_samples.npz",
                              "predictions.npz", "metrics.json", "figure_data.npz")
                  if not (CARRY and f in BULKY_RUN_FILES))


def bulky(path):
    """A checkpoint, samples or predictions output: temporary under `carry`."""
    return temp(path) if CARRY else path


def has_reference_file(task):
    """Whether the task's kind scores against a reference file (the simulation tasks' rejection
    ABC, rule reference_task) rather than an exact posterior. False for a name that is no
    configured task (the figure pattern also meets the report's copies while the DAG is built)."""
    t = config["tasks"].get(task)
    return t is not None and task_class(t["kind"]).reference_file


def reference_files(task):
    """[results/<name>/<task>/reference.npz] for a task with a reference file, else []: an extra
    input of the jobs that read it, so every other task's jobs keep exactly their input lists."""
    return [f"{RESULTS}/{task}/reference.npz"] if has_reference_file(task) else []


def probe_reference_files(task):
    """The reference file for training only when the task probes W2 during training."""
    t = config["tasks"].get(task)
    return reference_files(task) if t is not None and t["train"].get("probe_every") else []


def figure_names(task):
    """The figures of a task: its kind's own, then the common ones, then the validation curves when
    its runs stop early (one list, in the task class)."""
    return task_class(config["tasks"][task]["kind"]).figure_names(config["tasks"][task])


def task_figures(task):
    return [f"{RESULTS}/{task}/figures/{name}.png" for name in figure_names(task)]


def ensemble_seeds(task, method, variant):
    """The seeds of (task, method, variant) when they train as one batched ensemble (config
    `ensemble: true`, a method that gives its step's noise, two seeds or more), else []."""
    if config.get("ensemble") not in (True, "true"):
        return []
    info = method_infos().get(method)
    if info is None or not info.ensemble_ready:
        return []
    seeds = [s for (_, m, v, s) in iter_runs(config, task) if m == method and v == variant]
    return seeds if len(seeds) > 1 else []


def ensemble_input(wc):
    """The ensemble folder a run copies its files from, when its seeds train as one; else []."""
    if not ensemble_seeds(wc.task, wc.method, wc.variant):
        return []
    return [f"{RESULTS}/{wc.task}/{wc.method}/{wc.variant}/ensemble"]


# The seeds of one (method, variant) as one batched ensemble (flowbench.ensemble): each seed's
# files under ensemble/seed<s>/, which train_run then copies into the run's own folder.
rule train_ensemble:
    input:
        reference=lambda wc: probe_reference_files(wc.task),
    output:
        directory(f"{RESULTS}/{{task}}/{{method}}/{{variant}}/ensemble"),
    log:
        f"{RESULTS}/logs/{{task}}/{{method}}/{{variant}}/ensemble/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/{{method}}/{{variant}}/ensemble/train.tsv"
    threads: job_threads()
    resources:
        **job_resources("train_ensemble"),
    params:
        device=config.get("device", "auto"),
        seeds=lambda wc: ensemble_seeds(wc.task, wc.method, wc.variant),
        identity=lambda wc: [train_digest(config, wc.task, wc.method, wc.variant, s)
                             for s in ensemble_seeds(wc.task, wc.method, wc.variant)],
    script:
        "../scripts/train_ensemble.py"


rule train_run:
    input:
        reference=lambda wc: probe_reference_files(wc.task),
        ensemble=ensemble_input,
    output:
        model=bulky(f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/model.pt"),
        log_csv=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train_log.csv",
        info=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train_info.json",
        samples=bulky(f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/posterior_samples.npz"),
        predictions=bulky(f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/predictions.npz"),
    log:
        f"{RESULTS}/logs/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train.tsv"
    threads: job_threads()
    resources:
        **job_resources("train_run"),
    params:
        device=config.get("device", "auto"),
        # the run's slice of the config: a change retrains this run (and only this run)
        identity=lambda wc: train_digest(config, wc.task, wc.method, wc.variant, int(wc.seed)),
    script:
        "../scripts/train_run.py"


rule evaluate_run:
    input:
        info=rules.train_run.output.info,
        samples=rules.train_run.output.samples,
        predictions=rules.train_run.output.predictions,
        log_csv=rules.train_run.output.log_csv,
        floor=f"{RESULTS}/{{task}}/noise_floor.csv",
        reference=lambda wc: reference_files(wc.task),
    output:
        metrics=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/metrics.json",
        # what the figures and the eps split read of the run (flowbench.figure_data)
        figure_data=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/figure_data.npz",
    log:
        f"{RESULTS}/logs/{{task}}/{{method}}/{{variant}}/seed{{seed}}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/{{method}}/{{variant}}/seed{{seed}}/evaluate.tsv"
    threads: 1
    # a trained run is scored (and so can be carried, flowbench.carry) before more runs train
    priority: 10
    resources:
        **job_resources("evaluate_run"),
    params:
        identity=lambda wc: evaluate_digest(config, wc.task),
    script:
        "../scripts/evaluate_run.py"


rule aggregate_task:
    input:
        metrics=lambda wc: [f"{d}/metrics.json" for d in run_dirs(wc.task)],
        infos=lambda wc: [f"{d}/train_info.json" for d in run_dirs(wc.task)],
        reference=lambda wc: reference_files(wc.task),   # its quality numbers go into task.json
    output:
        metrics=f"{RESULTS}/{{task}}/metrics.csv",
        runs=f"{RESULTS}/{{task}}/runs.csv",
        task=f"{RESULTS}/{{task}}/task.json",
    log:
        f"{RESULTS}/logs/{{task}}/aggregate.log",
    threads: 1
    resources:
        **job_resources("aggregate_task"),
    params:
        identity=lambda wc: task_digest(config, wc.task),
    script:
        "../scripts/aggregate_task.py"


rule reference_task:
    # a simulation task's reference posterior: the nearest prior draws of a streamed pool
    # (rejection ABC, flowbench.tasks.inverse); only for kinds with a reference file
    output:
        f"{RESULTS}/{{task}}/reference.npz",
    log:
        f"{RESULTS}/logs/{{task}}/reference.log",
    # no benchmark file: the build time is in the reference file itself (and task.json), and the
    # rules' benchmark patterns are part of the provenance record of every config
    threads: 1
    resources:
        **job_resources("reference_task"),
    params:
        identity=lambda wc: reference_digest(config, wc.task),
    script:
        "../scripts/reference_task.py"


def floor_input(task):
    """The floor file ``task`` copies (identity.floor_source), or none when it computes its own."""
    src = floor_source(config, task)
    return [] if src == task else [f"{RESULTS}/{src}/noise_floor.csv"]


rule noise_floor:
    # each metric between two independent exact samples of the sizes the task scores at
    # (for a task with a reference file: two disjoint subsets of its kept draws)
    # (a task equal to an earlier one but for keys its floor does not read copies that task's floor:
    # the sbibm tasks of one name at several budgets; identity.floor_source)
    input:
        reference=lambda wc: reference_files(wc.task),
        source=lambda wc: floor_input(wc.task),
    output:
        f"{RESULTS}/{{task}}/noise_floor.csv",
    log:
        f"{RESULTS}/logs/{{task}}/noise_floor.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/noise_floor.tsv"
    threads: 1
    priority: 10   # the evaluations wait for it
    resources:
        **job_resources("noise_floor"),
    params:
        identity=lambda wc: floor_digest(config, wc.task),
    script:
        "../scripts/noise_floor.py"


# One job per task draws all of the task's figures (its kind's own, then the common ones): one
# interpreter start and one matplotlib import per task instead of per figure. Its output list
# depends on the task's kind, so the rule is stated once per configured task (`figure_task_<task>`);
# every such rule is sized as `figure_task`.
for _task in config["tasks"]:
    rule:
        name:
            f"figure_task_{_task}"
        input:
            metrics=f"{RESULTS}/{_task}/metrics.csv",
            runs=[f"{d}/{f}" for d in run_dirs(_task) for f in ("figure_data.npz", "train_log.csv")],
            reference=reference_files(_task),
            floor=f"{RESULTS}/{_task}/noise_floor.csv",   # the floor lines of the W2 figures
        output:
            [report(path, caption="../report/figure.rst", category="2. Figures", subcategory=_task)
             for path in task_figures(_task)],
        log:
            f"{RESULTS}/logs/{_task}/figures.log",
        threads: 1
        resources:
            **job_resources("figure_task"),
        params:
            task=_task,
            identity=task_digest(config, _task),
            captions={name: figure_caption(name) for name in figure_names(_task)},
        script:
            "../scripts/figure_task.py"


rule eps_split_task:
    # what smoothing costs: every run of ours (eps) and of the INN (y noise) split at the smoothed
    # target its training converges to (flowbench.eps_split.task_split); only for tasks with an
    # `eps_split` section
    input:
        samples=lambda wc: [f"{d}/figure_data.npz" for d in smoothed_run_dirs(wc.task).values()],
        reference=lambda wc: reference_files(wc.task),
    output:
        f"{RESULTS}/{{task}}/eps_split.csv",
    log:
        f"{RESULTS}/logs/{{task}}/eps_split.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/eps_split.tsv"
    threads: 1
    resources:
        **job_resources("eps_split_task"),
    params:
        runs=lambda wc: {f"{m}|{v}|{s}": d for (m, v, s), d in smoothed_run_dirs(wc.task).items()},
        identity=lambda wc: evaluate_digest(config, wc.task),
    script:
        "../scripts/eps_split_task.py"
