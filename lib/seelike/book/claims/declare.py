"""Claims as declared data: the paper's sentence, its clauses, statistics, controls and bars.

Each experiment chapter declares, in ``seelike.book.claims.chNN``, the sentences of the
paper it tests. A sentence with several clauses is declared once per clause, all with the
same ``quote``: each clause has its own statistic, bars and control, and the sentence's
verdict is the weakest of its clauses' (:func:`seelike.book.claims.table.sentences`).

Every declaration names a **control**: the same statistic on a pair of models or a model
where the sentence should *not* hold (a seed pair, the other architecture, a shuffled
layer order or patch grid, the same layers before the residual). How the verdict reads
it is ``net``:

* ``"difference"`` / ``"ratio"``: the sentence is a comparison, so the bars judge the
  statistic minus (over) its control, paired draw by draw and seed by seed;
* ``"beside"``: the bars judge the statistic alone and the control is shown beside it.
  If the control itself clears a bar, the bar alone cannot tell the sentence from its
  negation, so the statistic must also beat its control (their difference, paired draw by
  draw, beyond 0 in the claim's direction); where it does not, the claim is at best
  ``inconclusive``: the measurement cannot decide it.

A declaration's :attr:`Declaration.fingerprint` is what
``seelike.book.claims.revisions`` records: changing a statistic, a bar, a control or
the quoted words without a revision entry fails the tests.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace

from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, verdict, weakest

__all__ = ["NET", "Declaration", "declared"]

#: How a verdict reads a claim's control (module docstring).
NET = ("beside", "difference", "ratio")
_OPS = {"difference": operator.sub, "ratio": operator.truediv}


def _text(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.6g}"


def _seed_text(values: Sequence[float]) -> str:
    return ", ".join(_text(v) for v in values)


@dataclass(frozen=True)
class Declaration:
    """One clause of a sentence of the paper (or beyond it), declared as data."""

    key: str
    figure: str
    quote: str          # the paper's sentence, word for word ("…" marks words cut)
    where: str          # where it stands in the paper
    statistic: str      # what we measure, in words
    direction: str      # ">" or "<"
    pass_bar: float
    partly_bar: float | None
    reason: str         # why these bars, from the paper's wording
    control: str        # the same statistic where the sentence should not hold
    net: str = "beside"  # how the verdict reads the control (module docstring)
    clause: str = ""    # the words of ``quote`` this declaration tests ("": all of it)
    paper: bool = True  # a sentence of the paper (tallied) or a claim beyond it
    #: The models the statistic reads, as roles (:func:`seelike.book.roles.role_models`):
    #: where every one has other training seeds, the claim must show their values.
    roles: tuple[str, ...] = ()
    margin: str = ""      # for a fraction or an argmax: the continuous margin behind it
    zero_width: str = ""  # why its interval may have no width (a margin must then be shown)
    sentence: str = ""    # the key of the sentence's first clause (set by :func:`declared`)

    def __post_init__(self) -> None:
        verdict(Measured(self.pass_bar), self.direction, self.pass_bar, self.partly_bar)
        if self.net not in NET:
            raise ValueError(f"{self.key}: net must be one of {NET}, got {self.net!r}")
        if not self.control.strip():
            raise ValueError(f"{self.key}: every claim names a control, where the sentence "
                             "should not hold")
        if self.clause and self.clause not in self.quote:
            raise ValueError(f"{self.key}: the clause {self.clause!r} is not words of the "
                             "quote")
        if self.zero_width and not self.margin:
            raise ValueError(f"{self.key}: a claim whose interval may have no width shows "
                             "the continuous margin behind it; declare margin=")

    @property
    def threshold(self) -> str:
        label = {"beside": "", "difference": "minus control ", "ratio": "over control "}
        text = f"{label[self.net]}{self.direction} {self.pass_bar:g}"
        if self.partly_bar is not None:
            text += f" (partly {self.direction} {self.partly_bar:g})"
        return text

    @property
    def fingerprint(self) -> str:
        """A short hash of what a revision must record: the words tested, the statistic,
        the bars and the control."""
        fields = (self.quote, self.clause, self.statistic, self.direction,
                  _text(self.pass_bar),
                  "" if self.partly_bar is None else _text(self.partly_bar),
                  self.control, self.net, str(self.paper))
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:12]

    def _verdict(self, m: Measured, level: int) -> str:
        return verdict(m, self.direction, self.pass_bar, self.partly_bar, level)

    def judge(self, chapter: str, measured: Measured, *, control: Measured | None = None,
              margin: Measured | None = None, varies: str = "",
              untestable: str | None = None, statistic: str | None = None) -> Claim:
        """The clause judged on ``measured``, read against ``control`` as declared.

        ``untestable``: why the statistic cannot be computed on these models (the verdict
        is then ``untestable here`` whatever the value). ``margin``: the continuous
        margin behind a fraction or argmax, shown beside it.
        """
        nan = float("nan")
        control = control if control is not None and math.isfinite(control.value) else None
        if self.net != "beside" and control is None and untestable is None:
            raise ValueError(f"{self.key} reads the {self.net} from its control: pass "
                             "control=, or untestable= with the reason")
        judged, net, reading = measured, None, ""
        if untestable is not None or not math.isfinite(measured.value):
            verdicts = {level: "untestable here" for level in (90, 99)}
            reading = f"untestable here: {untestable or 'the statistic is not defined'}"
        elif self.net != "beside":
            judged = measured.combine(control, _OPS[self.net])  # type: ignore[arg-type]
            verdicts = {level: self._verdict(judged, level) for level in (90, 99)}
            reading = f"judged as the {self.net} from the control"
        else:
            verdicts = {level: self._verdict(measured, level) for level in (90, 99)}
            reading = "the control is not measured on this preset"
            if control is not None:
                reading = "the control fails the bar"
                clears = [level for level in (90, 99)
                          if self._verdict(control, level) != "not reproduced"]
                if clears:
                    net = measured.combine(control, operator.sub)
                    reading = (f"the control clears a bar at {clears[0]} %: the statistic "
                               "must also beat it (their difference beyond 0), or it cannot "
                               "decide the sentence")
                    for level in clears:
                        if verdict(net, self.direction, 0.0, None, level) != "reproduced":
                            verdicts[level] = weakest([verdicts[level], "inconclusive"])
        low, high = judged.interval(90)
        low99, high99 = judged.interval(99)
        c = control or Measured(nan)
        c_low, c_high = c.interval(90)
        n = net or Measured(nan)
        n_low, n_high = n.interval(90)
        g = margin or Measured(nan)
        g_low, g_high = g.interval(90)
        seeds = judged.seeds
        seed_range = [judged.value, *seeds]
        finite = [s for s in seed_range if math.isfinite(s)]
        return Claim(
            chapter=chapter, key=self.key, sentence=self.sentence or self.key,
            figure=self.figure, statement=self.quote, clause=self.clause or self.quote,
            where=self.where, control=self.control,
            statistic=(statistic or self.statistic) + {
                "beside": "", "difference": ", minus its control",
                "ratio": ", over its control"}[self.net],
            reading=reading, value=judged.value, low=low, high=high, low99=low99,
            high99=high99, seeds=_seed_text(seeds),
            seed_low=min(finite) if seeds and finite else nan,
            seed_high=max(finite) if seeds and finite else nan,
            control_value=c.value, control_low=c_low, control_high=c_high,
            net_value=n.value, net_low=n_low, net_high=n_high,
            margin=g.value, margin_low=g_low, margin_high=g_high,
            threshold=self.threshold, verdict=verdicts[90], verdict99=verdicts[99],
            paper=self.paper, varies=varies)


def declared(declarations: Sequence[Declaration]) -> dict[str, Declaration]:
    """``{key: declaration}`` in order, each clause told its sentence (the first
    declaration with the same quote); refuses two declarations with one key."""
    out: dict[str, Declaration] = {}
    first: dict[str, str] = {}
    for d in declarations:
        if d.key in out:
            raise ValueError(f"two declarations with key {d.key!r}")
        sentence = first.setdefault(d.quote, d.key)
        clauses = [o for o in out.values() if o.sentence == sentence]
        if any(o.figure != d.figure or o.where != d.where or o.paper != d.paper
               for o in clauses):
            raise ValueError(f"{d.key}: the clauses of sentence {sentence!r} must share "
                             "figure, where and paper")
        out[d.key] = replace(d, sentence=sentence)
    return out
