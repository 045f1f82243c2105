"""What a chapter's page gathers from the results layer and the values its prose quotes.

One module per chapter, beside that chapter's claims (:mod:`seelike.book.claims`): the
arrays its figures draw, resampled the way its claims are, and the numbers the text glues
(:func:`seelike.book.chapter.glue_values`), each formatted once here.
"""
