"""``render_report``: ``report/`` (README.md, tables/*.csv, figures/) from ``results/`` alone, and
``report_outputs``, the files it writes (the Snakemake rule's outputs).

The same ``results/`` give the same bytes: no clock is read, everything is sorted, every number has
a fixed format. Every file is written atomically (``files``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import tables as T
from ..images.names import DEFAULT_FIGURES
from . import files, inputs
from .claims import CLAIM_TASK, claims_by_task, claims_frame, evaluate_claims, time_threshold
from .context import ReportContext
from .sections import readme
from .sections import sbibm as sbibm_section
from .sections.cost import BENCH_FIGURE
from .stats import floor_mean, floor_table

TABLE_FILES = ("claims", "claims_by_task", "diverged", "time_to_w2", "table1", "image_generation",
               "wall_time", "noise_floor")


def report_outputs(report_dir: str | Path, task_figures: dict, image_datasets=(),
                   image_figures=None) -> list[str]:
    """Every file ``render_report`` writes for these tasks ({task: its figure names}, as the task
    kind lists them) and image data sets (the Snakemake outputs), each with ``image_figures``
    (default: ``DEFAULT_FIGURES``, ours' and the cINN's; a config with generative baselines adds
    theirs: ``flow_figures(configured_flows(config["images"]))``). The benchmark's figure, copied
    only when ``results/benchmark/`` exists, is not among them: that stage is off the default path."""
    rd = str(report_dir).rstrip("/")
    image_figures = DEFAULT_FIGURES if image_figures is None else tuple(image_figures)
    out = [f"{rd}/README.md"]
    out += [f"{rd}/tables/{name}.csv" for name in TABLE_FILES]
    out += [f"{rd}/tables/summary_{t}.csv" for t in sorted(task_figures)]
    out += [f"{rd}/figures/{t}/{name}.png" for t in sorted(task_figures) for name in task_figures[t]]
    out += [f"{rd}/figures/images/{d}/{name}.png" for d in sorted(image_datasets or ())
            for name in image_figures]
    return out


def render_report(results_dir: str | Path = "results", report_dir: str | Path = "report",
                  tasks=None, claim_task: str = CLAIM_TASK, image_datasets=None,
                  tuning_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``README.md``, ``tables/*.csv`` and ``figures/<task>/*.png`` under ``report_dir``
    from ``results_dir`` alone; return {relative name: path} of what was written.

    Reads ``results/<task>/metrics.csv`` for each task (default: every task with one),
    ``results/images/metrics.csv`` if present (Table 1, generated images, claims C7, C8) and the
    image figures of ``image_datasets`` (default: every data set with a figure), those of the
    flows with image metrics (``tables.image_figure_names``), copied to
    ``figures/images/<dataset>/``; ``results/provenance.json``, the runs' ``train_log.csv`` and
    ``train_info.json``, and ``results/<task>/figures/*.png``.

    The benchmark stage (``snakemake benchmark``) is optional and off the default path: when
    ``results/benchmark/step_costs.csv`` exists, the report gets a "Cost of training" section, C6
    uses its ratio, and ``results/benchmark/scaling.png`` is copied to
    ``figures/benchmark/scaling.png`` (a side file, not a declared output of the Snakemake rule;
    a stale copy is removed when the benchmark is absent).

    The tuning studies (``tuning_dir``, default ``results/tuning/``: the summary of a config with a
    ``tuning`` section, or the committed folder a tuning config published) are optional too: when
    present, C10, ``tables/tuning_studies.csv`` and ``figures/tuning/expected_best.png`` (side files,
    removed when the studies are absent) and a section on tuning; ``tuning_dir=""``: none.
    """
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    tasks = sorted(tasks) if tasks is not None else inputs.discover_tasks(results_dir)
    image_datasets = (sorted(image_datasets) if image_datasets is not None
                      else inputs.discover_image_datasets(results_dir))
    metrics = inputs.load_task_metrics(results_dir, tasks)
    images = inputs.load_image_metrics(results_dir)
    provenance = inputs.read_json(results_dir / "provenance.json") or {}
    records = inputs.load_task_records(results_dir, tasks)
    floors = inputs.load_floors(results_dir, tasks)
    ttt = T.time_to_threshold_rows(metrics)   # written by evaluation, against its threshold
    thresholds = {t: _threshold(ttt, floors, t) for t in tasks}
    bench = inputs.load_benchmark(results_dir)
    # "": the config has no tuning studies (the workflow says so; nothing under results/ is read)
    tuning = (None if tuning_dir == "" else
              inputs.load_tuning(Path(tuning_dir) if tuning_dir is not None else results_dir / "tuning"))
    claims = evaluate_claims(metrics, images, ttt, claim_task, bench["costs"] if bench else None, floors,
                             inputs.load_epoch_curves(results_dir), records, tuning)
    ctx = ReportContext(
        tasks=tasks, claim_task=claim_task, metrics=metrics, claims=claims,
        by_task=claims_by_task(metrics, [t for t in tasks if records[t].get("paper_claims")], floors, records),
        diverged=T.diverged_runs(metrics),
        summaries={t: T.summary_table(metrics, t, records[t].get("forward_metrics", ("accuracy",)),
                                      w2_floor=floor_mean(floors, t, "w2"),
                                      extra=records[t].get("summary_metrics", ()))
                   for t in tasks},
        floors=floor_table(floors), thresholds=thresholds,
        ttt_summary=T.time_to_threshold_summary(ttt), table1=T.table1(images),
        generation=T.generation_table(images), wall=T.wall_time_table(provenance),
        provenance=provenance, runs=inputs.load_runs(results_dir, tasks), records=records,
        images_ran=images is not None, image_datasets=image_datasets, bench=bench,
        image_figure_names=T.image_figure_names(images), tuning=tuning,
        eps_split=inputs.load_eps_split(results_dir, tasks))
    ctx.sbibm = sbibm_section.build(metrics, ctx.records, results_dir)

    written: dict[str, Path] = {}
    _write_tables(ctx, ttt, report_dir / "tables", written)
    ctx.figures = _copy_task_figures(ctx, results_dir, report_dir, written)
    ctx.image_figures = _copy_image_figures(image_datasets, ctx.image_figure_names, results_dir,
                                            report_dir, written)
    ctx.curves = _copy_epoch_curves(results_dir, report_dir, written)
    _benchmark_files(ctx, results_dir, report_dir, written)
    _tuning_files(ctx, report_dir, written)
    _sbibm_files(ctx, report_dir, written)
    written["README.md"] = files.write_text(report_dir / "README.md", readme(ctx))
    return dict(sorted(written.items()))


def _threshold(ttt: pd.DataFrame, floors, task: str) -> tuple[float, str]:
    """The probe-W2 threshold evaluation used on ``task`` (its ``probe_threshold`` rows), and what
    it is: a multiple of the floor at the probe size, or the fixed value without a floor."""
    g = ttt[ttt["task"] == task]["threshold"].dropna() if len(ttt) else pd.Series([], dtype=float)
    value, text = time_threshold(floors, task)
    if len(g):
        value = float(g.iloc[0])
        if floors is None:
            text = "a fixed threshold (no noise floor computed)"
    return value, text


def _write_tables(ctx: ReportContext, ttt: pd.DataFrame, tdir: Path, written: dict) -> None:
    """The declared tables: claims, claims by task, diverged runs, time to W2, Table 1, generated
    images, wall time, and one summary per task."""
    for name, df in (("claims", claims_frame(ctx.claims)), ("claims_by_task", ctx.by_task),
                     ("diverged", ctx.diverged), ("time_to_w2", ttt), ("table1", ctx.table1),
                     ("image_generation", ctx.generation), ("wall_time", ctx.wall),
                     ("noise_floor", ctx.floors)):
        written[f"tables/{name}.csv"] = files.write_csv(df, tdir / f"{name}.csv")
    for t in ctx.tasks:
        written[f"tables/summary_{t}.csv"] = files.write_csv(ctx.summaries[t], tdir / f"summary_{t}.csv")
        if t in ctx.eps_split:     # a side file, as the benchmark's: only where the split was computed
            written[f"tables/eps_split_{t}.csv"] = files.write_csv(ctx.eps_split[t], tdir / f"eps_split_{t}.csv")
        else:
            files.remove(tdir / f"eps_split_{t}.csv")


def _copy_task_figures(ctx: ReportContext, results_dir: Path, report_dir: Path,
                       written: dict) -> dict[str, list[str]]:
    """``results/<task>/figures/<name>.png`` of each figure the task record lists, where present."""
    figures: dict[str, list[str]] = {}
    for t in ctx.tasks:
        for name in ctx.records[t].get("figures", []):
            src = results_dir / t / "figures" / f"{name}.png"
            if src.exists():
                rel = f"figures/{t}/{name}.png"
                written[rel] = files.copy(src, report_dir / rel)
                figures.setdefault(t, []).append(name)
    return figures


def _copy_image_figures(image_datasets, names, results_dir: Path, report_dir: Path,
                        written: dict) -> dict[str, list[str]]:
    """``results/images/<dataset>/figures/<name>.png`` (Fig. 5.3 / 5.4) of each of ``names``,
    where present."""
    image_figures: dict[str, list[str]] = {}
    for d in image_datasets:
        for name in names:
            src = results_dir / "images" / d / "figures" / f"{name}.png"
            if src.exists():
                rel = f"figures/images/{d}/{name}.png"
                written[rel] = files.copy(src, report_dir / rel)
                image_figures.setdefault(d, []).append(name)
    return image_figures


def _copy_epoch_curves(results_dir: Path, report_dir: Path, written: dict) -> dict[str, pd.DataFrame]:
    """Copy ``results/images/epoch_curve/<ds>.{csv,png}`` to ``tables/epoch_curve_<ds>.csv`` and
    ``figures/images/epoch_curve_<ds>.png`` (side files of the render rule, like the benchmark's
    figure; stale copies are removed); return {dataset: curve frame}."""
    src_dir = results_dir / "images" / "epoch_curve"
    curves = inputs.load_epoch_curves(results_dir)
    for old in list((report_dir / "tables").glob("epoch_curve_*.csv")) + \
            list((report_dir / "figures" / "images").glob("epoch_curve_*.png")):
        if old.stem.removeprefix("epoch_curve_") not in curves:
            files.remove(old)
    for ds in curves:
        rel = f"tables/epoch_curve_{ds}.csv"
        written[rel] = files.copy(src_dir / f"{ds}.csv", report_dir / rel)
        if (src_dir / f"{ds}.png").exists():
            rel = f"figures/images/epoch_curve_{ds}.png"
            written[rel] = files.copy(src_dir / f"{ds}.png", report_dir / rel)
    return curves


def _tuning_files(ctx: ReportContext, report_dir: Path, written: dict) -> None:
    """The tuning studies' side files (the per-study summary table, the expected-best figure), or
    the removal of stale ones when no study is there; completes ``ctx.tuning`` for its section."""
    from .claims.tuning import study_summary
    from .sections.tuning import TUNING_FIGURE
    table = report_dir / "tables" / "tuning_studies.csv"
    if ctx.tuning is None:
        files.remove(table)
        files.remove(report_dir / TUNING_FIGURE)
        return
    ctx.tuning["summary"] = study_summary(ctx.tuning["trials"], ctx.tuning["floors"])
    written["tables/tuning_studies.csv"] = files.write_csv(ctx.tuning["summary"], table)
    if ctx.tuning["figure"] is not None:
        written[TUNING_FIGURE] = files.copy(ctx.tuning["figure"], report_dir / TUNING_FIGURE)
    else:
        files.remove(report_dir / TUNING_FIGURE)


def _sbibm_files(ctx: ReportContext, report_dir: Path, written: dict) -> None:
    """The sbibm section's side files (its two tables and the figure), or the removal of stale ones
    when the config has no sbibm task."""
    c2st, published = sbibm_section.SBIBM_TABLES
    if ctx.sbibm is None:
        for rel in (c2st, published, sbibm_section.SBIBM_FIGURE):
            files.remove(report_dir / rel)
        return
    written[c2st] = files.write_csv(ctx.sbibm["by_budget"], report_dir / c2st)
    written[published] = files.write_csv(ctx.sbibm["published"], report_dir / published)
    if ctx.sbibm["figure"] is not None:
        written[sbibm_section.SBIBM_FIGURE] = files.copy(ctx.sbibm["figure"], report_dir / sbibm_section.SBIBM_FIGURE)
    else:
        files.remove(report_dir / sbibm_section.SBIBM_FIGURE)


def _benchmark_files(ctx: ReportContext, results_dir: Path, report_dir: Path, written: dict) -> None:
    """The benchmark's side files (figure, op profile, metric precision), or the removal of stale
    ones when ``results/benchmark/`` is gone; completes ``ctx.bench`` for its section."""
    bench, tdir = ctx.bench, report_dir / "tables"
    if bench and bench["figure"] is not None:
        written[BENCH_FIGURE] = files.copy(bench["figure"], report_dir / BENCH_FIGURE)
    else:
        files.remove(report_dir / BENCH_FIGURE)   # stale: the benchmark is no longer in results/
    if bench is None:
        for name in ("metric_precision.csv", "op_profile.csv"):
            files.remove(tdir / name)              # stale: the benchmark is no longer in results/
        return
    bench["figure_copied"] = BENCH_FIGURE in written
    tcfg = ((ctx.provenance.get("config") or {}).get("tasks") or {}).get(ctx.claim_task) or {}
    bench["n_eval"] = tcfg.get("n_eval")
    bench["probe_n"] = (tcfg.get("train") or {}).get("probe_n")
    if bench["profile"] is not None:
        written["tables/op_profile.csv"] = files.write_csv(bench["profile"], tdir / "op_profile.csv")
    if bench["precision"] is not None:
        written["tables/metric_precision.csv"] = files.write_csv(bench["precision"], tdir / "metric_precision.csv")
