"""Caller numbers never reach a log (issue 8): mask phone-number-like text, and a logging filter that does it.

``redact(text)`` masks every Indonesian phone number in a text but its last 3 digits, as the store keeps them
(``ingest.callers``: a keyed hash and the last 3 digits). A number is recognised by how Indonesians write one:

- a mobile or landline number with the trunk prefix, ``0`` then an area or mobile code (``0812 3456 7890``,
  ``0388-21234``, ``(0388) 21234``): area codes are 021-0986 and mobile prefixes 08xx, so ``01..``/``00..`` are
  not numbers;
- with the country code: ``+62``/``0062`` then a mobile or area code (``+62 812-3456-7891``,
  ``+62 (0)812...``), or a bare ``62`` then a mobile ``8`` (``6281234567891``, ``62 812...``; a bare ``62``
  before anything else is more likely a Kemendagri code of Kalimantan Tengah, ``62.71.01.1001``);
- 9 to 15 digits in all (E.164's longest, not counting an international prefix 00), in groups separated by
  single spaces, dashes or dots (the first group at least 3 digits, later ones at least 2); digit groups after
  the 15th digit ("0812 3456 7890 2026-11-23") are not part of it.

So Kemendagri codes (``53.03.06.2001``), times (``2026-11-23 10:00``), Unix times (``1763880000``),
coordinates (``-9.47, 124.48``; ``-0.123456789``), counts and hex digests stay as they are: none of them starts
with ``0[2-9]`` or ``62 8`` after something other than a digit, a digit and a dot, comma or dash, or a hex letter.
Not recognised, by design: a mobile number written without its 0 (``812...``, it cannot be told from a count or
a Unix time), one glued to more digits (a run of over 15) and one glued to a letter a-f on its left.

``RedactingFilter`` applies ``redact`` to a log record after %-formatting (``msg % args``), to its traceback and
its stack; ``install_log_redaction()`` adds it to every handler of the root logger. Pure: no Flask here.
"""

from __future__ import annotations

import logging
import re

#: digits kept at the end of a masked number: the same 3 the store keeps (``caller_last3``)
KEEP_DIGITS = 3
MIN_DIGITS = 9
MAX_DIGITS = 15

_SEP = r"[ .\-]"
# A number may not continue a digit run, a decimal or dotted code ("124.0812...", "53.03.06..."), a date
# ("2026-0812...") or a hex digest ("a3f0812..."): not after a digit or hex letter, nor after a digit and a
# separator. Letters other than a-f may touch it: "HP081234567890" is a number.
_BEFORE = r"(?<![0-9A-Fa-f+])(?<![0-9][.,\-])"
_FIRST = (
    r"(?:\(?(?:\+|00)62\)?" + _SEP + r"?(?:\(0\)" + _SEP + r"?)?[2-9][0-9]*+"  # +62 812..., +62 (0)812..., +62 21...
    r"|62[ \-]?8[0-9]*+"                                                      # 62812..., 62 812... (mobile only)
    r"|\(0[2-9][0-9]{1,3}\)"                                                  # (0388) 21234, (021)1234567
    r"|0[2-9][0-9]++)"                                                        # 0812..., 0388...
)
# Possessive groups, at most 7 after the first (15 digits in groups of 2 or more): a long run of digits and
# separators costs one pass, never a backtrack through every way to split it.
_NUMBER = re.compile(_BEFORE + _FIRST + r"(?:[ .\-]?[0-9]{2,}+){0,7}+", re.ASCII)
_RUN = re.compile(r"[0-9]+")


def _mask(text: str) -> str:
    """Every digit but the last KEEP_DIGITS as '*'; separators, brackets and '+' stay where they were."""
    keep = sum(ch.isdigit() for ch in text) - KEEP_DIGITS
    out = []
    for ch in text:
        if ch.isdigit() and keep > 0:
            out.append("*")
            keep -= 1
        else:
            out.append(ch)
    return "".join(out)


def _number_end(text: str, start: int, end: int) -> int | None:
    """Where the number matched at ``text[start:end]`` ends: after the most whole digit groups holding at most
    MAX_DIGITS (a number followed by a date or a count, "0812 3456 7890 2026-11-23", is cut before them), or
    None when that is fewer than MIN_DIGITS. The international prefix 00 is not counted (E.164)."""
    count = -2 if text[start:end].lstrip("(").startswith("00") else 0
    best = None
    for run in _RUN.finditer(text, start, end):
        count += run.end() - run.start()
        if count > MAX_DIGITS:
            break
        best = run.end() if count >= MIN_DIGITS else None
    return best


_DISPLAY_TOKEN = re.compile(r"wall_[A-Za-z0-9_-]{8,}")


def redact(text: str) -> str:
    """``text`` with every phone-number-like sequence masked but its last 3 digits:
    ``"hp 08123456789"`` -> ``"hp ********789"``, ``"+62 812-3456-7891"`` -> ``"+** ***-****-*891"``."""
    if not text:
        return text
    text = _DISPLAY_TOKEN.sub("wall_***", text)  # a wall's URL in an access log: the token is a credential
    out: list[str] = []
    pos = 0
    while (match := _NUMBER.search(text, pos)) is not None:
        start, end = match.span()
        stop = _number_end(text, start, end)
        if stop is None:  # not a number: keep its first group and look again after it
            first = _RUN.search(text, start, end)
            stop = first.end() if first else end
            out.append(text[pos:stop])
        else:
            out.append(text[pos:start])
            out.append(_mask(text[start:stop]))
        pos = stop
    out.append(text[pos:])
    return "".join(out)


class RedactingFilter(logging.Filter):
    """Masks phone numbers in a record as it will be written: the message after ``msg % args``, the traceback
    and the stack. The record is changed in place (``args`` emptied), so every handler after this one, and the
    error report of a message that cannot be formatted, see only the masked text. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad args: logging would print msg and args raw in its error report
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # what Formatter.format would write; it writes exc_text as it is when set, and never exc_info again
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # a handler with its own formatter would format the raw exception again
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> int:
    """Add a RedactingFilter to every handler of ``logger`` (default: the root logger), once; the number of
    handlers filtered. Call it after logging is configured: handlers added later are not covered."""
    target = logger or logging.getLogger()
    added = 0
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
            added += 1
    return added
