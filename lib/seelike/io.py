"""Files of the data layer: atomic writes, and the error for a file that cannot be read.

A crash or a full disk never leaves a half-written cache or weight file.

Used by the data layer (converted datasets), training (weights, manifests,
checkpoints) and the results cache. Files get the permissions that the umask
allows (usually 0644), like any file a program creates, so that a shared data
folder or cache stays readable by colleagues. Temporary files are named
``.<target>.<host>.<pid>.<random>.seelike-tmp``; one left behind by a killed
writer is removed by a later write into the same folder once its writer is
gone (same host) or it is an hour old (any host), never while it may be in use.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path

__all__ = ["DataError", "atomic_write_bytes", "atomic_write_text"]

_TMP_SUFFIX = ".seelike-tmp"
# No write takes this long: a temporary file this old belongs to a writer that died, even on
# another host of a shared folder, where its process cannot be looked up.
_STALE_SECONDS = 3600


class DataError(RuntimeError):
    """A dataset, weights or manifest file is missing, corrupt or unreachable.

    The message names the file, what was found and how to restore it.
    """


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    # os.umask can only be read by setting it, and for that instant other threads would create
    # files with the wrong mode; Linux shows it in /proc.
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_stale_temporaries(folder: Path, host: str) -> None:
    """Delete temporary files of earlier writes into ``folder`` whose writer is gone."""
    now = time.time()
    for entry in os.scandir(folder):
        if not entry.name.endswith(_TMP_SUFFIX):
            continue
        head, _, rest = entry.name.removesuffix(_TMP_SUFFIX).rpartition(f".{host}.")
        pid = rest.split(".")[0]
        dead_here = bool(head) and pid.isdigit() and not _alive(int(pid))
        # Gone already (another writer cleaned up) or not ours to delete: leave it.
        with contextlib.suppress(OSError):
            if dead_here or now - entry.stat().st_mtime > _STALE_SECONDS:
                os.unlink(entry.path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    _remove_stale_temporaries(path.parent, host)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{host}.{os.getpid()}.",
                               suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates the file 0600 whatever the umask.
            os.chmod(tmp, 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
