"""Every claim in order (``CLAIM_SPECS``), evaluated on the headline task, and the Gaussian-mixture
claims on every task they apply to; the tables the report writes from them."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from .accuracy import SPEC_C1, claim_c1
from .core import CLAIM_TASK, VERDICTS, Claim
from .images import SPEC_C7, SPEC_C8, claim_c7, claim_c8
from .inn import (SPEC_C2, SPEC_C2b, SPEC_C3, SPEC_C4, SPEC_C4b, SPEC_C5, claim_c2, claim_c2b, claim_c3,
                  claim_c4, claim_c4b, claim_c5)
from .practical import SPEC_C9, claim_c9, claim_c9_task, practical_tasks
from .speed import SPEC_C6, SPEC_C6b, claim_c6, claim_c6b, time_threshold
from .tuning import SPEC_C10, claim_c10

CLAIM_SPECS = (SPEC_C1, SPEC_C2, SPEC_C2b, SPEC_C3, SPEC_C4, SPEC_C4b, SPEC_C5, SPEC_C6, SPEC_C6b,
               SPEC_C7, SPEC_C8, SPEC_C9, SPEC_C10)
SPECS = {s.id: s for s in CLAIM_SPECS}
CLAIMS = {s.id: s.claim for s in CLAIM_SPECS}     # views of CLAIM_SPECS, by id
RULES = {s.id: s.rule for s in CLAIM_SPECS}
COMMON_RULE = ("Every claim is 'not tested' when a run it needs is absent or all its seeds "
               "diverged. W2 = geometric mean over seeds of the per-seed mean W2 over labels, task "
               f"'{CLAIM_TASK}', diverged runs excluded. Stability: the verdict recomputed with each seed of "
               "each run it reads left out in turn, and how many of those agree.")


def evaluate_claims(metrics: pd.DataFrame, images: pd.DataFrame | None = None,
                    ttt: pd.DataFrame | None = None, task: str = CLAIM_TASK,
                    costs: pd.DataFrame | None = None, floors: pd.DataFrame | None = None,
                    curves: dict | None = None, records: dict | None = None,
                    tuning: dict | None = None) -> list[Claim]:
    """Every claim, in order (``costs``: the benchmark's step_costs.csv, if it was run; ``floors``:
    the task's noise floor rows; ``records``: every task's record, for C9's practical tasks;
    ``tuning``: the tuning studies' trials and validation floors, for C10)."""
    thr = time_threshold(floors, task)[1] if floors is not None else None
    return [claim_c1(metrics, task, floors), claim_c2(metrics, task), claim_c2b(metrics, task),
            claim_c3(metrics, task), claim_c4(metrics, task), claim_c4b(metrics, task),
            claim_c5(metrics, task), claim_c6(metrics, task, ttt, costs, threshold_text=thr),
            claim_c6b(metrics, task, ttt, threshold_text=thr), claim_c7(images, curves), claim_c8(images),
            claim_c9(metrics, records),
            claim_c10(*((tuning["trials"], tuning["floors"]) if tuning else (None, None)))]


CLAIM_COLUMNS = ["id", "claim", "evidence", "verdict", "stability", "rule"]


def claims_frame(claims: list[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=CLAIM_COLUMNS)


# the Gaussian-mixture claims whose runs every GMM task can hold (C5 needs ours' variants, C6 the
# benchmark, C7 and C8 the images): evaluated per task, so the multi-modal label map is checked too
TASK_CLAIMS = ("C1", "C2", "C2b", "C3", "C4", "C4b")


def claims_by_task(metrics: pd.DataFrame, tasks, floors: pd.DataFrame | None = None,
                   records: dict | None = None) -> pd.DataFrame:
    """The mixture claims under their declared rules on each task (one row per task and claim);
    ``tasks``: the tasks the paper's mixture claims apply to (``paper_claims`` in their record);
    then C9 on each practical task of ``records``."""
    fns = {"C1": lambda t: claim_c1(metrics, t, floors), "C2": lambda t: claim_c2(metrics, t),
           "C2b": lambda t: claim_c2b(metrics, t), "C3": lambda t: claim_c3(metrics, t),
           "C4": lambda t: claim_c4(metrics, t), "C4b": lambda t: claim_c4b(metrics, t)}
    rows = [{"task": t, **asdict(fns[cid](t))} for t in tasks for cid in TASK_CLAIMS]
    rows += [{"task": t, **asdict(claim_c9_task(metrics, t, records[t]))} for t in practical_tasks(records)]
    return pd.DataFrame(rows, columns=["task"] + CLAIM_COLUMNS)


def verdict_counts(claims: list[Claim]) -> str:
    """``3 reproduced, 1 partly, 0 not reproduced, 4 not tested``."""
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
