"""The bibliography's labels in the text's author-year form: [Raghu et al., 2021], not [RUK+21].

The chapters cite with ``{cite}`` and ``bibtex_reference_style: author_year`` (the text reads
"Raghu et al., 2021"); sphinxcontrib-bibtex links a citation only to a bibliography of
citations, whose labels come from the pybtex style (``alpha``: "RUK+21"). This Sphinx extension
registers the pybtex style ``seelike``: pybtex's ``unsrt`` entries, sorted by author, year and
title, each labelled as the text cites it. ``_config.yml`` loads it
(``sphinx.extra_extensions``) and names it (``bibtex_default_style``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

__all__ = ["NAME", "AuthorYearLabels", "Style", "author_year", "setup"]

NAME = "seelike"


def _surname(person) -> str:  # pybtex.database.Person
    """The person's last name as text, LaTeX markup resolved ("Sch{\\"o}lkopf" -> Schölkopf)."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry) -> str:  # pybtex.database.Entry
    """"Raghu et al., 2021", "Krizhevsky and Hinton, 2009", "Wightman, 2019"."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if len(names) > 2:
        who = f"{names[0]} et al."
    elif names:
        who = " and ".join(names)
    else:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels; two entries that would share one get 2021a, 2021b."""

    def format_labels(self, sorted_entries: Iterable) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        shared = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter[str] = Counter()
        for label in labels:
            if label in shared:
                seen[label] += 1
                label = f"{label}{chr(ord('a') + seen[label] - 1)}"
            yield label


class Style(UnsrtStyle):
    """pybtex's ``unsrt`` entries, sorted by author, year and title, labelled author-year."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


def setup(app) -> dict[str, object]:  # sphinx.application.Sphinx
    """Register the pybtex style (a Sphinx extension, for ``_config.yml``)."""
    register_plugin("pybtex.style.formatting", NAME, Style, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
