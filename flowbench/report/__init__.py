"""The replication report: claim verdicts, provenance, and ``report/`` rendered from ``results/``.

Modules (none imports training or benchmark code, so none imports torch; ``provenance.hardware``
imports it inside the call to name the device):

- ``claims``: the paper's claims as data (``CLAIM_SPECS``: id, the paper's words, the runs each
  needs, its rule) and the verdict functions ``claim_c1`` ... ``claim_c8`` on the tidy metrics;
- ``provenance``: ``collect_provenance`` (config digest, packages, hardware, git, lock file, the
  Snakemake ``benchmark:`` TSVs), written as ``results/<name>/provenance.json``;
- ``inputs``: reading ``results/`` (metrics, task records, runs, the optional benchmark);
- ``context``: ``ReportContext``, what the README's sections read;
- ``sections``: the README's Markdown, one small function per section;
- ``render``: ``render_report`` and ``report_outputs`` (the files it writes);
- ``files``: atomic writing and copying of everything under ``report/``.

Every name the workflow and the tests use is re-exported here (``from flowbench import report``).
"""
from __future__ import annotations

from ..captions import IMAGE_CAPTIONS as IMAGE_FIGURE_CAPTIONS
from .claims import (
    CLAIM_COLUMNS,
    CLAIM_SPECS,
    CLAIM_TASK,
    CLAIMS,
    COMMON_RULE,
    NOT_REPRODUCED,
    NOT_TESTED,
    PARTLY,
    REPRODUCED,
    RULES,
    TASK_CLAIMS,
    VERDICTS,
    Claim,
    ClaimSpec,
    bench_ratio,
    changed_ramp_variants,
    claim_c1,
    claim_c2,
    claim_c2b,
    claim_c3,
    claim_c4,
    claim_c4b,
    claim_c5,
    claim_c6,
    claim_c6b,
    claim_c7,
    claim_c8,
    claims_by_task,
    claims_frame,
    compare,
    evaluate_claims,
    family_test,
    gm_stats,
    run_stats,
    seed_w2,
    sensitivity,
    time_threshold,
    welch_greater,
)
from .stats import floor_mean, floor_table, holm, log_ratio_test
from .context import ReportContext
from .inputs import (
    IMAGE_FIGURE_NAMES,
    discover_image_datasets,
    discover_tasks,
    load_runs,
    load_task_records,
)
from .provenance import (
    LOCK_FILE,
    PACKAGES,
    canonical_name,
    collect_provenance,
    git_state,
    hardware,
    lock_provenance,
    package_versions,
    pattern_regex,
    read_benchmarks,
    read_lock,
    reproduce_command,
    summarise_benchmarks,
)
from .render import TABLE_FILES, render_report, report_outputs
from .sections.cost import BENCH_FIGURE

__all__ = [
    "BENCH_FIGURE", "CLAIMS", "CLAIM_COLUMNS", "CLAIM_SPECS", "CLAIM_TASK", "COMMON_RULE",
    "IMAGE_FIGURE_CAPTIONS", "IMAGE_FIGURE_NAMES", "LOCK_FILE", "NOT_REPRODUCED", "NOT_TESTED",
    "PACKAGES", "PARTLY", "REPRODUCED", "RULES", "TABLE_FILES", "TASK_CLAIMS", "VERDICTS", "Claim",
    "ClaimSpec", "ReportContext", "bench_ratio", "canonical_name", "changed_ramp_variants",
    "claim_c1", "claim_c2", "claim_c2b", "claim_c3", "claim_c4", "claim_c4b", "claim_c5", "claim_c6",
    "claim_c6b", "claim_c7", "claim_c8", "compare", "family_test", "floor_mean", "floor_table",
    "gm_stats", "holm", "log_ratio_test", "sensitivity", "time_threshold",
    "claims_by_task", "claims_frame", "collect_provenance", "discover_image_datasets",
    "discover_tasks", "evaluate_claims", "git_state", "hardware", "load_runs", "load_task_records",
    "lock_provenance", "package_versions", "pattern_regex", "read_benchmarks", "read_lock",
    "render_report", "report_outputs", "reproduce_command", "run_stats", "seed_w2",
    "summarise_benchmarks", "welch_greater",
]
