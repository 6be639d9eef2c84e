"""JSON text with exact money: Decimals written as numbers with their places, dates as ISO dates.

Read by the decision, the price guide, the audit's outputs, the CLI and the API (``engine.explain.decision``
re-exports it, where it used to live).
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

_NUMBER = re.compile(r'"\\u0000(-?[0-9.]+)\\u0000"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\u0000{value:f}\u0000"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# one encoder per indent (the callers' few constants), made once: json.dumps with these arguments made the same
# encoder on every call
_ENCODERS: dict[int | None, json.JSONEncoder] = {}


def dumps(data: Any, indent: int | None = 2) -> str:
    """JSON with Decimals written as exact numbers (``1040.00``, not ``"1040.00"`` or ``1040.0``)."""
    encoder = _ENCODERS.get(indent)
    if encoder is None:
        encoder = _ENCODERS[indent] = json.JSONEncoder(ensure_ascii=False, default=_default, indent=indent)
    text = encoder.encode(data)
    # a Decimal is marked by the escape \u0000 on either side: text without that escape has nothing to replace
    return _NUMBER.sub(r"\1", text) if "\\u0000" in text else text
