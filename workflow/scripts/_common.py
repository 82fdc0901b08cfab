"""Shared by the thin workflow scripts: import path, log redirection, thread setting."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup(snakemake):
    """Send stderr to the rule's log, follow the rule's threads; return a log function."""
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        fh = open(snakemake.log[0], "w", buffering=1)
        sys.stderr = fh
        sys.stdout = fh
    # torch's threads follow the rule's; a script that imported no torch (the report) loads none
    os.environ["OMP_NUM_THREADS"] = str(max(int(snakemake.threads), 1))
    if "torch" in sys.modules:
        from flowbench.io import set_threads
        set_threads(snakemake.threads)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    return log
