"""Content digests of a model version's artifact files.

A *manifest* maps every file of a version's model folder (its path relative to the folder, with
``/``) to the SHA-256 and size of its bytes. The digest of the manifest itself (SHA-256 of its
canonical JSON) is the version's ``artifact_digest``, which approvals are bound to: a byte changed
in any file changes it. Files are read in chunks and hashed; nothing here ever loads a model.

The registry sync records a manifest when it first sees a version and checks it again on deep
syncs; the serving runtime checks every downloaded file against it before a server starts.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHUNK_BYTES = 1024 * 1024

Manifest = dict[str, dict[str, str | int]]


def file_sha256(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of one file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """The files under ``folder`` (relative paths, sorted) and the symbolic links found there."""
    files, links = [], []
    for directory, subfolders, names in os.walk(folder, followlinks=False):
        base = Path(directory)
        for name in [*subfolders, *names]:
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links.append(relative)
            elif name in names:
                files.append(relative)
    return sorted(files), sorted(links)


def manifest_of_folder(folder: Path | str) -> Manifest:
    """``{path: {"sha256": ..., "size": ...}}`` for every file under ``folder``.

    Symbolic links are never followed (a model folder from MLflow has none; one that does is
    reported by ``manifest_mismatches``).
    """
    root = Path(folder)
    files, _ = _entries(root)
    manifest: Manifest = {}
    for relative in files:
        sha256, size = file_sha256(root / relative)
        manifest[relative] = {"sha256": sha256, "size": size}
    return manifest


def manifest_digest(manifest: Manifest) -> str:
    """The digest of a manifest: SHA-256 of its canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def listing_digest(manifest: Manifest, mlmodel_text: str) -> str:
    """The digest versions were recorded with before content manifests: SHA-256 over the file
    listing with sizes and the ``MLmodel`` text (no other file's bytes). A deep sync compares it
    before it records a manifest for such a version."""
    listing = sorted([path, int(entry["size"])] for path, entry in manifest.items())
    text = json.dumps(listing, separators=(",", ":")) + "\n" + mlmodel_text
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_size(manifest: Manifest) -> int:
    return sum(int(entry["size"]) for entry in manifest.values())


def manifest_changes(recorded: Manifest, found: Manifest) -> list[str]:
    """What differs between two manifests, one short sentence per file, sorted by path."""
    changes = []
    for path in sorted(set(recorded) | set(found)):
        before, after = recorded.get(path), found.get(path)
        if after is None:
            changes.append(f"{path} is missing")
        elif before is None:
            changes.append(f"{path} was added")
        elif before["sha256"] != after["sha256"] or before["size"] != after["size"]:
            changes.append(f"{path} has other content ({after['size']} bytes)")
    return changes


def manifest_mismatches(folder: Path | str, manifest: Manifest) -> list[str]:
    """Why the files under ``folder`` are not exactly those of ``manifest``; empty when they are.

    A file is compared by size first, so a file of the wrong size is never read.
    """
    root = Path(folder)
    files, links = _entries(root)
    problems = [f"{link} is a symbolic link" for link in links]
    present = set(files)
    for path in sorted(set(manifest) | present):
        expected = manifest.get(path)
        if expected is None:
            problems.append(f"{path} was added")
            continue
        if path not in present:
            problems.append(f"{path} is missing")
            continue
        if (root / path).stat().st_size != int(expected["size"]):
            problems.append(f"{path} has other content ({(root / path).stat().st_size} bytes)")
            continue
        sha256, size = file_sha256(root / path)
        if sha256 != expected["sha256"]:
            problems.append(f"{path} has other content ({size} bytes)")
    return problems
