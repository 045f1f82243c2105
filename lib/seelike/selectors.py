"""Layer selectors: which modules of any ``nn.Module`` a name, glob or pattern picks.

A *selector* is an exact module name (``"blocks.3"``), an :mod:`fnmatch` glob
(``"layer*.0"``; note that ``*`` also matches dots), or a regular expression that must match
the whole name, given as a compiled :class:`re.Pattern` or a string prefixed ``"re:"``
(``r"re:blocks\\.\\d+"``). Names are returned in the model's module order, and a selector
that matches nothing raises :class:`LayerNotFoundError` naming the closest valid names.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable

from torch import nn

Selector = str | re.Pattern[str]
Selectors = Selector | Iterable[Selector]

__all__ = ["LIST_HINT", "LayerNotFoundError", "Selector", "Selectors", "check_model",
           "named_modules", "resolve_layers", "submodule"]

#: Where a reader finds valid layer names, for the messages of every failed lookup.
LIST_HINT = "list every layer with seelike.hooks.list_layers(model, sample_input)"


class LayerNotFoundError(KeyError):
    """A selector matched no module name; the message suggests the closest valid names."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument, which would escape the message.
        return str(self.args[0])


def named_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    # The root's name is "" and its output is what model(x) returns anyway.
    return [(name, module) for name, module in model.named_modules() if name]


def check_model(model: object) -> None:
    """Raise unless ``model`` is an ``nn.Module``, with how to load one."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; load one "
                        f"with seelike.models.load(name)")


def _not_found(model: nn.Module, what: str, text: str, names: list[str]) -> LayerNotFoundError:
    """The error for a selector or layer name that matches no module, with close names."""
    close = sorted(difflib.get_close_matches(text, names, n=5, cutoff=0.5), key=names.index)
    hint = f"closest: {', '.join(close)}" if close else "no similar names"
    return LayerNotFoundError(
        f"{what} matches no module of {type(model).__name__} ({hint}); {LIST_HINT}")


def submodule(model: nn.Module, name: str, *, argument: str = "layer") -> nn.Module:
    """``model.get_submodule(name)``, or :class:`LayerNotFoundError` naming close names.

    ``argument`` is what the caller calls the name, for the message; ``""`` is the model itself.
    """
    check_model(model)
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a module name (a str), got {name!r}")
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in named_modules(model)]
        raise _not_found(model, f"{argument} {name!r}", name, names) from None


def _matcher(selector: Selector) -> tuple[Callable[[str], bool], str]:
    """A predicate on module names, and the text to look for close names with."""
    if isinstance(selector, re.Pattern):
        return (lambda name: selector.fullmatch(name) is not None), selector.pattern
    if not isinstance(selector, str):
        raise TypeError(f"layer selector {selector!r} is a {type(selector).__name__}; selectors "
                        f"are module names, globs, 're:' regular expressions or re.Pattern")
    if selector.startswith("re:"):
        try:
            pattern = re.compile(selector[3:])
        except re.error as err:
            raise ValueError(f"layer selector {selector!r} is not a valid regular expression "
                             f"({err}); escape literal dots and brackets, e.g. "
                             f"r're:blocks\\.\\d+'") from None
        return (lambda name: pattern.fullmatch(name) is not None), selector[3:]
    if any(char in selector for char in "*?["):
        return (lambda name: fnmatch.fnmatchcase(name, selector)), selector
    return selector.__eq__, selector


def resolve_layers(model: nn.Module, selectors: Selectors) -> list[str]:
    """Names of the modules of ``model`` that ``selectors`` pick, in the model's module order.

    Raises :class:`LayerNotFoundError` (a ``KeyError``) if any one selector matches nothing,
    naming the closest valid names: a typo must never silently drop a layer from a figure.
    """
    check_model(model)
    if isinstance(selectors, str | re.Pattern):
        selectors = [selectors]
    elif not isinstance(selectors, Iterable):
        raise TypeError(f"layers must be a selector or a list of selectors, got {selectors!r}")
    names = [name for name, _ in named_modules(model)]
    chosen: set[str] = set()
    for selector in selectors:
        matches, text = _matcher(selector)
        found = {name for name in names if matches(name)}
        if not found:
            raise _not_found(model, repr(selector), text, names)
        chosen |= found
    return [name for name in names if name in chosen]
