"""The index bundle, siamreid's on-disk gallery: one format, one owner.

``storage`` writes and reads it (:func:`write_index` / :func:`read_index`, the one public pair);
``layout`` names its files and versions, ``commit`` replaces a version atomically and cleans up
after killed saves, ``checks`` verifies what is read against the committed ``meta.json``.
"""

from siamreid.retrieval.bundle.storage import IndexMeta, StoredIndex, read_index, write_index

__all__ = ["IndexMeta", "StoredIndex", "read_index", "write_index"]
