"""The paper's claims as data, and the rules that give each its verdict.

``CLAIM_SPECS`` holds, for each claim, its id, the paper's words (with the figure or section of
Xiao, Yan & Amit 2019, arXiv 1911.02052, it comes from), the runs it needs, the rule for its
verdict and the (method, variant) runs its verdict code reads (``ClaimSpec.run``, ``against``,
``families``); the claims tables (``tables/claims.csv``, ``tables/claims_by_task.csv``) and the
README's claims table read the claim and the rule from there, through the ``Claim`` each verdict
function returns.

``claim_c1`` ... ``claim_c9`` take the tidy metrics (``task, method, variant, seed, condition,
metric, value``; see ``flowbench.tables``) and return a ``Claim`` with the measured evidence and
the verdict (one of ``VERDICTS``). Every W2 is the per-seed mean of W2 over labels, averaged over
seeds, diverged runs excluded (they are listed and counted instead). The mixture claims are
judged by default on ``CLAIM_TASK``, the kind of the task class marked ``headline``.

Modules, one per family of claims, each with the thresholds of its rules:

- ``core``: verdicts, ``ClaimSpec`` (with ``Run``, ``Family``), ``Claim``, the headline task and
  the statistics every family shares;
- ``accuracy``: C1, ours's W2 against the noise floor;
- ``inn``: C2-C5, ours against the four-loss INN, its ablations and the sensitivity rule;
- ``speed``: C6, C6b, seconds per iteration;
- ``images``: C7, C8, the image stage;
- ``practical``: C9, the practical inverse problems;
- ``tuning``: C10, how much tuning each method needs (the Optuna studies);
- ``evaluate``: every claim in order, the per-task mixture claims and the claims tables.
"""
from __future__ import annotations

from ...captions import TIME_FLOOR_MULTIPLE, W2_THRESHOLD_TIME
from .accuracy import ACCURACY_MIN, FLOOR_PARTLY, FLOOR_PASS, SPEC_C1, claim_c1
from .core import (CLAIM_TASK, GM_RULE, NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, VERDICTS, Claim,
                   ClaimSpec, Family, Run, compare, drop_seed, finite, gm_stats, headline_task,
                   holm_ratio_text, n_of, run_stats, seed_w2, stability, verdict, welch_greater)
from .evaluate import (CLAIM_COLUMNS, CLAIM_SPECS, CLAIMS, COMMON_RULE, RULES, SPECS, TASK_CLAIMS,
                       claims_by_task, claims_frame, evaluate_claims, verdict_counts)
from .images import (C7_PARTLY, C7_PASS, C8_CONTROL_MIN, C8_MARGIN, C8_PARTLY, CHANCE, SPEC_C7, SPEC_C8,
                     claim_c7, claim_c8, limiting_factor)
from .inn import (ALPHA, C2_PARTLY, RATIO_MIN, SENSITIVITY_FAMILIES, SPEC_C2, SPEC_C2b, SPEC_C3, SPEC_C4,
                  SPEC_C4b, SPEC_C5, changed_ramp_variants, claim_c2, claim_c2b, claim_c3, claim_c4,
                  claim_c4b, claim_c5, family_test, inn_variants, sensitivity, worse_verdict)
from .practical import SPEC_C9, at_least_as_good_verdict, claim_c9, claim_c9_task, practical_tasks
from .tuning import SPEC_C10, claim_c10, expected_best, study_summary
from .speed import (SPEC_C6, SPEC_C6b, SPEED_PARTLY, SPEED_PASS, bench_ratio, claim_c6, claim_c6b,
                    time_threshold)

__all__ = [
    "ACCURACY_MIN", "ALPHA", "C2_PARTLY", "C7_PARTLY", "C7_PASS", "C8_CONTROL_MIN", "C8_MARGIN",
    "C8_PARTLY", "CHANCE", "CLAIMS", "CLAIM_COLUMNS", "CLAIM_SPECS", "CLAIM_TASK", "COMMON_RULE",
    "FLOOR_PARTLY", "FLOOR_PASS", "GM_RULE", "NOT_REPRODUCED", "NOT_TESTED", "PARTLY", "RATIO_MIN",
    "REPRODUCED", "RULES", "SENSITIVITY_FAMILIES", "SPECS", "SPEC_C1", "SPEC_C2", "SPEC_C2b",
    "SPEC_C3", "SPEC_C4", "SPEC_C4b", "SPEC_C5", "SPEC_C6", "SPEC_C6b", "SPEC_C7", "SPEC_C8",
    "SPEC_C9", "SPEC_C10", "SPEED_PARTLY", "SPEED_PASS", "TASK_CLAIMS", "TIME_FLOOR_MULTIPLE", "VERDICTS",
    "W2_THRESHOLD_TIME", "Claim", "ClaimSpec", "Family", "Run", "at_least_as_good_verdict",
    "bench_ratio", "changed_ramp_variants", "claim_c1", "claim_c2", "claim_c2b", "claim_c3",
    "claim_c4", "claim_c4b", "claim_c5", "claim_c6", "claim_c6b", "claim_c7", "claim_c8", "claim_c9",
    "claim_c9_task", "claim_c10", "claims_by_task", "claims_frame", "compare", "drop_seed", "evaluate_claims", "expected_best",
    "family_test", "finite", "gm_stats", "headline_task", "holm_ratio_text", "inn_variants",
    "limiting_factor", "n_of", "practical_tasks", "run_stats", "seed_w2", "sensitivity", "stability",
    "study_summary", "time_threshold", "verdict", "verdict_counts", "welch_greater", "worse_verdict",
]
