"""The temporary file of an atomic write (no torch, no pandas: the report uses it too).

Every writer of the project writes under a hidden temporary name beside the final one and moves it
into place (``os.replace``) only when complete, so a killed job never leaves a partial file.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_temp(path: Path) -> Path:
    """Create an empty, new file beside ``path`` under a random hidden name, and return its path.

    It is created exclusively (``O_EXCL``, as ``tempfile.mkstemp`` does), but with mode 0666, which
    the kernel reduces by the umask (and a default ACL) as for any file the user makes. mkstemp's
    0600 would leave every result unreadable to others on a shared file system.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")
