"""Formatting of the tables' numbers for Markdown, and their deterministic CSV text."""
from __future__ import annotations

import math

import pandas as pd

NA = "n/a"   # the text of a missing or undefined number


def fmt(x, spec: str = ".3f", na: str = NA) -> str:
    """Fixed-format a number; ``na`` for None / NaN / inf."""
    if x is None:
        return na
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(xf):
        return na
    return format(xf, spec)


def fmt_pm(mean, half, spec: str = ".3f") -> str:
    """``mean ± half`` (``mean`` alone where the interval is undefined)."""
    if mean is None or not math.isfinite(float(mean)):
        return NA
    if half is None or not math.isfinite(float(half)):
        return fmt(mean, spec)
    return f"{fmt(mean, spec)} ± {fmt(half, spec)}"


def fmt_p(p) -> str:
    if p is None or not math.isfinite(float(p)):
        return NA
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def csv_text(df: pd.DataFrame) -> str:
    """The deterministic CSV text of ``df`` (fixed float format, ``\\n`` line ends)."""
    return df.to_csv(index=False, lineterminator="\n", float_format="%.6g", na_rep="")

