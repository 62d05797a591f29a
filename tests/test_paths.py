"""Path confinement (the one rule for names read from files) and ownership before deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamreid._paths import escape_reason, foreign_entries, lies_inside, resolve_inside
from siamreid.errors import CheckpointError, DatasetLayoutError
from siamreid.retrieval.bundle.layout import opens_inside


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("img1", None),
        ("0000/0000_000_01_0303morning_0015_0.jpg", None),
        ("a/./b.jpg", None),
        ("", "is empty"),
        ("/etc/passwd", "is an absolute path"),
        ("C:\\Users\\me\\x.jpg", "is an absolute path"),
        ("C:x.jpg", "is an absolute path"),
        ("\\\\server\\share\\x.jpg", "is an absolute path"),
        ("../x.jpg", "climbs out with '..'"),
        ("a/../../x.jpg", "climbs out with '..'"),
        ("a/../b.jpg", "climbs out with '..'"),  # any '..': a link named 'a' would take it out
        ("a\\..\\..\\x.jpg", "climbs out with '..'"),
    ],
)
def test_escape_reasons(name: str, reason: str | None) -> None:
    assert escape_reason(name) == reason


def test_links_may_lead_out_only_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.jpg").touch()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert resolve_inside(root, "link/x.jpg", where="w", fix="f") == root / "link" / "x.jpg"
    with pytest.raises(CheckpointError, match=r"^w: 'link/x.jpg' leads out through a symbolic"):
        resolve_inside(
            root, "link/x.jpg", where="w", fix="f", error=CheckpointError, links_may_leave=False
        )
    with pytest.raises(DatasetLayoutError, match=r"^here: '\.\./x' climbs out.* Fix it\.$"):
        resolve_inside(root, "../x", where="here", fix="Fix it.")
    assert lies_inside(root / "a.jpg", root)
    assert lies_inside(root, root)
    assert not lies_inside(root / "link" / "x.jpg", root)
    assert not lies_inside(tmp_path / "rootless", root)  # a shared prefix is not inside


def test_bundle_paths_open_only_inside_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "index"
    (bundle / "images").mkdir(parents=True)
    (bundle / "out").symlink_to(tmp_path, target_is_directory=True)
    assert opens_inside(str(bundle / "images" / "a.jpg"), bundle)
    for path in ("/etc/passwd", str(tmp_path / "x.jpg"), str(bundle / "out" / "x.jpg")):
        assert not opens_inside(path, bundle)
    assert not opens_inside("http://example.com/a.jpg", bundle)


def test_foreign_entries_walk_owned_folders_and_skip_locks_and_temporaries(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine" / "deep").mkdir(parents=True)
    (tmp_path / "mine" / "deep" / "user.txt").touch()
    (tmp_path / "mine" / "ok.txt").touch()
    (tmp_path / "theirs").mkdir()
    (tmp_path / ".siamreid.lock").touch()
    (tmp_path / ".x.json.tmp-abc").touch()
    owned = {"mine", "mine/deep", "mine/ok.txt"}
    found = foreign_entries(tmp_path, lambda rel, is_dir: rel.as_posix() in owned)
    assert found == [tmp_path / "mine" / "deep" / "user.txt", tmp_path / "theirs"]
