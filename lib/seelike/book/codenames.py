"""Names of the code in a page's text, set as code: model names, claim keys, constants.

A reader can type ``vit_cifar_data10`` into a parameters cell or look ``fig2_lower_half``
up in a claims module, so the book shows such names as code, never as words of a sentence
(the browser check fails on one left in prose). A name of the code is a snake_case word of
two parts or more, with any dotted suffix (timm's pretrained tags, ``.augreg_in21k``).
"""

from __future__ import annotations

import re

__all__ = ["NAME_RE", "as_html", "as_markdown"]

#: A snake_case name of the code; not part of a path, a URL or a longer word.
NAME_RE = re.compile(r"(?<![\w./-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+"
                     r"(?:\.[A-Za-z0-9_]+)*(?![\w/-])")


def as_html(text: object) -> str:
    """``text`` (already HTML-escaped) with each name of the code in ``<code>``."""
    return NAME_RE.sub(lambda m: f"<code>{m.group()}</code>", str(text))


def as_markdown(text: object) -> str:
    """``text`` with each name of the code in backticks, for a ``{glue:md}`` role."""
    return NAME_RE.sub(lambda m: f"`{m.group()}`", str(text))
