"""Shared by the thin workflow scripts: import path, log redirection, thread setting, a fast exit."""
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


def finish(name: str):
    """End a script that ran to completion (``finish(__name__)``, its last line) without the
    interpreter's teardown, when it runs as the program (``__name__ == "__main__"``, as Snakemake
    runs it); run in another process's interpreter (``runpy``, the tests) it returns.

    Once torch (and the torch._dynamo package that torch.optim loads on its first step) is
    imported, the interpreter's shutdown takes ~0.75 s (tearing down some 3,000 modules), about a
    fifth of a short job's time. Every output has been written and closed by then (atomically, see
    flowbench/io.py), so: flush the streams and the logging handlers, then leave with status 0.
    Only the last line of a script calls it: a script that raised never reaches it and exits
    through the normal path with its error status."""
    if name != "__main__":
        return
    import logging
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    os._exit(0)
