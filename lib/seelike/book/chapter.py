"""A chapter's set-up: its preset and knobs, resolved and checked once, where it writes its
claims, and the values its text glues.

Every experiment chapter's first code cell calls :func:`setup` with the values of its
parameters cell. The knobs a chapter offers, and the book's value of each, are
:data:`seelike.book.knobs.KNOBS`; a knob that names a :class:`~seelike.book.presets.Preset`
field overrides the preset (``None`` keeps the preset's value), the others are the
chapter's own choices (windows, shots, layer sets). A run whose values all equal the
book's writes its claims under the preset's name, where the scorecard reads them; any
other run writes them under a name of its own (``cifar~shots=5``), so a reader's
experiment never replaces the book's tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pandas.io.formats.style import Styler

from seelike.book.claims import display
from seelike.book.claims.table import Claim, sentences, table, write
from seelike.book.knobs import KNOBS, knob_limits
from seelike.book.presets import Preset, check_draw_sizes, get_preset

__all__ = ["Setup", "glue_values", "results_name", "setup"]


@dataclass(frozen=True)
class Setup:
    """What a chapter runs with: the resolved preset, its own knobs, its results name."""

    chapter: str
    preset: Preset
    knobs: dict[str, object] = field(default_factory=dict)
    #: the preset's name for the book's own run; ``<preset>~<knob>=<value>,…`` otherwise
    results_name: str = ""

    @property
    def is_default(self) -> bool:
        """Whether this is the book's own run (its results are the scorecard's)."""
        return self.results_name == self.preset.name

    def write_claims(self, claims: Sequence[Claim]) -> Path:
        """Save the chapter's claims under :attr:`results_name`; returns the file."""
        return write(claims, self.results_name, self.chapter)

    def report(self, claims: Sequence[Claim], prefix: str) -> Styler:
        """Save ``claims``, glue each one's numbers and the chapter's counts under ``prefix``
        (``<prefix>_in_short``, ``_n_sentences``, ``_n_reproduced``), and return their
        table for the page."""
        self.write_claims(claims)
        display.glue(claims, prefix)
        told = sentences(table([c for c in claims if c.paper]))
        glue_values(prefix, {"in_short": display.in_short(claims), "n_sentences": len(told),
                             "n_reproduced": int((told.verdict == "reproduced").sum())})
        return display.styled(claims)


def _check_knob(chapter: str, name: str, value: object, default: object) -> None:
    """A chapter knob must be of its default's kind: a positive count, or a fraction."""
    if isinstance(default, bool) or not isinstance(default, int | float):
        return
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{chapter}: {name}={value!r}: expected a positive whole number "
                             f"(the book uses {default})")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"{chapter}: {name}={value!r}: expected a fraction in (0, 1] (the "
                         f"book uses {default:.3g})")


def _label(value: object) -> str:
    if isinstance(value, tuple | list):
        return "-".join(_label(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def results_name(preset: Preset, changed: dict[str, object]) -> str:
    """``preset.name``, or ``<name>~k=v,…`` naming every value that differs from the book's."""
    if not changed:
        return preset.name
    text = ",".join(f"{k}={_label(v)}" for k, v in sorted(changed.items()))
    return f"{preset.name}~" + re.sub(r"[^A-Za-z0-9_.=,-]", "_", text)


def setup(chapter: str, preset: str | Preset = "cifar", **knobs: object) -> Setup:
    """Resolve ``chapter``'s preset and knobs (its parameters cell), checking every value.

    Raises a ValueError or TypeError naming the knob, the value and what is expected for
    an unknown knob, a wrong type or an out-of-range value.
    """
    declared = KNOBS.get(chapter, {})
    unknown = sorted(set(knobs) - set(declared))
    if unknown:
        raise TypeError(f"{chapter}: unknown parameter(s) {unknown}; this chapter's "
                        f"parameters are {sorted(declared) or 'only preset'}")
    base = get_preset(preset)
    fields = set(base.__dataclass_fields__)
    overrides = {k: v for k, v in knobs.items() if k in fields and v is not None}
    p = base.with_overrides(**overrides) if overrides else base
    own: dict[str, object] = {}
    for name, default in declared.items():
        if name in fields:
            continue
        value = knobs.get(name, default)
        _check_knob(chapter, name, value, default)
        own[name] = value
    for name, (low, high) in knob_limits(chapter, p).items():
        if not low <= own[name] <= high:
            raise ValueError(f"{chapter}: {name}={own[name]!r}: {p.name} can honour "
                             f"{low} to {high}; use {low}<={name}<={high} (the book uses "
                             f"{declared[name]})")
    # The paper preset's own sizes are the paper's, larger than a local copy may hold.
    check_draw_sizes(p, [k for k, v in overrides.items() if v != getattr(base, k)])
    changed = {**p.overrides(), **{k: v for k, v in own.items() if v != declared[k]}}
    changed.pop("name", None)
    return Setup(chapter, p, own, results_name(p, changed))


def glue_values(prefix: str, values: Mapping[str, object]) -> None:
    """Glue each of ``values`` as ``<prefix>_<name>``, which the text cites as
    ``{glue:text}`<prefix>_<name>```, without showing it under the cell."""
    from myst_nb import glue

    for name, value in values.items():
        glue(f"{prefix}_{name}", value, display=False)
