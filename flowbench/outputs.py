"""Where a config may write, and which config owns a results folder (no torch: the Snakefile
calls these before any job).

Every config writes under ``results/<name>/`` (``name`` matches ``[A-Za-z0-9_-]+`` as a whole, so
it cannot leave ``results/``). Its report goes to ``results/<name>/report/`` unless ``report_dir``
names another folder under ``results/<name>/``. The one exception is the committed ``report/``: it
belongs to the configuration read from ``config/config.yaml`` alone (no ``--configfile``, or
``--configfile config/config.yaml`` only, the file resolved against the workflow's base folder),
with ``--config`` only for ``NEUTRAL_OVERRIDES``, the keys that change no number of any result.
``check_report_dir`` refuses anything else: an absolute path, ``.`` or ``..``, a folder outside
``results/<name>/`` (another config's ``results/<other>/`` included), one of the folders of
``results/<name>/`` that the workflow itself fills, or a path that a symbolic link takes elsewhere.

A results folder belongs to the configuration that first ran in it: ``results/<name>/owner.json``
records its config files (in merge order, relative to the base folder) and its ``--config`` keys
other than the neutral ones (``config_source``). The Snakefile writes it when a workflow starts
(``onstart``: never on a dry run). A later invocation from another source that would retrain
finished runs of the folder, runs whose ``train_info.json`` records another ``config_digest``
than ``flowbench.identity.train_digest`` gives now, is refused (``check_name_reuse``) unless
``--config replace_runs=true`` is given; the folder then becomes the new source's. The owner
editing its own file (the usual way to change a hyper-parameter) retrains what the edit touches,
as before.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

from .atomic import create_temp
from .errors import ConfigError
from .identity import train_digest
from .recipes import iter_runs

#: the config file that owns the committed report, relative to the workflow's base folder
OWNER_CONFIG = "config/config.yaml"
#: stage configs (relative to the workflow's base folder): files that only add tasks to
#: ``OWNER_CONFIG`` (``check_stages``); read over it they still write the committed report
STAGE_DIR = "config/stages"
#: the committed report, relative to the working directory
COMMITTED_REPORT = "report"
#: the record of a results folder's owner, in results/<name>/
OWNER_FILE = "owner.json"
#: ``--config`` keys that change no number of any result beyond float tolerance: the device, the
#: threads of the jobs and whether seeds train as one ensemble (the same computation), where the
#: report goes (checked on its own), the permission to replace runs and whether finished runs are
#: carried (flowbench.carry: which files are kept, not what they hold). Any other key makes the
#: configuration another one.
NEUTRAL_OVERRIDES = ("device", "threads_per_job", "ensemble", "report_dir", "replace_runs", "carry")
#: what the workflow itself writes directly under results/<name>/ besides the task folders
RESERVED = ("images", "logs", "benchmarks", "benchmark", "provenance.json", OWNER_FILE, "carried.json")
#: finished runs listed by name in a refusal (the rest are counted)
SHOWN_RUNS = 10


# -------------------------------------------------------------------------- the config's source


def _file_id(f, root: Path) -> str:
    p = Path(f)
    p = (p if p.is_absolute() else root / p).resolve()
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(p)


def config_source(configfiles, overrides, root) -> dict:
    """Where a configuration comes from: ``configfiles`` (each relative to ``root`` when inside
    it; none given means the default, ``OWNER_CONFIG``; a file repeated counts once) and the
    ``--config`` keys that are not ``NEUTRAL_OVERRIDES``, sorted."""
    root = Path(root).resolve()
    files = list(dict.fromkeys(_file_id(f, root) for f in configfiles)) or [OWNER_CONFIG]
    keys = sorted(str(k) for k in (overrides or {}) if k not in NEUTRAL_OVERRIDES)
    return {"configfiles": files, "overrides": keys}


def owns_committed_report(source: dict) -> bool:
    """``OWNER_CONFIG`` first, then only stage configs (``STAGE_DIR``), and no --config key that
    is not neutral."""
    files = source["configfiles"]
    return (files[:1] == [OWNER_CONFIG] and all(_is_stage(f) for f in files[1:])
            and not source["overrides"])


def _is_stage(file_id: str) -> bool:
    return PurePosixPath(file_id).parent.as_posix() == STAGE_DIR and file_id.endswith((".yaml", ".yml"))


def check_stages(configfiles, root) -> list[str]:
    """Refuse (ConfigError naming the file and key) a stage config (a file of ``STAGE_DIR``) that
    sets anything but ``tasks``, or a task that ``OWNER_CONFIG`` (or an earlier stage) already
    defines: a stage only adds tasks, so the runs of the full config keep their settings and their
    digests. A stage must come after ``OWNER_CONFIG``. Returns the stage files read."""
    from .config import read_config_file
    root = Path(root).resolve()
    ids = [_file_id(f, root) for f in configfiles]
    stages = [(f, i) for f, i in zip(configfiles, ids) if _is_stage(i)]
    if not stages:
        return []
    if ids[0] != OWNER_CONFIG:
        raise ConfigError(f"{stages[0][1]} is a stage config: it adds tasks to {OWNER_CONFIG} and is read over it "
                          f"(--configfile {OWNER_CONFIG} {stages[0][1]}), not over {ids[0]}")
    seen = set((read_config_file(root / OWNER_CONFIG).get("tasks") or {}))
    for _, i in stages:
        data = read_config_file(root / i)
        other = sorted(set(data) - {"tasks"})
        if other:
            raise ConfigError(f"{i}: a stage config only adds tasks; it sets {', '.join(repr(k) for k in other)} "
                              f"(settings belong in {OWNER_CONFIG}, where they apply to every run)")
        tasks = data.get("tasks")
        if not isinstance(tasks, dict) or not tasks:
            raise ConfigError(f"{i}: config key 'tasks' must be a mapping of new tasks")
        again = sorted(set(tasks) & seen)
        if again:
            raise ConfigError(f"{i}: config key 'tasks.{again[0]}': a stage config only adds tasks; "
                              f"{again[0]!r} is already defined by {OWNER_CONFIG} or an earlier stage")
        seen |= set(tasks)
    return [i for _, i in stages]


def describe_source(source: dict) -> str:
    text = "read from " + ", ".join(source["configfiles"])
    if source["overrides"]:
        text += " with --config " + ", ".join(source["overrides"])
    return text


# ----------------------------------------------------------------------------- report_dir


def check_report_dir(config: dict, configfiles, overrides, root, workdir=None) -> str:
    """The report folder of a validated config, relative to ``workdir`` (default ``root``):
    ``results/<name>/report`` when ``report_dir`` is unset, else ``report_dir`` normalised.
    ``root``: the workflow's base folder (where ``OWNER_CONFIG`` lies); ``workdir``: where the
    workflow writes. Raise ConfigError naming ``report_dir`` and the allowed places."""
    workdir = Path(root if workdir is None else workdir)
    home = f"results/{config['name']}"
    value = config.get("report_dir")
    if value is None or value == "":
        return f"{home}/report"
    source = config_source(configfiles, overrides, root)
    owner = owns_committed_report(source)

    def refuse(problem: str):
        why = "" if owner else f"; this configuration is {describe_source(source)}"
        raise ConfigError(
            f"config key 'report_dir': {value!r} {problem}. A config writes only under "
            f"results/<name>/ (here {home}/; with report_dir unset the report goes to {home}/report). "
            f"Only {OWNER_CONFIG} read alone or with stage configs of {STAGE_DIR}/ (no other "
            f"--configfile; --config only for {', '.join(NEUTRAL_OVERRIDES)}) writes the committed "
            f"{COMMITTED_REPORT}/{why}. Remove "
            f"report_dir, or set it to a folder under {home}/ (e.g. --config report_dir={home}/report)")

    if os.path.isabs(value) or value.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", value):
        refuse("is an absolute path")
    parts = [p for p in re.split(r"[\\/]+", value) if p]
    if ".." in parts:
        refuse("contains '..'")
    if "." in parts:
        refuse("contains '.'" if len(parts) > 1 else "is the working directory itself")
    rel = PurePosixPath(*parts).as_posix()
    committed = (workdir / COMMITTED_REPORT).resolve()
    target = (workdir / rel).resolve()
    if owner and rel == COMMITTED_REPORT:
        if target != workdir.resolve() / COMMITTED_REPORT:
            refuse(f"resolves to {target} (a symbolic link), not the committed {COMMITTED_REPORT}/")
        return rel
    if rel == home:
        refuse(f"is {home}/ itself, which the workflow fills; the report needs a folder of its own in it")
    if not rel.startswith(home + "/"):
        other = re.match(r"^results/([^/]+)", rel)
        where = f" (results/{other.group(1)}/ is the folder of config name {other.group(1)!r})" if other else ""
        refuse(f"is outside {home}/{where}")
    first = rel[len(home) + 1:].split("/")[0]
    if first in config.get("tasks", {}):
        refuse(f"is inside {home}/{first}/, the folder of task {first!r}; the report needs a folder of its own")
    if first in RESERVED:
        refuse(f"is inside {home}/{first}, which the workflow fills itself; the report needs a folder of its own")
    base = (workdir / home).resolve()
    if target == base or not target.is_relative_to(base) or target.is_relative_to(committed):
        refuse(f"resolves to {target} (a symbolic link), outside {home}/")
    return rel


# ----------------------------------------------------------------------------- name reuse


def read_owner(results_dir) -> dict | None:
    """The recorded owner of a results folder (``OWNER_FILE``), or None when there is none; an
    unreadable record raises ConfigError naming the file."""
    f = Path(results_dir) / OWNER_FILE
    if not f.is_file():
        return None
    try:
        rec = json.loads(f.read_text())
        return {"configfiles": list(rec["configfiles"]), "overrides": list(rec["overrides"])}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{f}: cannot read the record of the config that owns this folder ({err}); "
                          f"delete it if the runs in {Path(results_dir)}/ are this config's") from None


def stale_runs(config: dict, results_dir) -> list[str]:
    """The finished runs of ``config`` under ``results_dir`` (``train_info.json`` present) that the
    workflow would retrain: their recorded ``config_digest`` is not the config's now. Each as
    ``<task>/<method>/<variant>/seed<k>`` (relative to ``results_dir``), in config order."""
    results_dir = Path(results_dir)
    out = []
    for task, method, variant, seed in iter_runs(config):
        run = f"{task}/{method}/{variant}/seed{seed}"
        try:
            got = json.loads((results_dir / run / "train_info.json").read_text()).get("config_digest")
        except (OSError, ValueError, AttributeError):
            continue   # not a finished run: nothing to keep
        if got != train_digest(config, task, method, variant, seed):
            out.append(run)
    return out


def replace_runs(config: dict) -> bool:
    """Whether the config allows replacing another configuration's runs (``replace_runs``: true,
    or the word ``true`` as ``--config replace_runs=true`` passes it)."""
    return config.get("replace_runs") in (True, "true")


def check_name_reuse(config: dict, configfiles, overrides, root, workdir=None) -> dict | None:
    """Refuse (ConfigError naming ``name`` and ``replace_runs``) a configuration that would retrain
    finished runs of a results folder owned by another source, or of a folder with runs and no
    owner record. Returns the owner record to write when the workflow starts (the folder's first
    configuration, or one taking it over with ``replace_runs: true``), else None."""
    workdir = Path(root if workdir is None else workdir)
    name = config["name"]
    home = PurePosixPath("results") / name
    source = config_source(configfiles, overrides, root)
    recorded = read_owner(workdir / home)
    if recorded == source:
        return None
    if replace_runs(config):
        return {"name": name, **source}
    stale = stale_runs(config, workdir / home)
    if not stale:
        return {"name": name, **source} if recorded is None else None
    shown = ", ".join(f"{home.as_posix()}/{r}" for r in stale[:SHOWN_RUNS])
    more = f" and {len(stale) - SHOWN_RUNS} more" if len(stale) > SHOWN_RUNS else ""
    owner = (f"which belongs to the configuration {describe_source(recorded)} ({home}/{OWNER_FILE})"
             if recorded is not None else f"which has no record of the configuration that made it ({OWNER_FILE})")
    raise ConfigError(
        f"config key 'name': {name!r} names {home}/, {owner}; this configuration "
        f"({describe_source(source)}) would retrain {len(stale)} of its finished runs, trained under "
        f"other settings: {shown}{more}. Give this config a name of its own, or add "
        f"--config replace_runs=true to replace those runs (the folder is then this configuration's)")


def record_owner(record: dict, workdir=".") -> Path:
    """Write ``record`` (from ``check_name_reuse``) to results/<name>/owner.json, atomically, with
    its integrity record (``flowbench.records``) like every results file."""
    path = Path(workdir) / "results" / record["name"] / OWNER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(path)
    try:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    from .records import write_record
    write_record(path)
    return path
