"""The captured traffic store: hot requests in the database, compacted Parquet partitions after.

Layout (``CAPTURE_STORE_URI``, a local folder or any pyarrow filesystem URI)::

    <root>/tenant=<id>/deployment=<id>/hour=YYYY-MM-DDTHH/part-<first id>-<last id>.parquet

A part holds the input columns under their own names, the outputs as ``prediction`` (or
``prediction.<key>`` / ``prediction.<i>`` for dict and list outputs) and the system columns
``__capture_id``, ``__received_at``, ``__latency_ms`` and ``__shadow``. Column types are
inferred per part; a column whose values do not share a type is stored as text.

Compaction locks a batch of hot requests, writes one part per hour, and deletes the batch in
the same transaction. A crash between the write and the commit leaves a part whose requests
are still hot; the next run finds it by its ids and replaces it, so running twice never stores
a row twice. Retention deletes whole hour partitions older than their deployment's retention
(``portal.monitoring.retention``: by the risk tier in force of the deployed model).

Reading a window yields chunks for ``engine.drift_run_chunks``: hot requests turned into
columns, then one Parquet row group at a time, read column by column only when asked.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.core.audit import Actor, Change, audit_record_many
from portal.monitoring.models import CapturedRequest, DriftRun, RunStatus
from portal.monitoring.retention import deployment_tiers, retention_days

logger = logging.getLogger(__name__)

PREDICTION = "prediction"
ID_COLUMN = "__capture_id"
TIME_COLUMN = "__received_at"
LATENCY_COLUMN = "__latency_ms"
SHADOW_COLUMN = "__shadow"
SYSTEM_COLUMNS = (ID_COLUMN, TIME_COLUMN, LATENCY_COLUMN, SHADOW_COLUMN)
HOUR_FORMAT = "%Y-%m-%dT%H"
COMPACT_BATCH_REQUESTS = 5000
HOT_CHUNK_REQUESTS = 500
RETENTION_ACTOR = Actor.system("capture retention")


# --- Filesystem -----------------------------------------------------------------------------------


def capture_filesystem() -> tuple[pafs.FileSystem, str]:
    """The store's filesystem and root path."""
    uri = settings.CAPTURE_STORE_URI
    if "://" not in uri:
        local = pafs.LocalFileSystem()
        local.create_dir(uri, recursive=True)
        return local, uri.rstrip("/")
    filesystem, root = pafs.FileSystem.from_uri(uri)
    return filesystem, root.rstrip("/")


def deployment_dir(root: str, tenant_id: int, deployment_id: int) -> str:
    return f"{root}/tenant={tenant_id}/deployment={deployment_id}"


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _children(filesystem: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(infos, key=lambda info: info.path)


def _hour_dirs(filesystem: pafs.FileSystem, directory: str) -> list[tuple[datetime, pafs.FileInfo]]:
    found = []
    for info in _children(filesystem, directory):
        name = info.base_name
        if info.type != pafs.FileType.Directory or not name.startswith("hour="):
            continue
        try:
            hour = datetime.strptime(name.removeprefix("hour="), HOUR_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            continue
        found.append((hour, info))
    return found


def _part_range(name: str) -> tuple[int, int] | None:
    try:
        first, last = name.removeprefix("part-").removesuffix(".parquet").split("-")
        return int(first), int(last)
    except ValueError:
        return None


# --- From requests to columns ---------------------------------------------------------------------


def _cell(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def prediction_values(prediction: Any) -> Iterator[tuple[str, Any]]:
    """The output columns of one prediction: a scalar is ``prediction``, a one-item list its
    item, a dict ``prediction.<key>`` per key, a longer list ``prediction.<i>`` per item."""
    if isinstance(prediction, dict):
        for key, value in prediction.items():
            yield f"{PREDICTION}.{key}", _cell(value)
    elif isinstance(prediction, list):
        if len(prediction) == 1:
            yield PREDICTION, _cell(prediction[0])
        else:
            for index, value in enumerate(prediction):
                yield f"{PREDICTION}.{index}", _cell(value)
    else:
        yield PREDICTION, prediction


class _ColumnBuilder:
    """Columns assembled request by request; a column a request lacks gets nulls there."""

    def __init__(self, wanted: set[str] | None = None) -> None:
        self.wanted = wanted
        self.columns: dict[str, list[Any]] = {}
        self.rows = 0

    def _column(self, name: str) -> list[Any] | None:
        if self.wanted is not None and name not in self.wanted:
            return None
        column = self.columns.get(name)
        if column is None:
            column = self.columns[name] = [None] * self.rows
        return column

    def add(self, columns: list[str], rows: list[list[Any]], predictions: list[Any]) -> None:
        count = len(rows)
        if not count:
            return
        for position, name in enumerate(columns):
            column = self._column(name)
            if column is not None:
                column.extend(_cell(row[position]) if position < len(row) else None for row in rows)
        if self.wanted is None or any(n.startswith(PREDICTION) for n in self.wanted):
            for index, prediction in enumerate(predictions[:count]):
                for name, value in prediction_values(prediction):
                    column = self._column(name)
                    if column is not None:
                        if len(column) < self.rows + index:
                            column.extend([None] * (self.rows + index - len(column)))
                        column.append(value)
        self.rows += count
        for column in self.columns.values():
            if len(column) < self.rows:
                column.extend([None] * (self.rows - len(column)))

    def add_system(self, name: str, value: Any, count: int) -> None:
        """Set ``name`` to ``value`` on the last ``count`` rows (those ``add`` just added)."""
        column = self.columns.setdefault(name, [None] * self.rows)
        column.extend([None] * (self.rows - len(column)))
        column[self.rows - count :] = [value] * count

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: pd.Series(values) for name, values in self.columns.items()})


def _arrow_column(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if pa.types.is_nested(array.type):
        return pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())
    return array


# --- Compaction -----------------------------------------------------------------------------------


@dataclass
class CompactionResult:
    requests: int = 0
    rows: int = 0
    parts: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped_deployments: list[int] = field(default_factory=list)


def _write_part(
    filesystem: pafs.FileSystem,
    directory: str,
    requests: list[CapturedRequest],
    result: CompactionResult,
) -> None:
    ids = [request.pk for request in requests]
    first, last = min(ids), max(ids)
    filesystem.create_dir(directory, recursive=True)
    _remove_orphans(filesystem, directory, set(ids), first, last, result)
    builder = _ColumnBuilder()
    for request in requests:
        builder.add(request.columns, request.rows, request.predictions)
        for name, value in (
            (ID_COLUMN, request.pk),
            (TIME_COLUMN, request.received_at),
            (LATENCY_COLUMN, request.latency_ms),
            (SHADOW_COLUMN, request.shadow),
        ):
            builder.add_system(name, value, request.row_count)
    times = builder.columns.pop(TIME_COLUMN, [])
    arrays = {name: _arrow_column(values) for name, values in builder.columns.items()}
    arrays[TIME_COLUMN] = pa.array(times, pa.timestamp("us", "UTC"))
    table = pa.table(arrays)
    path = f"{directory}/part-{first}-{last}.parquet"
    temporary = f"{path}.tmp"
    pq.write_table(table, temporary, filesystem=filesystem, row_group_size=100_000)
    filesystem.move(temporary, path)
    result.parts.append(path)
    result.rows += table.num_rows


def _remove_orphans(
    filesystem: pafs.FileSystem,
    directory: str,
    ids: set[int],
    first: int,
    last: int,
    result: CompactionResult,
) -> None:
    """Delete parts left by a run that wrote them but never committed: their requests are
    still hot, and the part about to be written holds them again."""
    for info in _children(filesystem, directory):
        if info.base_name.endswith(".tmp"):
            filesystem.delete_file(info.path)
            continue
        span = _part_range(info.base_name)
        if span is None or span[1] < first or span[0] > last:
            continue
        stored = pq.read_table(info.path, columns=[ID_COLUMN], filesystem=filesystem)
        if ids & set(stored.column(0).to_pylist()):
            filesystem.delete_file(info.path)
            result.replaced.append(info.path)


def capture_compact(*, tenant_id: int, older_than: datetime) -> CompactionResult:
    """Move this tenant's hot requests received before ``older_than`` to Parquet parts.

    Runs inside the tenant's scope. A deployment with a drift run in progress is left for the
    next pass, so that run reads a window that does not move under it."""
    result = CompactionResult()
    filesystem, root = capture_filesystem()
    deployment_ids = sorted(
        set(
            CapturedRequest.objects.filter(received_at__lt=older_than)
            .values_list("deployment_id", flat=True)
            .distinct()
        )
    )
    busy = set(
        DriftRun.objects.filter(
            deployment_id__in=deployment_ids, status=RunStatus.RUNNING
        ).values_list("deployment_id", flat=True)
    )
    for deployment_id in deployment_ids:
        if deployment_id in busy:
            result.skipped_deployments.append(deployment_id)
            continue
        directory = deployment_dir(root, tenant_id, deployment_id)
        while _compact_batch(filesystem, directory, deployment_id, older_than, result):
            pass
    return result


def _compact_batch(
    filesystem: pafs.FileSystem,
    directory: str,
    deployment_id: int,
    older_than: datetime,
    result: CompactionResult,
) -> bool:
    with transaction.atomic():
        batch = list(
            CapturedRequest.objects.select_for_update(skip_locked=True)
            .filter(deployment_id=deployment_id, received_at__lt=older_than)
            .order_by("id")[:COMPACT_BATCH_REQUESTS]
        )
        if not batch:
            return False
        by_hour: dict[datetime, list[CapturedRequest]] = defaultdict(list)
        for request in batch:
            by_hour[hour_of(request.received_at)].append(request)
        for hour, requests in sorted(by_hour.items()):
            _write_part(
                filesystem, f"{directory}/hour={hour.strftime(HOUR_FORMAT)}", requests, result
            )
        CapturedRequest.objects.filter(pk__in=[request.pk for request in batch]).delete()
        result.requests += len(batch)
    return len(batch) == COMPACT_BATCH_REQUESTS


def capture_retention_apply(*, tenant_id: int, now: datetime | None = None) -> list[str]:
    """Delete this tenant's hour partitions (and hot requests) older than their deployment's
    retention (``retention``: by the risk tier in force of the deployed model), and record in the
    audit trail, per deployment, which hours went."""
    now = now or timezone.now()
    tiers = deployment_tiers()
    unknown = retention_days("")

    def kept_days(deployment_id: int | None) -> int:
        tier = tiers.get(deployment_id or 0)
        return unknown if tier is None else retention_days(tier)

    def cutoff(deployment_id: int | None) -> datetime:
        return hour_of(now - timedelta(days=kept_days(deployment_id)))

    filesystem, root = capture_filesystem()
    removed: dict[int | None, list[str]] = defaultdict(list)
    for deployment in _children(filesystem, f"{root}/tenant={tenant_id}"):
        if deployment.type != pafs.FileType.Directory:
            continue
        deployment_id = _deployment_id(deployment.base_name)
        for hour, info in _hour_dirs(filesystem, deployment.path):
            if hour < cutoff(deployment_id):
                filesystem.delete_dir(info.path)
                removed[deployment_id].append(info.path)
    by_days: dict[int, list[int]] = defaultdict(list)
    for deployment_id in tiers:
        by_days[kept_days(deployment_id)].append(deployment_id)
    with transaction.atomic():
        CapturedRequest.objects.filter(received_at__lt=cutoff(None)).exclude(
            deployment_id__in=list(tiers)
        ).delete()
        for deployment_ids in by_days.values():
            CapturedRequest.objects.filter(
                deployment_id__in=deployment_ids, received_at__lt=cutoff(deployment_ids[0])
            ).delete()
        changes = [
            Change(
                action="decision_log.expired",
                object_type="deployment",
                object_id=deployment_id,
                after={
                    "hours_removed": len(paths),
                    "before": cutoff(deployment_id).isoformat(),
                    "retention_days": kept_days(deployment_id),
                    "tier": tiers.get(deployment_id),  # None: the deployment is gone
                },
            )
            for deployment_id, paths in sorted(removed.items(), key=lambda item: item[0] or 0)
            if deployment_id is not None
        ]
        if changes:
            audit_record_many(actor=RETENTION_ACTOR, tenant_id=tenant_id, changes=changes)
    return [path for paths in removed.values() for path in paths]


def _deployment_id(name: str) -> int | None:
    try:
        return int(name.removeprefix("deployment="))
    except ValueError:
        return None


def capture_partitions(
    *,
    tenant_id: int,
    deployment_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[datetime, pafs.FileInfo]]:
    """The part files of a deployment's hours that meet [``start``, ``end``), oldest first."""
    filesystem, root = capture_filesystem()
    found: list[tuple[datetime, pafs.FileInfo]] = []
    for hour, info in sorted(
        _hour_dirs(filesystem, deployment_dir(root, tenant_id, deployment_id)),
        key=lambda item: item[0],
    ):
        if (start is not None and hour + timedelta(hours=1) <= start) or (
            end is not None and hour >= end
        ):
            continue
        parts = [p for p in _children(filesystem, info.path) if _part_range(p.base_name)]
        found.extend(
            (hour, part) for part in sorted(parts, key=lambda p: _part_range(p.base_name) or (0, 0))
        )
    return found


# --- Reading a window -----------------------------------------------------------------------------


class ParquetChunk(Mapping[str, Any]):
    """One row group of a part, read one column at a time when the engine asks for it."""

    def __init__(
        self,
        filesystem: pafs.FileSystem,
        path: str,
        group: int,
        names: list[str],
        rows: int,
        mask: np.ndarray | None = None,
    ) -> None:
        self.filesystem, self.path, self.group = filesystem, path, group
        self.names, self.mask = names, mask
        self.num_rows = int(mask.sum()) if mask is not None else rows

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        with self.filesystem.open_input_file(self.path) as handle:
            column = pq.ParquetFile(handle).read_row_group(self.group, columns=[name]).column(0)
        values = column.to_pandas()
        if self.mask is not None:
            values = values[self.mask].reset_index(drop=True)
        return values

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class WindowSpec:
    deployment_id: int
    tenant_id: int
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    last_rows: int | None = None


@dataclass
class _Part:
    path: str
    groups: list[tuple[int, int]]  # (row group, rows)
    hour: datetime
    names: list[str]


class CaptureWindow(Iterable[Any]):
    """The chunks of one deployment's window; iterating again starts over (the engine's second
    pass). The set of parts and hot requests is fixed when the window is built."""

    def __init__(
        self,
        spec: WindowSpec,
        *,
        columns: Iterable[str] | None = None,
        chunk_rows: int | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.spec = spec
        self.wanted = set(columns) if columns is not None else None
        self.chunk_rows = chunk_rows or settings.DRIFT_CHUNK_ROWS
        self.on_progress = on_progress
        self.filesystem, root = capture_filesystem()
        self.directory = deployment_dir(root, spec.tenant_id, spec.deployment_id)
        self.hot_ids, hot_rows = self._hot()
        self.parts: list[_Part] = []
        self.part_rows = 0
        self.trim: tuple[int, int] | None = None  # (index into plan, rows to keep)
        if spec.last_rows is None or hot_rows < spec.last_rows:
            self._plan_parts(None if spec.last_rows is None else spec.last_rows - hot_rows)
        self.total_rows = hot_rows + self.part_rows

    def _hot(self) -> tuple[list[int], int]:
        requests = CapturedRequest.objects.filter(deployment_id=self.spec.deployment_id)
        if self.spec.start is not None:
            requests = requests.filter(received_at__gte=self.spec.start)
        if self.spec.end is not None:
            requests = requests.filter(received_at__lt=self.spec.end)
        ids, total = [], 0
        for pk, count in requests.order_by("-received_at", "-id").values_list("id", "row_count"):
            if self.spec.last_rows is not None and total >= self.spec.last_rows:
                break
            ids.append(pk)
            total += count
        if self.spec.last_rows is not None and total > self.spec.last_rows:
            self.hot_trim = total - self.spec.last_rows
            total = self.spec.last_rows
        else:
            self.hot_trim = 0
        return ids, total

    def _plan_parts(self, wanted_rows: int | None) -> None:
        start, end = self.spec.start, self.spec.end
        hours = _hour_dirs(self.filesystem, self.directory)
        hours.sort(key=lambda item: item[0], reverse=True)
        for hour, info in hours:
            if start is not None and hour + timedelta(hours=1) <= start:
                continue
            if end is not None and hour >= end:
                continue
            parts = [p for p in _children(self.filesystem, info.path) if _part_range(p.base_name)]
            for part in sorted(
                parts, key=lambda p: _part_range(p.base_name) or (0, 0), reverse=True
            ):
                metadata = pq.read_metadata(part.path, filesystem=self.filesystem)
                groups = [
                    (g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
                ]
                names = [n for n in metadata.schema.names if n not in SYSTEM_COLUMNS]
                self.parts.append(_Part(part.path, groups, hour, names))
                self.part_rows += metadata.num_rows
                if wanted_rows is not None and self.part_rows >= wanted_rows:
                    self.part_rows = wanted_rows
                    return

    def __iter__(self) -> Iterator[Any]:
        done = 0
        for chunk in self._hot_chunks():
            done += len(chunk)
            self._progress(done)
            yield chunk
        budget = None if self.spec.last_rows is None else self.part_rows
        for part in self.parts:
            for group, rows in part.groups:
                if budget is not None and budget <= 0:
                    return
                mask = self._mask(part, group, rows)
                if budget is not None and (mask.sum() if mask is not None else rows) > budget:
                    keep = np.zeros(rows, dtype=bool)
                    keep[rows - budget :] = True
                    mask = keep if mask is None else (mask & keep)
                chunk = ParquetChunk(self.filesystem, part.path, group, part.names, rows, mask)
                if budget is not None:
                    budget -= chunk.num_rows
                done += chunk.num_rows
                self._progress(done)
                yield chunk

    def _progress(self, done: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, self.total_rows)

    def _mask(self, part: _Part, group: int, rows: int) -> np.ndarray | None:
        start, end = self.spec.start, self.spec.end
        inside_start = start is None or part.hour >= start
        inside_end = end is None or part.hour + timedelta(hours=1) <= end
        if inside_start and inside_end:
            return None
        with self.filesystem.open_input_file(part.path) as handle:
            times = pq.ParquetFile(handle).read_row_group(group, columns=[TIME_COLUMN]).column(0)
        stamps = times.to_numpy().astype("datetime64[us]")
        mask = np.ones(rows, dtype=bool)
        if start is not None:
            mask &= stamps >= np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
        if end is not None:
            mask &= stamps < np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")
        return mask

    def _hot_chunks(self) -> Iterator[pd.DataFrame]:
        if not self.hot_ids:
            return
        builder = _ColumnBuilder(self.wanted)
        skip = self.hot_trim
        requests = (
            CapturedRequest.objects.filter(pk__in=self.hot_ids)
            .order_by("received_at", "id")
            .values_list("columns", "rows", "predictions")
        )
        for columns, rows, predictions in requests.iterator(chunk_size=HOT_CHUNK_REQUESTS):
            if skip:
                dropped = min(skip, len(rows))
                rows, predictions, skip = rows[dropped:], predictions[dropped:], skip - dropped
            builder.add(columns, rows, predictions)
            if builder.rows >= self.chunk_rows:
                yield builder.frame()
                builder = _ColumnBuilder(self.wanted)
        if builder.rows:
            yield builder.frame()


def capture_window_sample(spec: WindowSpec, *, rows: int) -> pd.DataFrame:
    """The first ``rows`` captured rows of a deployment (oldest first), all columns, as a frame:
    for a baseline built from traffic."""
    builder = _ColumnBuilder()
    filesystem, root = capture_filesystem()
    directory = deployment_dir(root, spec.tenant_id, spec.deployment_id)
    frames: list[pd.DataFrame] = []
    taken = 0
    for _hour, info in sorted(_hour_dirs(filesystem, directory), key=lambda item: item[0]):
        parts = [p for p in _children(filesystem, info.path) if _part_range(p.base_name)]
        for part in sorted(parts, key=lambda p: _part_range(p.base_name) or (0, 0)):
            table = pq.read_table(part.path, filesystem=filesystem)
            frame = table.drop_columns([c for c in SYSTEM_COLUMNS if c in table.column_names])
            frames.append(frame.slice(0, rows - taken).to_pandas())
            taken += len(frames[-1])
            if taken >= rows:
                return pd.concat(frames, ignore_index=True)
    hot = CapturedRequest.objects.filter(deployment_id=spec.deployment_id).order_by(
        "received_at", "id"
    )
    for columns, values, predictions in hot.values_list("columns", "rows", "predictions").iterator(
        chunk_size=HOT_CHUNK_REQUESTS
    ):
        builder.add(columns, values[: rows - taken], predictions[: rows - taken])
        taken = builder.rows + sum(len(f) for f in frames)
        if taken >= rows:
            break
    if builder.rows:
        frames.append(builder.frame())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
