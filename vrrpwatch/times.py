"""How every output writes a time: one function.

Formatting of epoch seconds handed in (no clock is read). Kept apart from ``vrrpwatch.text``
because it needs ``datetime`` (and the local time zone for keepalived-style log stamps), which
the pure protocol logic must not import.
"""

from __future__ import annotations

import datetime
from typing import Literal

TimeStyle = Literal["ms", "us", "iso", "syslog"]

_FORMATS: dict[str, tuple[str, int]] = {
    # strftime format, digits of %f dropped at the end
    "ms": ("%Y-%m-%d %H:%M:%S.%f", 3),  # UTC: analyze, report, sniff (alert lines, tables)
    "us": ("%Y-%m-%d %H:%M:%S.%f", 0),  # UTC: decode, microseconds as in the capture
    "syslog": ("%a %b %d %H:%M:%S.%f", 3),  # local time: join's keepalived-style log lines
}


def format_time(t: float | None, style: TimeStyle = "ms") -> str:
    """Epoch seconds as text: UTC to the millisecond ("ms") or microsecond ("us"), ISO 8601 in
    UTC ("iso", join's JSON lines), or keepalived's local-time log stamp ("syslog"); "-" for
    no time. A time datetime cannot represent is given as raw epoch seconds."""
    if t is None:
        return "-"
    try:
        if style == "iso":
            return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat()
        fmt, cut = _FORMATS[style]
        tz = None if style == "syslog" else datetime.UTC
        text = datetime.datetime.fromtimestamp(t, tz).strftime(fmt)
    except (OverflowError, ValueError, OSError):
        # Outside datetime's years 1-9999 (a capture can claim any time): raw epoch seconds.
        return f"{t:.3f}" if style in ("ms", "syslog") else f"{t:.6f}"
    return text[:-cut] if cut else text
