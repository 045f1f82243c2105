"""Results cached on disk, keyed by everything that determines them.

A CKA matrix costs minutes of forward passes, and the same one is often asked for again, so
results are kept on disk. A result is a dict of numpy arrays, stored as
``<cache_dir>/<name>/<digest>.npz`` where the digest is the sha256 of a canonical JSON key
made of

* the model weights (:func:`model_fingerprint`, as the model's catalogue gives it: the
  zoo's is the manifest's sha256 for the ``cifar`` models, the published sha256 for the
  akamaster ResNet, a hash of the state dict for anything else, see
  :func:`state_fingerprint`),
* the probe-set sample IDs (:func:`probe_fingerprint`),
* the analysis parameters (layers, minibatch size, estimator, …), and
* the library version ``seelike.__version__`` and a hash of the source of the code that
  computes the result (:func:`code_fingerprint`: the analysis's module and every
  ``seelike`` module it imports), both added by :func:`cached` itself, so that a change to
  that code can never be served an old result, while an edit to code it does not import
  leaves the cache warm.

Writes are atomic (:func:`seelike.io.atomic_write_bytes`): a killed run never leaves
a half-written file that a later run would read. The cache lives in
``_build/cache`` of the checkout; ``SEELIKE_CACHE`` names another folder.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seelike import __version__, catalogue
from seelike.config import repo_root
from seelike.io import atomic_write_bytes

__all__ = ["CACHE_ENV", "cache_dir", "cache_path", "cached", "code_closure", "code_fingerprint",
           "is_cached", "key_json", "load", "model_fingerprint", "probe_fingerprint",
           "state_fingerprint"]

if TYPE_CHECKING:
    from torch import nn

    from seelike.probe_sets import ProbeSet

CACHE_ENV = "SEELIKE_CACHE"
_KEY_ENTRY = "__key__"


def cache_dir() -> Path:
    """``_build/cache`` of the checkout, or the folder ``SEELIKE_CACHE`` names."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser().resolve() if env else repo_root() / "_build" / "cache"


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON types (tuples as lists, numpy scalars as Python numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cache keys hold JSON-like values only, not {type(value).__name__}")


def _module_file(module: str) -> Path | None:
    """The source file of ``module``; None for a name that is not a module (a function)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # ``seelike.taps.Tap``: the parent is no package
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _seelike_imports(path: Path) -> set[str]:
    """The ``seelike`` modules a source file imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "seelike"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "seelike":
            found.add(node.module)
            # ``from seelike import cka`` imports a module; ``from seelike.cka import x`` a name.
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if _module_file(f"{node.module}.{a.name}") is not None}
    return found


def code_closure(modules: Sequence[str]) -> list[str]:
    """``modules`` and every ``seelike`` module they import, transitively, with their packages."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            parent = ".".join(parts[:i])
            if parent in seen:
                continue
            path = _module_file(parent)
            if path is None:
                raise ValueError(f"{parent!r} is not a module of the seelike source tree")
            seen.add(parent)
            todo += sorted(_seelike_imports(path))
    return sorted(seen)


@functools.cache
def code_fingerprint(module: str) -> str:
    """sha256 of the source of ``module`` and of every module in its :func:`code_closure`.

    What keys a cached result to the code that computed it: ``seelike.compare`` covers the
    CKA accumulator, the declarations it computes (``analyses``, which every accumulator
    imports), the engine (``cka``, ``hooks``, ``passes``) and the model and layer code it
    imports, and nothing that no analysis imports.
    """
    digest = hashlib.sha256()
    for name in code_closure([module]):
        path = _module_file(name)
        assert path is not None  # code_closure checked it
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key_json(name: str, key: Mapping[str, Any], code: str) -> str:
    """The canonical JSON text of a full key: ``name``, ``key``, library version and code.

    ``code`` names the module that computes the result (:func:`code_fingerprint`).
    """
    full = {"name": name, "seelike_version": __version__, "code": code_fingerprint(code),
            "key": _canonical(key)}
    return json.dumps(full, sort_keys=True, separators=(",", ":"))


def cache_path(name: str, key: Mapping[str, Any], code: str) -> Path:
    """Where the result of ``name`` under ``key``, computed by module ``code``, is stored."""
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"cache names are plain folder names, got {name!r}")
    digest = hashlib.sha256(key_json(name, key, code).encode()).hexdigest()
    return cache_dir() / name / f"{digest}.npz"


def _read(path: Path, expected_key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path`` if it holds a readable result for ``expected_key``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files}
    except FileNotFoundError:
        return None
    except Exception as err:  # a truncated or foreign file: recompute rather than fail
        warnings.warn(f"ignoring unreadable cache file {path} ({err!r}); recomputing",
                      RuntimeWarning, stacklevel=3)
        return None
    if str(stored.pop(_KEY_ENTRY, "")) != expected_key:
        warnings.warn(f"cache file {path} holds another key; recomputing", RuntimeWarning,
                      stacklevel=3)
        return None
    return stored


def cached(name: str, key: Mapping[str, Any], compute: Callable[[], Mapping[str, np.ndarray]],
           *, code: str) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, from disk if this ``name`` and ``key`` were computed before.

    ``key`` holds JSON-like values (dicts, lists, strings, numbers) and must name
    everything the result depends on apart from the code that computes it: ``code`` names
    its module (for example ``"seelike.compare"``), whose :func:`code_fingerprint` and the
    library version are added here. On a miss ``compute`` runs and its arrays are written
    atomically, with the full key inside the file, which is checked on every read. Arrays
    that could only be stored pickled (object dtype) raise ``TypeError`` naming the entry.
    """
    expected = key_json(name, key, code)
    path = cache_path(name, key, code)
    hit = _read(path, expected)
    if hit is not None:
        return hit
    computed = compute()
    if not isinstance(computed, Mapping):
        raise TypeError(f"compute() of cache {name!r} must return a dict of arrays, got "
                        f"{type(computed).__name__}")
    result = {k: np.asarray(v) for k, v in computed.items()}
    if _KEY_ENTRY in result:
        raise ValueError(f"{_KEY_ENTRY!r} is reserved for the key")
    for k, v in result.items():
        # Such an array could only be stored pickled, which reading refuses: the result
        # would be recomputed on every call.
        if not isinstance(k, str) or v.dtype.hasobject:
            raise TypeError(f"compute() of cache {name!r} returned {k!r} with dtype {v.dtype}; "
                            f"results are stored without pickling, so keys must be str and "
                            f"arrays numbers, bools or strings (convert it, e.g. "
                            f"np.asarray(..., dtype=float) or dtype=str)")
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **result, **{_KEY_ENTRY: np.array(expected)})
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as err:  # the result is good; losing it to a read-only folder is not
        warnings.warn(f"the result of {name!r} is returned but not cached: {path.parent} "
                      f"cannot be written ({err.strerror or err}); set SEELIKE_CACHE to a "
                      "writable folder to keep results between runs", stacklevel=2)
    return result


def load(name: str, key: Mapping[str, Any], code: str) -> dict[str, np.ndarray] | None:
    """The stored arrays of ``name`` under ``key``, or None if there are none (or unreadable)."""
    return _read(cache_path(name, key, code), key_json(name, key, code))


def is_cached(name: str, key: Mapping[str, Any], code: str) -> bool:
    """Whether :func:`cached` would serve ``name`` under ``key`` from disk."""
    return cache_path(name, key, code).exists() and load(name, key, code) is not None


# ---- fingerprints -----------------------------------------------------------------------------


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def state_fingerprint(model: nn.Module) -> str:
    """sha256 over a module's state dict: every entry's name, dtype, shape and bytes."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        if t.numel():
            # Raw bytes, so that every dtype (bfloat16 included) hashes exactly.
            digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(model_name: str) -> str:
    """What identifies the weights of model ``model_name``, as a hex digest, from the
    catalogue that holds it (:func:`seelike.catalogue.fingerprint`)."""
    return catalogue.fingerprint(model_name)


def probe_fingerprint(probe: ProbeSet) -> str:
    """sha256 of a probe set's sample IDs in order, with its image size and its purpose."""
    text = json.dumps({"ids": [str(i) for i in probe.ids], "image_size": probe.image_size,
                       "purpose": probe.purpose})
    return _sha256_text(text)
