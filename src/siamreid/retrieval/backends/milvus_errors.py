"""The Milvus backend's failures as one line each: naming the store, the collection and the fix."""

from __future__ import annotations

import os

__all__ = ["is_embedded", "not_owned", "store_failure"]

LOCK_FILE = "LOCK"  # milvus-lite's lock in the store's folder (milvus_lite.db.LOCK_FILENAME)


def is_embedded(uri: str) -> bool:
    """Whether ``uri`` names an embedded (milvus-lite) store: a local path ending in ``.db``."""
    return uri.endswith(".db") and "://" not in uri


def store_failure(uri: str, collection: str, err: BaseException, timeout: float) -> str:
    """One line naming the store, what went wrong and the fix."""
    causes: list[BaseException] = []
    cause: BaseException | None = err
    while cause is not None and cause not in causes:  # pymilvus's chains can loop
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{type(cause).__name__}: {cause}" for cause in causes)
    if is_embedded(uri) and ("lock" in text.lower() or _locked(uri)):
        return (
            f"Milvus store {uri!r} is open in another process (milvus-lite lets one process "
            "use a .db file at a time): close that process, use another .db file, or a Milvus "
            "server (http://host:19530) for shared access."
        )
    if is_embedded(uri) and not os.path.isdir(os.path.dirname(os.path.abspath(uri))):
        return (
            f"Milvus store {uri!r}: its folder {os.path.dirname(os.path.abspath(uri))!r} does "
            "not exist; create it, or pass a .db path in an existing folder."
        )
    if not is_embedded(uri):
        return (
            f"Milvus server {uri!r} did not answer within {timeout:g} s ({_first_line(err)}): "
            "start the server or fix the host and port (IndexOptions(uri=...)), raise "
            "IndexOptions(timeout=...), or use an embedded store (a path ending in '.db')."
        )
    return (
        f"Milvus store {uri!r}, collection {collection!r}: {_first_line(err)}; check the store "
        "(or pass another IndexOptions(uri=...))."
    )


def _first_line(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    return str(message).strip().splitlines()[0]


def not_owned(uri: str, collection: str, found: object, owner: str) -> str:
    """The refusal of a collection that another index, or no siamreid index, created."""
    whose = (
        "was not created by siamreid (it has no siamreid.owner mark; neither have collections "
        "of siamreid versions before the mark)"
        if found is None
        else f"belongs to another siamreid index ({found}, not this index's {owner})"
    )
    return (
        f"Milvus collection {collection!r} at {uri!r} {whose}: siamreid never writes to, drops "
        "or searches it. Choose another collection name (IndexOptions(collection=...)), or "
        "leave it unset for one named after this index."
    )


def _locked(uri: str) -> bool:
    """Whether another process holds milvus-lite's lock on the store (milvus-lite logs the
    reason and pymilvus only says "Open local milvus failed")."""
    try:
        import fcntl
    except ImportError:  # Windows: not probed
        return False
    path = os.path.join(uri, LOCK_FILE)
    if not os.path.isfile(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also releases the probe's lock
    return False
