"""Files the portal hands out: CSV that a spreadsheet reads as data, and safe download names.

``csv_stream`` is the one CSV writer of the portal (``csv_bytes`` its whole-file form). Text in its cells comes from people and from
MLflow (a model may be named ``=2+5+cmd|' -C calc'!A0``), and a spreadsheet runs a cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula. Such text cells get a
leading single quote (OWASP's advice for CSV injection). Columns named as numeric keep a value that
is a plain number as it is, so a credit of ``-12.50`` stays a number; anything else in them is
treated as text.

``streamed_download`` sends a download as its pieces are made (an export that never sits whole
in memory). ``content_disposition`` is the one way a download names its file: an ASCII ``filename`` with
everything but letters, digits, ``.``, ``-`` and ``_`` replaced, and the full name as
``filename*=UTF-8''...``, so neither quotes nor line breaks nor path separators in a model's name
reach the header or the saved file's path.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._-]+")
_UNSAFE_ANY = re.compile(r"[\x00-\x1f\x7f/\\\"]+")
FILENAME_LIMIT = 150


def spreadsheet_text(value: Any) -> str:
    """``value`` as a cell a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any, *, numeric: bool) -> Any:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if numeric and _PLAIN_NUMBER.match(str(value)):
        return value
    return spreadsheet_text(value)


def csv_stream(
    header: Sequence[str],
    batches: Iterable[Iterable[Sequence[Any]]],
    *,
    numeric_columns: Collection[str] = (),
) -> Iterator[bytes]:
    """UTF-8 CSV (CRLF line ends) of ``header``, then of each batch of rows as it comes: a
    download that never holds more than one batch. Text cells cannot be formulas."""
    numeric = [name in numeric_columns for name in header]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_text(name) for name in header])
    for rows in batches:
        for row in rows:
            writer.writerow(
                [_cell(value, numeric=n) for value, n in zip(row, numeric, strict=True)]
            )
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric_columns: Collection[str] = (),
) -> bytes:
    """UTF-8 CSV (CRLF line ends) of ``header`` and ``rows``; text cells cannot be formulas."""
    return b"".join(csv_stream(header, [rows], numeric_columns=numeric_columns))


def _ascii_name(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = folded.rpartition(".")
    if not dot:
        stem, suffix = folded, ""
    stem = _UNSAFE_ASCII.sub("_", stem).strip("._-")[:FILENAME_LIMIT] or "download"
    suffix = _UNSAFE_ASCII.sub("", suffix)[:10]
    return f"{stem}.{suffix}" if suffix else stem


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The ``Content-Disposition`` value of a download named ``filename``."""
    full = _UNSAFE_ANY.sub("_", filename).strip().lstrip(".")[: FILENAME_LIMIT * 2] or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{_ascii_name(full)}\"; filename*=UTF-8''{quote(full, safe='')}"


def streamed_download(
    chunks: Iterable[bytes],
    *,
    filename: str,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> StreamingHttpResponse:
    """A download sent piece by piece as ``chunks`` come, named safely."""
    response = StreamingHttpResponse(chunks, content_type=content_type, headers=headers)
    response["Content-Disposition"] = content_disposition(filename)
    return response
