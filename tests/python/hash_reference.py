"""An independent per-value implementation of the portable row hash, for tests.

macros/hashing/row_hash.sql derives `data_hash` and `input_fingerprint` in SQL; tests recompute them
from the stored values with this straightforward Python, value by value, and compare.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd


def _reference_is_missing(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


def reference_round_half_away(value):
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return int(whole) if value >= 0 else -int(whole)


def reference_hash_text(value, kind):
    """The row-hash text of one value, one Python call per value (macros/hashing/row_hash.sql header)."""
    if kind.endswith("_array") and _reference_is_missing(value):
        return "[]"  # BigQuery stores a NULL array as an empty one: both render alike
    if _reference_is_missing(value):
        return "<null>"
    if kind == "string":
        return str(value)
    if kind == "int":
        return str(int(value))
    if kind == "bool":
        return "true" if bool(value) else "false"
    if kind == "float":
        return str(reference_round_half_away(float(value) * 1e6))
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == "timestamp":
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
        return str(int((ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(microseconds=1)))
    element_kind = "float" if kind == "float_array" else "string"
    return "[" + ",".join(reference_hash_text(v, element_kind) for v in value) + "]"


def reference_row_hash(frame, columns):
    texts = ["|".join(reference_hash_text(row[name], kind) for name, kind in columns.items())
             for row in frame.to_dict("records")]
    return [hashlib.md5(text.encode("utf-8")).hexdigest() for text in texts]
