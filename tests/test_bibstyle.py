"""The references page labels its entries as the text cites them (author-year, not [RUK+21])."""

from __future__ import annotations

import yaml
from pybtex.database import parse_string
from pybtex.plugin import find_plugin

from seelike.book import bibstyle
from seelike.config import repo_root


def _labels(bib: str) -> dict[str, str]:
    data = parse_string(bib, "bibtex")
    style = bibstyle.Style()
    return {e.key: e.label for e in style.format_entries(data.entries.values())}


def test_the_book_uses_the_style():
    config = yaml.safe_load((repo_root() / "_config.yml").read_text())["sphinx"]
    assert "seelike.book.bibstyle" in config["extra_extensions"]
    assert config["config"]["bibtex_default_style"] == bibstyle.NAME
    assert config["config"]["bibtex_reference_style"] == "author_year"


def test_labels_are_author_year_and_sorted():
    labels = _labels((repo_root() / "references.bib").read_text())
    assert labels["raghu2021vision"] == "Raghu et al., 2021"
    assert labels["wightman2019timm"] == "Wightman, 2019"
    assert list(labels) == sorted(labels, key=lambda k: labels[k])  # by author, then year


def test_two_authors_latex_names_and_shared_labels():
    labels = _labels("""
        @misc{a, author = {Sch{\\"o}lkopf, B. and Smola, A.}, title = {T1}, year = {2002}}
        @misc{b, author = {Doe, J. and A, Y. and Z, W.}, title = {A}, year = {2020}}
        @misc{c, author = {Doe, J. and Q, R. and S, T.}, title = {B}, year = {2020}}
    """)
    assert labels["a"] == "Schölkopf and Smola, 2002"
    assert (labels["b"], labels["c"]) == ("Doe et al., 2020a", "Doe et al., 2020b")


def test_the_sphinx_extension_registers_the_style():
    bibstyle.setup(app=None)
    assert find_plugin("pybtex.style.formatting", bibstyle.NAME) is bibstyle.Style
