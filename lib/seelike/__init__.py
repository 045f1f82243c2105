"""seelike: the library behind the executable reproduction of Raghu et al. (2021)."""

# Part of every results-cache key (seelike.cache): bump it when a change alters what a
# cached analysis computes, so that no stale number is served.
__version__ = "0.1.0"
