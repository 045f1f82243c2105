"""Parameter bounds and defaults that a declaration checks and the engine applies.

Both :mod:`seelike.analyses` (refusing a bad parameter when an analysis is declared, before
any cache key is made) and the engine (:mod:`seelike.cka`, :mod:`seelike.ridge`, refusing
it when called directly) read them here, so neither imports the other and an edit to the
declarations does not change the code key of the engine's own results.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAMBDAS", "MAX_BOOTSTRAP", "check_bootstrap", "check_flag"]

#: The most bootstrap draws one analysis keeps: each holds a CKA matrix and every minibatch
#: multiplies a ``(draws, b)`` weight matrix into the Grams' row terms, so memory and time
#: grow with the draws (a few hundred settle a percentile interval).
MAX_BOOTSTRAP = 10_000
#: Ridge penalties the probes choose from, as multiples of trace(XcᵀXc)/d: from nearly
#: unregularised to strong.
LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def check_bootstrap(bootstrap: object) -> int:
    """``bootstrap`` as a number of draws, refused unless it is an int from 0 to
    :data:`MAX_BOOTSTRAP`."""
    if not isinstance(bootstrap, int | np.integer) or isinstance(bootstrap, bool) \
            or not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise ValueError(f"bootstrap must be a number of draws (an int from 0 to "
                         f"MAX_BOOTSTRAP={MAX_BOOTSTRAP}), got {bootstrap!r}; percentile "
                         "intervals settle within a few hundred draws")
    return int(bootstrap)


def check_flag(value: object, name: str) -> None:
    """Refuse anything but True or False for the flag ``name``."""
    # A string such as "no" would otherwise be read as True and pick the other estimator.
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
