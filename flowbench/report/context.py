"""``ReportContext``: everything the README's sections read, loaded and computed once from ``results/``."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from .. import tables as T
from .claims import Claim
from .inputs import run_devices


@dataclass
class ReportContext:
    """The inputs of the Markdown sections (see ``flowbench.report.sections``).

    ``figures`` / ``image_figures``: the figures actually copied, per task / data set;
    ``bench``: ``inputs.load_benchmark`` plus ``figure_copied``, ``n_eval`` and ``probe_n``, or
    None when the benchmark was not run; ``curves``: the epoch curves by data set.
    """
    tasks: list[str]
    claim_task: str
    metrics: pd.DataFrame
    claims: list[Claim]
    by_task: pd.DataFrame
    diverged: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    ttt_summary: pd.DataFrame
    table1: pd.DataFrame
    generation: pd.DataFrame
    wall: pd.DataFrame
    provenance: dict
    runs: pd.DataFrame
    records: dict[str, dict]
    images_ran: bool
    figures: dict[str, list[str]] = field(default_factory=dict)
    image_datasets: list[str] = field(default_factory=list)
    image_figures: dict[str, list[str]] = field(default_factory=dict)
    #: the image figures of the flows that ran (``tables.image_figure_names``), in report order
    image_figure_names: tuple[str, ...] = T.image_figure_names(None)
    bench: dict | None = None
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    floors: pd.DataFrame = field(default_factory=pd.DataFrame)    # stats.floor_table of the floors
    thresholds: dict = field(default_factory=dict)   # task -> (time-to-quality W2 threshold, its text)
    #: the tuning studies (``flowbench.report.inputs.load_tuning`` plus ``summary``), or None
    tuning: dict | None = None
    #: per task, its eps split (``results/<task>/eps_split.csv``) where it was computed
    eps_split: dict = field(default_factory=dict)
    #: the sbibm comparison (``sections.sbibm.build``): C2ST per seed and budget, the published
    #: comparison, the figure's report path; None without sbibm tasks
    sbibm: dict | None = None

    @cached_property
    def run_table(self) -> pd.DataFrame:
        """One row per run of every task (``flowbench.tables.runs``)."""
        return T.runs(self.metrics)

    @cached_property
    def costs(self) -> dict[str, pd.DataFrame]:
        """Per task: parameters and sampling cost per (method, variant) (``tables.method_costs``),
        read by the ranking tables and by the "worth using today" section."""
        return {t: T.method_costs(self.runs, self.metrics, t) for t in self.tasks}

    @property
    def configfiles(self) -> list[str]:
        return self.provenance.get("configfiles") or []

    @property
    def config_name(self) -> str:
        return ", ".join(self.configfiles) if self.configfiles else "config/config.yaml (the default)"

    @property
    def digest(self) -> str:
        return self.provenance.get("config_digest", T.NA)

    @property
    def devices(self) -> dict[str, int]:
        return run_devices(self.runs)
