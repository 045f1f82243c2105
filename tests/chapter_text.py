"""A minimal MyST chapter that the tests build their notebooks from."""

#: Front matter, a title and the parameters cell of a chapter.
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

```{code-cell} ipython3
:tags: [parameters]

preset = "cifar"
```
"""
