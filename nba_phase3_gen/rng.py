"""Named, independent random streams.

Each part of the generator draws from its own stream, keyed by (seed, season, stream name), so a
change in one part (or in how many seasons are generated) never shifts the numbers of another.
"""

import zlib

import numpy as np


def stream(seed: int, season_year: int, name: str) -> np.random.Generator:
    """A numpy Generator for one purpose of one season; stable across runs and platforms."""
    return np.random.default_rng([seed, season_year, zlib.crc32(name.encode())])
