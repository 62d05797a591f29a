"""Milvus: siamreid writes to, drops and searches only collections it created for that index.

A user's own collection in the same ``.db`` survives every Retriever add/save/load; two indexes
on one store keep their rows apart; a bundle's saved URI and collection are hints the caller
must confirm; a store that cannot be opened is one line naming the URI and the fix.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from siamreid.errors import ConfigError, VectorStoreError
from siamreid.retrieval import IndexOptions, Retriever

pymilvus = pytest.importorskip("pymilvus")  # the `milvus` extra, part of `all`
pytest.importorskip("milvus_lite")


def user_collection(uri: str, rows: int = 50) -> np.ndarray:
    """A collection "people" of the user's own (50 rows of 6-d vectors), made with pymilvus."""
    vectors = np.random.default_rng(0).standard_normal((rows, 6)).astype(np.float32)
    client = pymilvus.MilvusClient(uri)
    client.create_collection("people", dimension=6)
    client.insert("people", [{"id": i, "vector": vectors[i]} for i in range(rows)])
    return vectors


def people(uri: str) -> np.ndarray:
    """The vectors of "people", in id order (what the user would read back)."""
    client = pymilvus.MilvusClient(uri)
    assert client.get_collection_stats("people")["row_count"] == 50
    found = client.query("people", filter="id >= 0", output_fields=["id", "vector"], limit=100)
    return np.array([hit["vector"] for hit in sorted(found, key=lambda hit: hit["id"])])


def data(seed: int, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=gen), torch.arange(n) + 1000 * seed


def milvus(uri: str, seed: int, collection: str | None = None) -> Retriever:
    retriever = Retriever(backend="milvus", options=IndexOptions(uri=uri, collection=collection))
    emb, ids = data(seed)
    retriever.add(emb, ids=ids)
    return retriever


def assert_own_rows(retriever: Retriever, seed: int) -> None:
    emb, ids = data(seed)
    exact = Retriever()
    exact.add(emb, ids=ids)
    found, expected = retriever.search(emb[:8] + 0.01, k=5), exact.search(emb[:8] + 0.01, k=5)
    assert torch.equal(found.ids, expected.ids)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


def test_a_users_own_collection_survives_add_save_and_load(db: str, tmp_path: Path) -> None:
    before = user_collection(db)
    retriever = milvus(db, seed=1)  # the default collection: named after this index
    assert_own_rows(retriever, seed=1)
    retriever.save(tmp_path / "ix")
    loaded = Retriever.load(tmp_path / "ix", options=IndexOptions(uri=db))
    loaded.add(*data(seed=3))
    assert len(loaded.search(torch.randn(2, 6), k=3).ids) == 2
    # the same bundle loaded onto the user's collection by name: refused, not replaced
    onto = Retriever.load(tmp_path / "ix", options=IndexOptions(uri=db, collection="people"))
    onto.add(*data(seed=4))
    with pytest.raises(VectorStoreError, match=r"'people'.*not created by siamreid"):
        onto.search(torch.randn(2, 6), k=3)
    np.testing.assert_array_equal(people(db), before)


def test_naming_a_users_collection_is_refused_and_leaves_it_whole(db: str) -> None:
    before = user_collection(db)
    retriever = milvus(db, seed=1, collection="people")
    with pytest.raises(VectorStoreError, match=r"'people' at '.*store\.db' was not created by "):
        retriever.search(torch.randn(1, 6), k=3)
    np.testing.assert_array_equal(people(db), before)


def test_two_indexes_on_one_store_keep_their_own_rows(db: str, tmp_path: Path) -> None:
    first, second = milvus(db, seed=1), milvus(db, seed=2)
    assert_own_rows(first, seed=1)
    assert_own_rows(second, seed=2)
    assert_own_rows(first, seed=1)  # the second index did not replace the first one's rows
    first.save(tmp_path / "a")
    second.save(tmp_path / "b")
    for bundle, seed in (("a", 1), ("b", 2)):
        loaded = Retriever.load(tmp_path / bundle, options=IndexOptions(uri=db))
        assert_own_rows(loaded, seed)
        assert loaded._backend.inserted == 0  # type: ignore[attr-defined]  # reused as stored
    taken = first._backend.collection  # type: ignore[attr-defined]
    intruder = milvus(db, seed=3, collection=taken)
    with pytest.raises(VectorStoreError, match=r"belongs to another siamreid index.*another col"):
        intruder.search(torch.randn(1, 6), k=3)
    assert_own_rows(Retriever.load(tmp_path / "a", options=IndexOptions(uri=db)), seed=1)


def tamper(bundle: Path, **options: object) -> None:
    meta = json.loads((bundle / "meta.json").read_text())
    meta["options"].update(options)
    (bundle / "meta.json").write_text(json.dumps(meta))


def test_a_bundle_naming_another_store_is_not_connected_to_on_load(db: str, tmp_path: Path) -> None:
    before = user_collection(db)
    retriever = milvus(str(tmp_path / "own.db"), seed=1)
    retriever.save(tmp_path / "ix")
    tamper(tmp_path / "ix", uri=db, collection="people")
    with pytest.warns(UserWarning, match=r"store\.db.*not connected to.*IndexOptions\(uri="):
        loaded = Retriever.load(tmp_path / "ix")
    assert_own_rows(loaded, seed=1)  # searched in a temporary store of its own
    assert loaded._backend.uri != db  # type: ignore[attr-defined]
    np.testing.assert_array_equal(people(db), before)
    # the caller names the store: the bundle's collection is still refused, not dropped
    confirmed = Retriever.load(tmp_path / "ix", options=IndexOptions(uri=db, collection="people"))
    with pytest.raises(VectorStoreError, match=r"'people'.*was not created by siamreid"):
        confirmed.search(torch.randn(1, 6), k=3)
    np.testing.assert_array_equal(people(db), before)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_bundle_naming_an_unreachable_server_loads_and_searches(tmp_path: Path) -> None:
    milvus(str(tmp_path / "own.db"), seed=1).save(tmp_path / "ix")
    tamper(tmp_path / "ix", uri=f"http://127.0.0.1:{closed_port()}")
    with pytest.warns(UserWarning, match=r"http://127\.0\.0\.1"):
        loaded = Retriever.load(tmp_path / "ix")
    assert_own_rows(loaded, seed=1)


def one_line(err: pytest.ExceptionInfo[BaseException], uri: str) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert repr(uri) in message
    return message


def test_a_store_locked_by_another_process_is_one_line(db: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pymilvus; pymilvus.MilvusClient(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            db,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreError) as err:
            Retriever(backend="milvus", options=IndexOptions(uri=db))
        assert "open in another process" in one_line(err, db)
    finally:
        holder.communicate("", timeout=60)


def test_a_store_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    uri = str(tmp_path / "missing" / "store.db")
    with pytest.raises(VectorStoreError) as err:
        Retriever(backend="milvus", options=IndexOptions(uri=uri))
    assert "does not exist; create it" in one_line(err, uri)


def test_an_unreachable_server_is_one_line() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(VectorStoreError) as err:
        Retriever(backend="milvus", options=IndexOptions(uri=uri, timeout=1.0))
    assert "did not answer within 1 s" in one_line(err, uri)


@pytest.mark.parametrize("uri", ["ftp://host/store.db", "s3://bucket/store.db"])
def test_a_uri_of_another_scheme_is_refused_before_connecting(uri: str) -> None:
    with pytest.raises(ConfigError) as err:
        Retriever(backend="milvus", options=IndexOptions(uri=uri))
    one_line(err, uri)


def test_a_bundle_with_a_forged_index_id_is_refused(tmp_path: Path) -> None:
    Retriever().save(tmp_path / "ix")
    meta = json.loads((tmp_path / "ix" / "meta.json").read_text())
    meta["index_id"] = "x; drop"
    (tmp_path / "ix" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"'index_id'.*32 hex digits"):
        Retriever.load(tmp_path / "ix")
