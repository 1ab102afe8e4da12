"""Errors of the OCI layer.

Hierarchy::

    OCIError                      base; every error carries `hint`
    ├── InvalidReference          a reference string that does not parse
    ├── RegistryError             an HTTP exchange with a registry failed
    │   ├── BlobNotFound          404 on a blob
    │   ├── ManifestNotFound      404 on a manifest or tag
    │   ├── Unauthorized          401 or 403, after any credentials were tried
    │   └── RegistryUnavailable   connection refused, DNS failure or timeout
    ├── DigestMismatch            bytes do not hash to the digest that names them
    ├── InvalidManifest           a manifest, index or config that is not a valid document
    ├── UnsafeLayerError          a layer entry would escape the extraction root
    ├── InvalidLayerError         a layer blob does not decompress or is not a tar stream
    └── LayoutError               an OCI image layout directory is missing or invalid
"""

from __future__ import annotations

import json
from collections.abc import Sequence

# A registry error body is read at most this far; larger bodies are not JSON errors.
MAX_ERROR_BODY = 64 * 1024
# At most this many OCI error codes are kept from one body.
MAX_ERROR_CODES = 8


class OCIError(Exception):
    """Base of the OCI layer's errors.

    `hint` is one sentence telling the user what to do next, or None.
    """

    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint if hint is not None else self.default_hint


class InvalidReference(OCIError):
    """A string that is not an image reference."""

    default_hint = (
        "Write a reference as host[:port]/repository[:tag][@sha256:<hex>] "
        "or oci:DIR:TAG / oci:DIR@sha256:<hex>."
    )

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"invalid reference {reference!r}: {reason}")
        self.reference = reference
        self.reason = reason


class RegistryError(OCIError):
    """A registry request failed.

    Carries the reference, the operation ("fetching manifest"), the HTTP method,
    the URL without credentials or query secrets, the status (None when no response
    arrived), the OCI error codes of the body, and whether a retry can help.
    """

    default_hint = "Check the reference and the registry's logs."

    def __init__(
        self,
        message: str | None = None,
        *,
        reference: str = "",
        operation: str = "",
        method: str = "",
        url: str = "",
        status: int | None = None,
        codes: Sequence[str] = (),
        detail: str = "",
        hint: str | None = None,
    ) -> None:
        self.reference = reference
        self.operation = operation
        self.method = method
        self.url = url
        self.status = status
        self.codes = tuple(codes)[:MAX_ERROR_CODES]
        self.detail = detail
        if message is None:
            message = self._format()
        super().__init__(message, hint=hint)

    def _format(self) -> str:
        message = f"{self.operation or 'request'} {self.reference or self.url} failed"
        if self.status is not None:
            message += f" with HTTP {self.status}"
        if self.method:
            message += f" ({self.method} {self.url})"
        if self.codes:
            message += ": " + ", ".join(self.codes)
        if self.detail:
            message += f": {self.detail}"
        return message

    @property
    def retryable(self) -> bool:
        """True when repeating the same request may succeed (429, 5xx, no response)."""
        if self.status is None:
            return True
        return self.status == 429 or 500 <= self.status < 600


class BlobNotFound(RegistryError):
    """The registry has no blob with that digest in the repository."""

    default_hint = "Push the blob first, or check that the digest belongs to this repository."


class ManifestNotFound(RegistryError):
    """The registry has no manifest for that tag or digest."""

    default_hint = "Check the tag or digest; list the repository's tags to see what exists."


class Unauthorized(RegistryError):
    """The registry rejected the request's credentials, or none were found."""

    default_hint = (
        "Log in to the registry (credentials are read from $DOCKER_CONFIG/config.json) "
        "or check the repository's access rights."
    )


class RegistryUnavailable(RegistryError):
    """No HTTP response: connection refused, name resolution failed, or timed out."""

    default_hint = "Start the registry or fix the host and port in the reference, then retry."

    def _format(self) -> str:
        message = self.detail or "registry unreachable"
        message += f" during {self.operation or 'a request'} for {self.reference or self.url}"
        if self.method:
            message += f" ({self.method} {self.url})"
        return message

    @property
    def retryable(self) -> bool:
        return True


class DigestMismatch(OCIError):
    """Content whose sha256 differs from the digest that names it."""

    default_hint = "The blob is corrupted or was replaced; delete it and fetch or push it again."

    def __init__(self, expected: str, actual: str, *, where: str) -> None:
        super().__init__(f"digest mismatch for {where}: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual
        self.where = where


class InvalidManifest(OCIError):
    """A manifest, index or image config whose bytes are not the JSON document they claim to be."""

    default_hint = (
        "The registry or store returned a broken document; push or import the image again, "
        "or check the registry's storage."
    )

    def __init__(self, reference: str, digest: str | None, reason: str, *, kind: str = "manifest") -> None:
        where = f"{kind} of {reference}" + (f" ({digest})" if digest else "")
        super().__init__(f"invalid {where}: {reason}")
        self.reference = reference
        self.digest = digest
        self.kind = kind
        self.reason = reason


class UnsafeLayerError(OCIError):
    """A layer entry that extraction rejected; nothing was written outside the root."""

    default_hint = "Do not use this layer; rebuild it from trusted content."

    def __init__(self, layer_digest: str, entry: str, reason: str, *, image: str | None = None) -> None:
        of_image = f" of image {image}" if image else ""
        super().__init__(f"unsafe entry {entry!r} in layer {layer_digest}{of_image}: {reason}")
        self.layer_digest = layer_digest
        self.entry = entry
        self.reason = reason
        self.image = image

    def with_image(self, image: str) -> UnsafeLayerError:
        """Return a copy of this error that also names the image the layer belongs to."""
        return UnsafeLayerError(self.layer_digest, self.entry, self.reason, image=image)


class InvalidLayerError(OCIError):
    """A layer blob that is not a valid tar stream, plain or compressed."""

    default_hint = "The blob is damaged or is not a layer; fetch or build it again."

    def __init__(self, layer_digest: str, reason: str, *, image: str | None = None) -> None:
        of_image = f" of image {image}" if image else ""
        super().__init__(f"layer {layer_digest}{of_image} is not a valid tar stream: {reason}")
        self.layer_digest = layer_digest
        self.reason = reason
        self.image = image


class LayoutError(OCIError):
    """An OCI image layout directory that is missing, malformed or inconsistent."""

    default_hint = "Run `cachelab store check DIR` to list the problems, or delete the store."


def parse_error_codes(body: bytes) -> tuple[list[str], str]:
    """Return the OCI error codes and the first message from a registry error body.

    Distribution error bodies look like {"errors": [{"code": ..., "message": ...}]};
    anything else yields no codes.
    """
    try:
        document = json.loads(body[:MAX_ERROR_BODY])
    except (ValueError, UnicodeDecodeError):
        return [], ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return [], ""
    codes: list[str] = []
    message = ""
    for item in errors[:MAX_ERROR_CODES]:
        if not isinstance(item, dict):
            continue
        codes.append(str(item.get("code", "UNKNOWN")))
        if not message and item.get("message"):
            message = str(item["message"])[:200]
    return codes, message
