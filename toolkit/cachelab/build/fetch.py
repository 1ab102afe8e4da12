"""ADD of a URL: stream the download to a file, verifying `--checksum` on the way.

`--checksum` takes `sha256:<hex>`, `sha384:<hex>` or `sha512:<hex>`, as BuildKit
accepts. Like Docker, the file's modification time comes from the response's
`Last-Modified` header when there is one.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import posixpath
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachelab.build.errors import ChecksumMismatch, CopyError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

CHECKSUM_ALGORITHMS = ("sha256", "sha384", "sha512")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Download:
    """A downloaded file: where it is, its digest, size and modification time."""

    path: str
    digest: str  # "<algorithm>:<hex>"
    size: int
    mtime: float | None  # from Last-Modified, seconds since the epoch
    filename: str  # the last component of the URL path


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def url_filename(url: str) -> str:
    """Return the last component of the URL path, as Docker names ADD'ed files."""
    path = urllib.parse.urlsplit(url).path
    name = posixpath.basename(path.rstrip("/"))
    if not name:
        raise CopyError(
            f"cannot derive a file name from URL {url}",
            hint="Give a destination file name instead of a directory.",
        )
    return urllib.parse.unquote(name)


def _parse_checksum(checksum: str, line: int | None) -> tuple[str, str]:
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in CHECKSUM_ALGORITHMS or not expected:
        raise CopyError(
            f"invalid --checksum {checksum!r}",
            line=line,
            hint="Use --checksum=sha256:<64 hex digits> (sha384 and sha512 also work).",
        )
    return algorithm, expected.lower()


def download(
    url: str,
    dest: str,
    *,
    checksum: str | None = None,
    client: httpx.Client | None = None,
    line: int | None = None,
) -> Download:
    """Download `url` to the file `dest`; raise `ChecksumMismatch` on a wrong digest.

    The file is removed again when the download fails or does not match.
    """
    # Imported here so that builds without `ADD <url>` never load httpx.
    import httpx

    algorithm, expected = _parse_checksum(checksum, line) if checksum else ("sha256", None)
    hasher = hashlib.new(algorithm)
    owned_client = client is None
    session = client or httpx.Client(follow_redirects=True, timeout=60.0)
    size = 0
    try:
        with session.stream("GET", url) as response:
            if response.status_code != 200:
                raise CopyError(
                    f"download of {url} failed: HTTP {response.status_code}",
                    line=line,
                    hint="Check that the URL is right and reachable from the build host.",
                )
            last_modified = response.headers.get("last-modified")
            with open(dest, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
    except httpx.HTTPError as exc:
        _remove(dest)
        raise CopyError(
            f"download of {url} failed: {exc}",
            line=line,
            hint="Check that the URL is right and reachable from the build host.",
        ) from exc
    except CopyError:
        _remove(dest)
        raise
    finally:
        if owned_client:
            session.close()

    actual = hasher.hexdigest()
    if expected is not None and actual != expected:
        _remove(dest)
        raise ChecksumMismatch(
            f"checksum mismatch for {url}: expected {algorithm}:{expected}, "
            f"got {algorithm}:{actual}",
            line=line,
        )
    logger.info("downloaded %s (%d bytes, %s:%s)", url, size, algorithm, actual)
    return Download(dest, f"{algorithm}:{actual}", size, _http_time(last_modified), url_filename(url))


def _http_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
