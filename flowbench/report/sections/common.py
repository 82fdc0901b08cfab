"""Small pieces shared by the sections."""
from __future__ import annotations

from ... import tables as T
from ..claims import finite


def figure_block(heading: str, names, present, captions: dict, folder: str) -> list[str]:
    """A ``### heading`` then each named figure with its caption (or a 'not produced' line)."""
    lines = [f"### {heading}", ""]
    for name in names:
        if name in present:
            lines += [f"![{name} ({heading})]({folder}/{name}.png)", "", f"*{captions[name]}*"]
        else:
            lines.append(f"*{name}: not produced.*")
        lines.append("")
    return lines


def ci_cell(mean, half, spec: str = ".4f") -> str:
    """``mean ± half`` for a table cell, ``not run`` without a mean."""
    return T.fmt_pm(mean, half, spec) if finite(mean) else "not run"
