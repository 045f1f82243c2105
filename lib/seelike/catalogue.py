"""Models the engine is given by name: how to build one's module tree and identify its weights.

Analyses name their models (``"vit_cifar"``) so that results can be cached and passes share
models; to size a pass, list a model's layers or key a cache the engine needs the model's
architecture without its weights, and a fingerprint of the weights. A catalogue supplies
both; the zoo (:mod:`seelike.models`) registers one for the ``cifar`` and ``paper`` models
when it is imported, and a reader's own models join the same way (:func:`register`). The
engine never imports the zoo: it asks here.
"""

from __future__ import annotations

from typing import Protocol

from torch import nn

__all__ = ["Catalogue", "NoCatalogueError", "fingerprint", "generation", "meta_build", "register"]


class Catalogue(Protocol):
    """A source of named models. Both methods raise ``KeyError`` for a name it does not hold."""

    def meta_build(self, name: str) -> nn.Module:
        """Model ``name``'s module tree on the meta device (shapes only, no weights)."""
        ...

    def fingerprint(self, name: str) -> str:
        """A hex digest that changes whenever model ``name``'s weights change."""
        ...


class NoCatalogueError(RuntimeError):
    """No catalogue is registered: a set-up mistake, not a model the catalogues lack."""


_CATALOGUES: list[Catalogue] = []
_GENERATION = [0]


def generation() -> int:
    """How many catalogues have been registered: part of the key of anything cached by name."""
    return _GENERATION[0]


def register(catalogue: Catalogue) -> None:
    """Add ``catalogue``; it is asked before those registered earlier (once per object)."""
    if not (callable(getattr(catalogue, "meta_build", None))
            and callable(getattr(catalogue, "fingerprint", None))):
        raise TypeError(f"a catalogue needs meta_build(name) and fingerprint(name) methods, got "
                        f"{type(catalogue).__name__}")
    if catalogue not in _CATALOGUES:
        _CATALOGUES.insert(0, catalogue)
        _GENERATION[0] += 1


def _ask(name: str, method: str) -> object:
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {name!r}")
    if not _CATALOGUES:
        raise NoCatalogueError(
            f"no catalogue of models is registered, so {name!r} cannot be found: import "
            f"seelike.models (the cifar zoo and the paper models) or register your own with "
            f"seelike.catalogue.register")
    misses = []
    for catalogue in _CATALOGUES:
        try:
            return getattr(catalogue, method)(name)
        except KeyError as err:
            misses.append(str(err.args[0]) if err.args else repr(err))
    raise KeyError(" / ".join(misses))


def meta_build(name: str) -> nn.Module:
    """Model ``name`` on the meta device, from the first catalogue that holds it."""
    module = _ask(name, "meta_build")
    if not isinstance(module, nn.Module):
        raise TypeError(f"a catalogue built {type(module).__name__} for {name!r}, not a module")
    return module


def fingerprint(name: str) -> str:
    """The fingerprint of model ``name``'s weights, from the first catalogue that holds it."""
    digest = _ask(name, "fingerprint")
    if not isinstance(digest, str):
        raise TypeError(f"a catalogue fingerprinted {name!r} as {digest!r}, not a hex str")
    return digest
