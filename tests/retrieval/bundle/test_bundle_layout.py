"""The bundle's layout: which version a record points at, stored paths, checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bundles import filled

from siamreid.retrieval.bundle.layout import (
    BundleVersion,
    current_version,
    resolved_path,
    sha256,
    stored_path,
)


def test_local_paths_are_stored_relative_and_resolve_back(tmp_path: Path) -> None:
    bundle = tmp_path / "ix"
    image = tmp_path / "images" / "0001_c1.jpg"
    stored = stored_path(str(image), bundle)
    assert stored == "../images/0001_c1.jpg"
    assert resolved_path(stored, bundle) == str(image)
    for remote in ("s3://bucket/a.jpg", "https://host/a.jpg", ""):
        assert stored_path(remote, bundle) == remote
        assert resolved_path(remote, bundle) == remote


def test_current_version_reads_format_2_and_1_and_ignores_the_rest(tmp_path: Path) -> None:
    saved = filled().save(tmp_path / "ix")
    version = current_version(saved)
    assert isinstance(version, BundleVersion)
    record = json.loads((saved / "meta.json").read_text())
    assert (version.folder, version.version, version.model) == (saved / record["version"], 2, None)
    old = tmp_path / "old"
    (old / "model").mkdir(parents=True)
    (old / "meta.json").write_text(json.dumps({"format": "siamreid-index", "format_version": 1}))
    assert current_version(old) == BundleVersion(old, 1, old / "model", None)
    (old / "meta.json").write_text(json.dumps({"format": "other", "format_version": 1}))
    assert current_version(old) is None
    assert current_version(tmp_path / "nowhere") is None


def test_sha256_is_the_file_digest(tmp_path: Path) -> None:
    data = b"x" * (3 << 20)  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    assert sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()
