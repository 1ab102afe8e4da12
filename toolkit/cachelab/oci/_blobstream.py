"""A blob download stream that verifies the digest and resumes dropped connections."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterator

import httpx

from cachelab.oci.errors import DigestMismatch, RegistryUnavailable
from cachelab.oci.transfer import TransferStats

logger = logging.getLogger(__name__)



class BlobStream(io.RawIOBase):
    """A readable stream over a blob GET, hashed as it is read.

    Reaching the end raises `DigestMismatch` when the bytes do not hash to
    `digest` or their count differs from `size`. A transport error mid-stream
    re-requests the rest with `Range: bytes=<offset>-`; a server that responds 200
    instead of 206 is read again from the start, with the bytes already seen
    skipped.
    """

    def __init__(
        self,
        fetch: Callable[[int], httpx.Response],
        *,
        digest: str,
        size: int | None,
        where: str,
        stats: TransferStats,
        max_resumes: int,
    ) -> None:
        self._fetch = fetch
        self._digest = digest
        self._size = size
        self._where = where
        self._stats = stats
        self._max_resumes = max_resumes
        self._resumes = 0
        self._hash = hashlib.sha256()
        self._offset = 0
        self._buffer = b""
        self._done = False
        self._response = fetch(0)
        self._chunks = self._iterate(self._response, skip=0)

    def readable(self) -> bool:
        return True

    def _iterate(self, response: httpx.Response, *, skip: int) -> Iterator[bytes]:
        for chunk in response.iter_bytes():
            if skip:
                dropped = min(skip, len(chunk))
                chunk = chunk[dropped:]
                skip -= dropped
            if chunk:
                yield chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if not self._buffer and not self._done:
            self._buffer = self._next_chunk()
        count = min(len(view), len(self._buffer))
        view[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count

    def _next_chunk(self) -> bytes:
        while True:
            try:
                chunk = next(self._chunks, b"")
            except httpx.TransportError as error:
                self._resume(error)
                continue
            if not chunk:
                self._finish()
                return b""
            self._hash.update(chunk)
            self._offset += len(chunk)
            self._stats.record("blob GET", received=len(chunk))
            return chunk

    def _resume(self, error: httpx.TransportError) -> None:
        self._response.close()
        if self._resumes >= self._max_resumes:
            raise RegistryUnavailable(
                reference=self._where, operation="downloading", method="GET",
                detail=f"connection lost at byte {self._offset} after {self._resumes} resumptions: {error}",
            ) from error
        self._resumes += 1
        logger.warning("resuming %s at byte %d after %s", self._where, self._offset, error)
        self._response = self._fetch(self._offset)
        skip = self._offset if self._response.status_code == 200 else 0
        self._chunks = self._iterate(self._response, skip=skip)

    def _finish(self) -> None:
        self._done = True
        self._response.close()
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise DigestMismatch(self._digest, actual, where=self._where)
        if self._size is not None and self._offset != self._size:
            raise DigestMismatch(self._digest, f"{actual} ({self._offset} bytes, expected {self._size})",
                                 where=self._where)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()
