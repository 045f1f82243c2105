"""seelike: the library behind the executable reproduction of Raghu et al. (2021)."""

import os

# Part of every results-cache key (seelike.cache): bump it when a change alters what a
# cached analysis computes, so that no stale number is served.
__version__ = "0.1.0"

# torch's CPU tensors on transparent huge pages (torch reads THP_MEM_ALLOC_ENABLE at its
# first allocation, so this holds wherever seelike is imported before any tensor is made).
# With 4 KiB pages a forward pass over a minibatch spends a third of its CPU time faulting
# in the activations it allocates; the numbers computed are the same. A value the user set
# wins (0 turns it off).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
