"""Reference profiles as bytes, the column kinds of a frame, and reading uploaded data files.

``profile_dump`` writes an ``engine.Reference`` as one ``.npz`` (no pickle): the numeric
columns' sorted values and the categorical columns' counts as arrays, everything else as a JSON
header. ``profile_load`` reads it back into the same ``Reference``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from portal.core.errors import InvalidRequest
from portal.monitoring.engine import (
    CategoricalProfile,
    ColumnSpec,
    NumericProfile,
    Profile,
    Reference,
)

HEADER = "__header__"
NUMERIC_SIGNATURE_TYPES = {"double", "float", "long", "integer", "number"}
CATEGORICAL_SIGNATURE_TYPES = {"string", "boolean", "binary", "datetime"}


def profile_dump(reference: Reference) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    columns = []
    for index, spec in enumerate(reference.specs):
        profile = reference.profiles[spec.name]
        entry: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "array": f"a{index}"}
        if isinstance(profile, NumericProfile):
            arrays[f"a{index}"] = profile.values
            entry.update(
                count=profile.count,
                missing=profile.missing,
                std=profile.std,
                minimum=profile.minimum,
                maximum=profile.maximum,
                unique_count=profile.unique_count,
                integer=profile.integer,
            )
        else:
            arrays[f"a{index}"] = profile.counts
            entry.update(
                categories=list(profile.categories), count=profile.count, missing=profile.missing
            )
        columns.append(entry)
    header = json.dumps({"rows": reference.rows, "columns": columns}).encode()
    buffer = io.BytesIO()
    arrays[HEADER] = np.frombuffer(header, dtype=np.uint8)
    save: Any = np.savez_compressed  # its stubs type **kwds as the allow_pickle flag
    save(buffer, **arrays)
    return buffer.getvalue()


def profile_load(data: bytes) -> Reference:
    with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as stored:
        header = json.loads(stored[HEADER].tobytes().decode())
        specs, profiles = [], {}
        for entry in header["columns"]:
            spec = ColumnSpec(name=entry["name"], kind=entry["kind"])
            array = stored[entry["array"]]
            profile: Profile
            if spec.kind == "numeric":
                profile = NumericProfile(
                    values=array.astype(np.float64),
                    count=entry["count"],
                    missing=entry["missing"],
                    std=entry["std"],
                    minimum=entry["minimum"],
                    maximum=entry["maximum"],
                    unique_count=entry["unique_count"],
                    integer=entry["integer"],
                )
            else:
                profile = CategoricalProfile(
                    categories=tuple(entry["categories"]),
                    counts=array.astype(np.int64),
                    count=entry["count"],
                    missing=entry["missing"],
                )
            specs.append(spec)
            profiles[spec.name] = profile
    return Reference(rows=header["rows"], specs=tuple(specs), profiles=profiles)


def _signature_kinds(signature: dict | None) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for part in ("inputs", "outputs"):
        entries = (signature or {}).get(part)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("name"):
                continue
            kind = str(entry.get("type", "")).lower()
            if kind in NUMERIC_SIGNATURE_TYPES:
                kinds[str(entry["name"])] = "numeric"
            elif kind in CATEGORICAL_SIGNATURE_TYPES:
                kinds[str(entry["name"])] = "categorical"
    return kinds


def column_kind(values: pd.Series) -> str:
    """Numbers are numeric (booleans are not); anything else is categorical."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "numeric"
    present = values.dropna()
    if len(present) and not present.map(lambda v: isinstance(v, bool)).any():
        converted = pd.to_numeric(present, errors="coerce")
        if converted.notna().all():
            return "numeric"
    return "categorical"


def column_specs(
    frame: pd.DataFrame, *, signature: dict | None = None, keep: Iterable[str] | None = None
) -> list[ColumnSpec]:
    """One spec per column of ``frame`` (only ``keep`` when given), the kind taken from the
    model signature where it names the column, else from the values."""
    kinds = _signature_kinds(signature)
    wanted = set(keep) if keep is not None else None
    specs = []
    for name in frame.columns:
        label = str(name)
        if wanted is not None and label not in wanted:
            continue
        kind = kinds.get(label) or column_kind(frame[name])
        specs.append(ColumnSpec(name=label, kind=kind))  # type: ignore[arg-type]
    return specs


def monitored_columns(frame: pd.DataFrame, signature: dict | None) -> list[str] | None:
    """The signature's input names present in the frame, plus output columns; None (all of
    them) when the model has no input signature."""
    inputs = [
        str(entry["name"])
        for entry in ((signature or {}).get("inputs") or [])
        if isinstance(entry, dict) and entry.get("name")
    ]
    if not inputs:
        return None
    names = [str(name) for name in frame.columns]
    return [n for n in names if n in inputs or n == "prediction" or n.startswith("prediction.")]


def read_data_file(content: bytes, *, name: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; ``InvalidRequest`` with a sentence when it is neither."""
    if not content:
        raise InvalidRequest("The file is empty; upload a CSV or Parquet file with a header row.")
    if content[:4] == b"PAR1" or name.lower().endswith(".parquet"):
        try:
            return pq.read_table(pa.BufferReader(content)).to_pandas()
        except (pa.ArrowException, OSError, ValueError) as error:
            raise InvalidRequest(
                f"The file could not be read as Parquet ({str(error)[:200]}); upload a valid "
                "Parquet or CSV file."
            ) from None
    try:
        frame = pd.read_csv(io.BytesIO(content))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "The file could not be read as CSV: use comma-separated UTF-8 text with a header "
            "row, or a Parquet file."
        ) from None
    if frame.empty or not len(frame.columns):
        raise InvalidRequest("The file has no data rows; a baseline needs rows under the header.")
    return frame


def rename_prediction(frame: pd.DataFrame, prediction_column: str) -> pd.DataFrame:
    if not prediction_column:
        return frame
    if prediction_column not in frame.columns:
        raise InvalidRequest(
            f"The file has no column '{prediction_column}' (prediction_column); its columns are: "
            f"{', '.join(map(str, list(frame.columns)[:20]))}."
        )
    return frame.rename(columns={prediction_column: "prediction"})


def summary_columns(reference: Reference) -> list[dict[str, Any]]:
    return [{"name": spec.name, "kind": spec.kind} for spec in reference.specs]


def prediction_names(names: Sequence[str]) -> list[str]:
    return [n for n in names if n == "prediction" or n.startswith("prediction.")]
