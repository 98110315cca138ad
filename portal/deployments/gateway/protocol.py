"""The MLflow scoring protocol as the gateway reads it: payload shapes, signature checks, errors.

A payload is JSON with one of ``dataframe_split``, ``dataframe_records``, ``instances`` or
``inputs`` (and optionally ``params``), or CSV with a header line. ``parse`` turns it into
columns and rows for the signature check and for capture; the body itself is forwarded to the
model server unchanged. Errors have the shape a client of ``mlflow models serve`` expects:
``{"error_code": "BAD_REQUEST", "message": "..."}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
CSV = "text/csv"
KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
NUMERIC = {"double", "float", "long", "integer"}


class PayloadError(Exception):
    """The request cannot be scored; ``message`` says what to fix, ``status`` is the HTTP code."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code

    def as_json(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


@dataclass(slots=True)
class Payload:
    columns: list[str]
    rows: list[list[Any]]


def content_type_of(header: str) -> str:
    kind = header.split(";", 1)[0].strip().lower()
    if kind in (JSON, CSV):
        return kind
    raise PayloadError(
        f"This predictor only supports the following content types: {JSON}, {CSV}. "
        f"Got '{kind or 'none'}'.",
        status=415,
    )


def parse(body: bytes, content_type: str, input_names: list[str]) -> Payload:
    if content_type == CSV:
        return _parse_csv(body)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"The body is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise PayloadError(_shape_message())
    found = [key for key in KEYS if key in document]
    if len(found) != 1:
        raise PayloadError(_shape_message())
    data = document[found[0]]
    if found[0] == "dataframe_split":
        return _split(data)
    if found[0] == "dataframe_records":
        return _records(data, found[0])
    return _instances(data, found[0], input_names)


def _shape_message() -> str:
    return (
        "The JSON body must have exactly one of the keys "
        + ", ".join(f"'{k}'" for k in KEYS)
        + " (and optionally 'params')."
    )


def _split(data: Any) -> Payload:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise PayloadError("'dataframe_split' needs 'columns' and 'data' (a list of rows).")
    columns = data.get("columns")
    rows = data["data"]
    if columns is None:
        raise PayloadError("'dataframe_split' needs 'columns' naming the input columns.")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise PayloadError("'columns' must be a list of column names.")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(columns):
            raise PayloadError(
                f"Row {number} of 'data' must be a list of {len(columns)} values, one per column."
            )
    return Payload(columns=columns, rows=rows)


def _records(data: Any, key: str) -> Payload:
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise PayloadError(f"'{key}' must be a list of records (objects of column: value).")
    columns: list[str] = []
    seen: set[str] = set()
    for record in data:
        for name in record:
            if name not in seen:
                seen.add(name)
                columns.append(name)
    return Payload(columns=columns, rows=[[record.get(c) for c in columns] for record in data])


def _instances(data: Any, key: str, input_names: list[str]) -> Payload:
    if isinstance(data, dict):
        # Columnar: {"a": [1, 2], "b": [3, 4]} or a single record {"a": 1, "b": 2}.
        columns = list(data)
        values = [v if isinstance(v, list) else [v] for v in data.values()]
        if len({len(v) for v in values}) > 1:
            raise PayloadError(f"Every column in '{key}' must have the same number of values.")
        return Payload(columns=columns, rows=[list(row) for row in zip(*values, strict=True)])
    if not isinstance(data, list):
        raise PayloadError(f"'{key}' must be a list of rows or records, or an object of columns.")
    if data and all(isinstance(r, dict) for r in data):
        return _records(data, key)
    if data and input_names and all(isinstance(r, list) for r in data):
        for number, row in enumerate(data, start=1):
            if len(row) != len(input_names):
                raise PayloadError(
                    f"Row {number} of '{key}' has {len(row)} values; the model takes "
                    f"{len(input_names)} ({', '.join(input_names)})."
                )
        return Payload(columns=list(input_names), rows=data)
    return Payload(columns=[], rows=[])  # tensors: the model server checks them


def _parse_csv(body: bytes) -> Payload:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("The CSV body must be UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise PayloadError("The CSV body needs a header line naming the columns.")
    rows: list[list[Any]] = []
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise PayloadError(
                f"Line {number} of the CSV has {len(row)} values, not {len(header)}."
            )
        rows.append([_csv_value(v) for v in row])
    return Payload(columns=header, rows=rows)


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    try:
        return float(text) if any(c in text for c in ".eEn") else int(text)
    except ValueError:
        return text


def check_signature(payload: Payload, signature: dict | None) -> None:
    """Refuse a payload that lacks a column the model's signature requires, or has a value of the
    wrong kind in a numeric or boolean column; the message names the column."""
    inputs = (signature or {}).get("inputs")
    if not isinstance(inputs, list) or not payload.columns:
        return
    position = {name: i for i, name in enumerate(payload.columns)}
    for spec in inputs:
        if not isinstance(spec, dict) or "name" not in spec:
            return  # a tensor signature: nothing to check by name
        name, kind = spec["name"], spec.get("type", "")
        index = position.get(name)
        if index is None:
            if spec.get("required", True):
                raise PayloadError(
                    f"Column '{name}' is missing: the model's signature requires it "
                    f"({kind or 'any type'})."
                )
            continue
        if kind in NUMERIC:
            _check_values(payload.rows, index, name, kind, _is_number)
        elif kind == "boolean":
            _check_values(payload.rows, index, name, kind, lambda v: isinstance(v, bool))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_values(rows: list[list[Any]], index: int, name: str, kind: str, ok: Any) -> None:
    for number, row in enumerate(rows, start=1):
        value = row[index]
        if value is None or ok(value):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        raise PayloadError(
            f"Column '{name}' must hold {kind} values; row {number} has {json.dumps(value)}."
        )


def input_names(signature: dict | None) -> list[str]:
    inputs = (signature or {}).get("inputs")
    if not isinstance(inputs, list):
        return []
    return [s["name"] for s in inputs if isinstance(s, dict) and "name" in s]


def predictions_of(body: bytes) -> list[Any]:
    """The model server's predictions, for capture; [] when the answer is not the usual shape."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    if isinstance(document, dict):
        document = document.get("predictions", [])
    return document if isinstance(document, list) else [document]
