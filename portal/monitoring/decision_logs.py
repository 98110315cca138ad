"""Decision logs: a deployment's compacted captured traffic over a time range, as one download.

A decision log is read from the hour partitions of the capture store (``store``), one Parquet
row group at a time, and written out as it is read: as one Parquet file (a row group per row
group read) or as CSV whose text cells a spreadsheet cannot run. Nothing holds more than one row
group. Parts whose columns differ are brought to one schema: a column missing from a part is
null there, and a column whose types differ between parts is a number when they are all numbers
and text otherwise. The system columns come first: ``__received_at``, ``__capture_id``,
``__shadow`` and ``__latency_ms``.

Requests of the last ``CAPTURE_COMPACT_AFTER_MINUTES`` are still hot in the database and not in a
partition yet; an export leaves them out (its manifest counts them), so the same range always
gives the same bytes and the hash in the manifest and the audit trail describes the download.

Ranges: ``from`` and ``to`` are ISO dates or date-times (UTC when no offset is given); ``to`` is
exclusive, and a date as ``to`` means the end of that day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime

from portal.core.downloads import csv_stream
from portal.core.errors import InvalidRequest
from portal.monitoring.models import CapturedRequest
from portal.monitoring.store import (
    ID_COLUMN,
    LATENCY_COLUMN,
    SHADOW_COLUMN,
    TIME_COLUMN,
    capture_filesystem,
    capture_partitions,
)

EXPORT_FORMATS = ("parquet", "csv")
FIRST_COLUMNS = (TIME_COLUMN, ID_COLUMN, SHADOW_COLUMN, LATENCY_COLUMN)
EMPTY_SCHEMA = pa.schema(
    [
        (TIME_COLUMN, pa.timestamp("us", "UTC")),
        (ID_COLUMN, pa.int64()),
        (SHADOW_COLUMN, pa.bool_()),
        (LATENCY_COLUMN, pa.float64()),
    ]
)
HASH_BLOCK = 1024 * 1024


# --- The range asked for --------------------------------------------------------------------------


def _moment(name: str, value: str | None, *, end: bool) -> datetime:
    text = (value or "").strip()
    moment = parse_datetime(text) if "T" in text or " " in text else None
    if moment is None:
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise InvalidRequest(
                f"{name} must be a date (YYYY-MM-DD) or a date and time in ISO 8601, got {text!r}."
            )
        moment = datetime.combine(day, time.min) + (timedelta(days=1) if end else timedelta())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decision_log_range(params: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """[from, to) of a request's ``from`` and ``to``; a 400 sentence when they cannot be one."""
    try:
        start = _moment("from", params.get("from"), end=False)
        end = _moment("to", params.get("to"), end=True)
    except (ValueError, OverflowError):
        raise InvalidRequest("from and to must be real dates (YYYY-MM-DD) before 9999.") from None
    if start >= end:
        raise InvalidRequest("from must come before to.")
    cap = settings.DECISION_LOG_EXPORT_MAX_DAYS
    if end - start > timedelta(days=cap):
        raise InvalidRequest(
            f"An export covers at most {cap} days; from {start:%Y-%m-%d} to {end:%Y-%m-%d} is "
            f"{(end - start).days} days. Export the range in parts."
        )
    return start, end


def decision_log_format(value: str | None) -> str:
    chosen = (value or "parquet").lower()
    if chosen not in EXPORT_FORMATS:
        raise InvalidRequest(f"format must be one of: {', '.join(EXPORT_FORMATS)}.")
    return chosen


# --- Reading the partitions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    path: str  # on the store's filesystem
    relative: str  # under the store's root
    hour: datetime
    bytes: int
    rows: int  # rows of the range in it
    whole: bool  # every row of the part is in the range
    schema: pa.Schema


@dataclass(frozen=True)
class DecisionLog:
    """The partitions of one deployment's decision log in [start, end), fixed when read."""

    tenant_id: int
    deployment_id: int
    start: datetime | None
    end: datetime | None
    filesystem: pafs.FileSystem
    partitions: tuple[Partition, ...]
    schema: pa.Schema
    hot_rows: int

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(part.bytes for part in self.partitions)


def _in_range(times: Any, start: datetime | None, end: datetime | None) -> Any:
    kind = pa.timestamp("us", "UTC")
    mask = pa.array([True] * len(times))
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(times, pa.scalar(start, kind)))
    if end is not None:
        mask = pc.and_(mask, pc.less(times, pa.scalar(end, kind)))
    return mask


def _unified(schemas: list[pa.Schema]) -> pa.Schema:
    kinds: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for column in schema:
            kinds.setdefault(column.name, []).append(column.type)
    if not kinds:
        return EMPTY_SCHEMA
    names = [n for n in FIRST_COLUMNS if n in kinds] + [n for n in kinds if n not in FIRST_COLUMNS]
    fields = []
    for name in names:
        seen = {kind for kind in kinds[name] if not pa.types.is_null(kind)}
        if len(seen) == 1:
            kind = seen.pop()
        elif seen and all(pa.types.is_integer(k) or pa.types.is_floating(k) for k in seen):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def decision_log_read(
    *, tenant_id: int, deployment_id: int, start: datetime | None, end: datetime | None
) -> DecisionLog:
    """The decision log of a deployment of the tenant in scope over [start, end)."""
    filesystem, root = capture_filesystem()
    partitions = []
    for hour, info in capture_partitions(
        tenant_id=tenant_id, deployment_id=deployment_id, start=start, end=end
    ):
        metadata = pq.read_metadata(info.path, filesystem=filesystem)
        whole = (start is None or hour >= start) and (
            end is None or hour + timedelta(hours=1) <= end
        )
        rows = metadata.num_rows
        if not whole:
            times = pq.read_table(info.path, columns=[TIME_COLUMN], filesystem=filesystem)
            rows = pc.sum(_in_range(times.column(0), start, end).cast(pa.int64())).as_py() or 0
        if rows:
            partitions.append(
                Partition(
                    path=info.path,
                    relative=info.path.removeprefix(root).lstrip("/"),
                    hour=hour,
                    bytes=info.size or 0,
                    rows=rows,
                    whole=whole,
                    schema=metadata.schema.to_arrow_schema(),
                )
            )
    hot = CapturedRequest.objects.filter(deployment_id=deployment_id)
    if start is not None:
        hot = hot.filter(received_at__gte=start)
    if end is not None:
        hot = hot.filter(received_at__lt=end)
    return DecisionLog(
        tenant_id=tenant_id,
        deployment_id=deployment_id,
        start=start,
        end=end,
        filesystem=filesystem,
        partitions=tuple(partitions),
        schema=_unified([part.schema for part in partitions]),
        hot_rows=sum(hot.values_list("row_count", flat=True)),
    )


def partition_sha256(log: DecisionLog, partition: Partition) -> str:
    digest = hashlib.sha256()
    with log.filesystem.open_input_stream(partition.path) as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _tables(log: DecisionLog) -> Iterator[pa.Table]:
    """The log's rows, one row group at a time, in the log's schema."""
    for part in log.partitions:
        with log.filesystem.open_input_file(part.path) as handle:
            reader = pq.ParquetFile(handle)
            for group in range(reader.num_row_groups):
                table = reader.read_row_group(group)
                if not part.whole:
                    table = table.filter(_in_range(table.column(TIME_COLUMN), log.start, log.end))
                if table.num_rows:
                    yield _conform(table, log.schema)


# --- Writing the download -------------------------------------------------------------------------


class _Drain:
    """A write-only file the Parquet writer fills; ``take`` hands over what it wrote so far."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.position = 0

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self.pieces.append(piece)
        self.position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data, self.pieces = b"".join(self.pieces), []
        return data


def _parquet_chunks(log: DecisionLog) -> Iterator[bytes]:
    sink = _Drain()
    writer = pq.ParquetWriter(sink, log.schema)
    for table in _tables(log):
        writer.write_table(table)
        if data := sink.take():
            yield data
    writer.close()
    yield sink.take()


def _csv_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _csv_chunks(log: DecisionLog) -> Iterator[bytes]:
    def batches() -> Iterator[Any]:
        for table in _tables(log):
            columns = [[_csv_value(v) for v in column.to_pylist()] for column in table.columns]
            yield zip(*columns, strict=True)

    return csv_stream(log.schema.names, batches())


def decision_log_chunks(log: DecisionLog, fmt: str) -> Iterator[bytes]:
    """The download of ``log`` in ``fmt`` (parquet or csv), a row group at a time."""
    return _parquet_chunks(log) if fmt == "parquet" else _csv_chunks(log)


def decision_log_digest(log: DecisionLog, fmt: str) -> tuple[str, int]:
    """SHA-256 and size of the download of ``log`` in ``fmt``, written without keeping it."""
    digest, size = hashlib.sha256(), 0
    for chunk in decision_log_chunks(log, fmt):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
