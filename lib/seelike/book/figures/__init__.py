"""The book's figures, one module per kind of measurement: each function draws a figure
from arrays the results layer returns and gives it back for :func:`seelike.book.plots.show`.

The figures share :mod:`seelike.book.plots`' visual language (page width, each model's
declared colour, the 90 % band the verdicts read); what a chapter reads and quotes is in
:mod:`seelike.book.pages`, what it judges in :mod:`seelike.book.claims`.
"""
