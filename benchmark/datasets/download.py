"""Fetch a file and check it by size and SHA-256 before anything parses it.

A download goes to a temporary file beside its destination and is renamed into place only once
verified, so an interrupted or altered download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from protocols.errors import InputError

log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, sha256: str, size: int | None, source: str) -> None:
    """Refuse (InputError) a file whose size or SHA-256 is not the published one."""
    found = path.stat().st_size
    if size is not None and found != size:
        raise InputError(
            f"{path} has {found:,} bytes, not the {size:,} of {source} "
            f"(incomplete or a different file): delete it and try again"
        )
    digest = sha256_of(path)
    if digest != sha256:
        raise InputError(
            f"{path} has sha256 {digest}, not {sha256} of {source} "
            f"(corrupt or a different file): delete it and try again"
        )


def download(url: str, path: Path, sha256: str, size: int | None, source: str) -> None:
    """Download `url` to `path`, verified before it is renamed into place (OSError on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, part_name = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    part = Path(part_name)
    shown = f" ({size / 1e6:.1f} MB)" if size else ""
    log.info("downloading %s%s to %s", url, shown, path)
    try:
        with open(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        verify(part, sha256, size, source)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
