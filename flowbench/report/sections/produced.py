"""How it was produced: the reproduce command, config, code, packages, lock file, hardware, wall times."""
from __future__ import annotations

import pandas as pd

from ... import tables as T
from ..context import ReportContext
from ..markdown import markdown


def how_produced(ctx: ReportContext) -> list[str]:
    prov = ctx.provenance
    html_cmd = "snakemake --report report/report.html" + "".join(f" --configfile {f}" for f in ctx.configfiles)
    lines = ["## How it was produced", "",
             install_text(prov), "",
             "```", prov.get("command") or "snakemake --cores all", "```", "",
             f"Snakemake's HTML report of the same run: `{html_cmd}`.", ""]
    lines += provenance_lines(ctx)
    lines.append("")
    lines += wall_time(ctx.wall)
    lines += [""] + cpu_by_stage(ctx)
    return lines + ["",
                    "Every number, table and figure here is produced by the workflow from `results/`; nothing is "
                    "edited by hand.",
                    ""]


def provenance_lines(ctx: ReportContext) -> list[str]:
    """The bullet list: config, code, packages, lock file, hardware, training devices."""
    prov = ctx.provenance
    lines = [f"- Config: {ctx.config_name}, digest `{ctx.digest}` (flowbench.config.digest of the validated config)."]
    git = prov.get("git") or {}
    if git.get("commit"):
        lines.append(f"- Code: commit `{git['commit']}`{' (with uncommitted changes)' if git.get('dirty') else ''}.")
    pk = prov.get("packages") or {}
    if pk:
        lines.append("- Packages: " + ", ".join(f"{k} {v if v else 'not installed'}" for k, v in sorted(pk.items())) + ".")
    if prov:
        lines.append(lock_line(prov.get("lock_file")))
    hw = prov.get("hardware") or {}
    if hw:
        cuda = (f"CUDA device {hw.get('cuda_device')}" if hw.get("cuda_available")
                else "no CUDA device" if hw.get("cuda_available") is False else "CUDA unknown")
        mem = f", {hw['memory_gb']} GB memory" if hw.get("memory_gb") else ""
        lines.append(f"- Hardware: {hw.get('platform', T.NA)}, {hw.get('cpu_count', T.NA)} CPUs{mem}, {cuda}.")
    carried = prov.get("carried") or {}
    if carried:   # runs trained and scored on earlier machines (flowbench.carry)
        by_commit: dict[str, int] = {}
        for commit in carried.values():
            key = str(commit)[:10] if commit else "unknown"
            by_commit[key] = by_commit.get(key, 0) + 1
        lines.append(f"- Carried runs: {len(carried)} runs were trained and scored on earlier machines of "
                     "the same kind and carried here with their config digests and SHA-256 (the config's `carry` folder), from "
                     + ", ".join(f"commit `{c}` ({n})" for c, n in sorted(by_commit.items())) + ".")
    devices = ctx.devices
    if devices:
        lines.append("- Training device of the runs: " + ", ".join(f"{k} ({v} runs)" for k, v in devices.items()) + ".")
    if not prov:
        lines.append("- No results/provenance.json: packages, hardware and timings unknown.")
    return lines


def install_text(provenance: dict) -> str:
    """How to install before reproducing: the locked environment when the run recorded one."""
    lock = provenance.get("lock_file") or {}
    if not lock.get("sha256"):
        return "Reproduce (from the repository root, after `pip install -e .`):"
    torch = str((provenance.get("packages") or {}).get("torch") or "").split("+")[0]
    first = f"`pip install torch=={torch}`, then " if torch else ""
    return (f"Reproduce (from the repository root, in the environment of `{lock['path']}`: "
            f"{first}`pip install --require-hashes -r {lock['path']}` and `pip install --no-deps -e .`):")


def lock_line(lock: dict | None) -> str:
    """The report's line on the lock file: its path, SHA-256, and whether the run's packages matched."""
    if not lock:
        return "- Environment: no lock file recorded."
    if not lock.get("sha256"):
        return f"- Environment: no lock file `{lock.get('path')}` was found; the packages above are all that is known."
    line = f"- Environment: lock file `{lock['path']}`, SHA-256 `{lock['sha256']}`"
    differs = lock.get("differs") or []
    if not differs:
        return line + "; every package it pins was installed at its locked version (torch is installed before it)."
    shown = ", ".join(differs[:10]) + (f" and {len(differs) - 10} more" if len(differs) > 10 else "")
    return line + f"; {len(differs)} installed package{'s' if len(differs) != 1 else ''} differed from it: {shown}."


def cpu_by_stage(ctx: ReportContext) -> list[str]:
    """CPU-hours per stage (task and method, image step), from the same benchmark files, plus
    each reference posterior's own recorded build time."""
    extra = {f"{t} / reference": ((ctx.records.get(t) or {}).get("reference") or {}).get("build_seconds")
             for t in ctx.tasks}
    stages = T.cpu_by_stage(ctx.provenance, {k: v for k, v in extra.items() if v is not None})
    if stages.empty:
        return []
    return ["CPU-hours per stage (a task's training and evaluation jobs per method; the image steps over "
            "data sets and seeds; a reference posterior's build time as it recorded it), largest first:",
            "",
            markdown([[r.stage, str(r.jobs), T.fmt(r.cpu_hours, ".2f"), T.fmt(r.wall_hours, ".2f")]
                      for r in stages.itertuples(index=False)], ["stage", "jobs", "CPU-hours", "wall-hours"]),
            ""]


def wall_time(wall: pd.DataFrame) -> list[str]:
    """Wall time per rule from the Snakemake ``benchmark:`` files."""
    if not len(wall):
        return ["No benchmark files were found, so no wall times."]
    return ["Wall time per rule, summed over its jobs, from the Snakemake `benchmark:` files (rules "
            "without a benchmark are not counted; the total sums the jobs' own wall times, which is "
            "more than the elapsed time when jobs ran in parallel):",
            "",
            markdown([[w.rule, str(w.jobs), T.fmt(w.wall_s, ".1f"), T.fmt(w.cpu_s, ".1f"),
                         T.fmt(w.max_rss_mb, ".0f")] for w in wall.itertuples(index=False)],
                       ["rule", "jobs", "wall s", "CPU s", "peak RSS MB"]),
            "",
            "CSV: [tables/wall_time.csv](tables/wall_time.csv)."]


def recipes(ctx: ReportContext) -> list[str]:
    """## Recipes and their sources: every setting of every method's recipe (its first variant on
    each task) with the config's stated source, read from the run's recorded config."""
    from ...recipes import NOT_STATED, recipe_provenance
    from ...registry import method_label, method_order
    config = (ctx.provenance or {}).get("config") or {}
    rows = recipe_provenance(config) if config.get("methods") and config.get("tasks") else []
    if not rows:
        return []
    order = {m: i for i, m in enumerate(method_order([r["method"] for r in rows]))}
    ran = {m: {t for r in rows if r["method"] == m for t in r["tasks"]} for m in order}
    first = {}
    for i, r in enumerate(rows):
        first.setdefault((r["method"], r["key"]), i)
    table = []
    for r in sorted(rows, key=lambda r: (order[r["method"]], first[(r["method"], r["key"])])):
        tasks = "every task" if set(r["tasks"]) == ran[r["method"]] else ", ".join(r["tasks"])
        table.append([method_label(r["method"]), r["key"], f"`{r['value']}`", tasks,
                      ", ".join(r["variants"]), r["source"]])
    missing = sum(r["source"] == NOT_STATED for r in rows)
    return ["## Recipes and their sources", "",
            "Every setting of each method's recipe (the first variant a task runs for it: what the "
            "ranking and the claims use), its value, the tasks where the recipe has that value, and where the "
            "value comes from, as the config states it beside the setting: the seed paper (Xiao, Yan & Amit "
            "2019, arXiv 1911.02052), the original code of a baseline, a library's default, a rule stated in "
            "advance, or \"chosen here\". Variants beyond the recipes are ablations and sensitivity runs, "
            "named in each task's tables."
            + (f" {missing} settings have no stated source." if missing else ""), "",
            markdown(table, ["method", "setting", "value", "tasks", "variants", "source"]), ""]
