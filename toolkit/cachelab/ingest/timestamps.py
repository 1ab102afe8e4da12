"""RFC 3339 timestamps as Go programs print them."""

from __future__ import annotations

import re
from datetime import datetime


def parse_time(text: str) -> datetime | None:
    """Return an RFC 3339 time (any fraction, `Z` or offset), or None if `text` is not one."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Go prints up to nine fraction digits, and Python reads at most six.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
