"""Tables from the tidy metrics (pandas in, pandas out); the report package renders them as Markdown.

One module per kind of table, every public name re-exported here (``from flowbench import tables
as T; T.summary_table``):

- :mod:`.metrics`: the tidy metric rows (``METRIC_COLUMNS``), run and per-seed statistics, the
  summary and ranking tables of a task;
- :mod:`.time_to_w2`: time to quality, the training seconds until the probe W2 reaches its
  threshold (``W2_THRESHOLD_TIME``, ``TIME_FLOOR_MULTIPLE``);
- :mod:`.image_stage`: Table 1 and the generated-image metrics of the image stage;
- :mod:`.cost`: the performance benchmark and the workflow's wall and CPU time;
- :mod:`.formatting`: numbers as Markdown text and the deterministic CSV text.

None of them imports torch: the report needs none.
"""
from .cost import (BENCH_INN, BENCH_OURS, BENCH_PRIMARY_BATCH, PRECISION_COLUMNS, cpu_by_stage,
                   load_step_costs, precision_summary, sort_step_costs, step_cost_ratios,
                   wall_time_table)
from .formatting import NA, csv_text, fmt, fmt_p, fmt_pm
from .image_stage import (GENERATION_METRICS, IMAGE_BASELINES, IMAGE_FLOWS, IMAGE_METHOD_LABELS,
                          IMAGE_METHODS, NO_FORWARD_PREDICTOR, PAPER_TABLE1, generation_table,
                          image_baselines_of, image_datasets_of, image_diverged,
                          image_figure_names, image_has_forward, image_seed_values, table1,
                          table1_methods)
from .metrics import (BLOWUP_FRACTION, DEFAULT_VARIANTS, METHOD_ORDER, METRIC_COLUMNS, OURS, RUN_KEYS,
                      blown_up_runs, diverged_runs, empty_metrics, load_metrics, mean_ci, method_costs,
                      method_key, per_seed, ranking_table, runs, sort_runs, summary_table, tidy,
                      variant_key, variants_of)
from .time_to_w2 import (TIME_FLOOR_MULTIPLE, TTT_COLUMNS, W2_THRESHOLD_TIME, time_to_threshold,
                         time_to_threshold_rows, time_to_threshold_summary)

__all__ = [
    # metrics
    "METRIC_COLUMNS", "RUN_KEYS", "METHOD_ORDER", "DEFAULT_VARIANTS", "OURS", "load_metrics", "tidy",
    "empty_metrics", "method_key", "variant_key", "sort_runs", "runs", "method_costs",
    "diverged_runs", "BLOWUP_FRACTION", "blown_up_runs", "per_seed", "mean_ci", "variants_of", "summary_table", "ranking_table",
    # time_to_w2
    "W2_THRESHOLD_TIME", "TIME_FLOOR_MULTIPLE", "TTT_COLUMNS", "time_to_threshold",
    "time_to_threshold_rows", "time_to_threshold_summary",
    # image_stage
    "PAPER_TABLE1", "IMAGE_METHODS", "IMAGE_BASELINES", "IMAGE_METHOD_LABELS", "IMAGE_FLOWS",
    "GENERATION_METRICS", "NO_FORWARD_PREDICTOR", "image_datasets_of", "image_seed_values",
    "image_diverged", "image_baselines_of", "image_figure_names", "table1_methods",
    "image_has_forward", "table1", "generation_table",
    # cost
    "BENCH_OURS", "BENCH_INN", "BENCH_PRIMARY_BATCH", "load_step_costs", "sort_step_costs",
    "step_cost_ratios", "PRECISION_COLUMNS", "precision_summary", "wall_time_table", "cpu_by_stage",
    # formatting
    "NA", "fmt", "fmt_pm", "fmt_p", "csv_text",
]
