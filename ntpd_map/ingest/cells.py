"""Cells as the parsers read them: a raw value (a CSV string, an XLSX cell, a JSON value) as a stripped text,
a column as Arrow strings, and the small helpers the rules use to quote a value or look up distinct texts once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd


def _cell_text(value: Any) -> str:
    """One raw value (a CSV string, an XLSX cell, a JSON value) as the text the parsers read."""
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value) is True:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(value, datetime):
        # XLSX cells carry float-day rounding: 10:00 can come back as 09:59:59.999999
        ts = pd.Timestamp(value).round("s")
        return ts.isoformat() if ts.tzinfo is not None else ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _string_dtype() -> pd.StringDtype:
    try:  # pandas >= 2.3: the Arrow-backed "str" dtype that is pandas 3's default
        return pd.StringDtype("pyarrow", na_value=np.nan)
    except TypeError:  # pragma: no cover - pandas 2.2
        return pd.StringDtype("pyarrow")


_STR = _string_dtype()


def _texts(column: pd.Series) -> pd.Series:
    """A column as stripped Arrow strings, "" where empty. CSV columns (already Arrow strings) are fast."""
    if isinstance(column.dtype, pd.StringDtype) or (
        column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    ):
        s = column.astype(_STR)
    else:
        s = column.map(_cell_text).astype(_STR)
    return s.fillna("").str.strip()


def _quote(value: str, limit: int = 60) -> str:
    value = " ".join(value.split())
    return '"' + (value if len(value) <= limit else value[: limit - 1] + "…") + '"'


def _map_words(text: pd.Series, lookup: Callable[[str], Any], dtype: Any = object) -> np.ndarray:
    """``lookup`` applied once per distinct value, spread back over the column."""
    codes, uniques = pd.factorize(text)
    mapped = np.empty(len(uniques) + 1, dtype=dtype)
    mapped[:-1] = [lookup(u) for u in uniques]
    return mapped[codes]  # (factorize codes a missing value -1, the last entry; texts are never missing)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text_or_none(text: pd.Series) -> np.ndarray:
    """Object array of the texts, None where empty."""
    out = text.to_numpy(dtype=object)
    out[(text == "").to_numpy(dtype=bool)] = None
    return out


def _given(values: np.ndarray) -> np.ndarray:
    """True where an object array holds a value (not None)."""
    return ~np.asarray(pd.isna(values), dtype=bool)


def _said(label: str, text: pd.Series, what: str | Callable[[int], str]) -> Callable[[int], str]:
    """A reason for row i: the column as the file names it, the value it holds, what is wrong with it."""
    if isinstance(what, str):
        return lambda i: f"{label} {_quote(text.iat[i])} {what}"
    return lambda i: f"{label} {_quote(text.iat[i])} {what(i)}"
