"""The allocator setting for large training tensors: on where glibc allows it, off on request."""

import sys

import pytest

from seqmodels import memory


@pytest.fixture(autouse=True)
def fresh():
    memory.reuse_freed_memory.cache_clear()
    yield
    memory.reuse_freed_memory.cache_clear()


def test_off_on_request(monkeypatch):
    monkeypatch.setenv("SEQREC_MALLOC", "system")
    assert memory.reuse_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_on_under_glibc(monkeypatch):
    monkeypatch.delenv("SEQREC_MALLOC", raising=False)
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert memory.reuse_freed_memory() is True
