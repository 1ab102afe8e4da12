"""Image references: registry references with Docker's defaults, and `oci:` layout ones.

A registry reference is `[host[:port]/]repository[:tag][@sha256:<hex>]`. As in the
Docker CLI, the first path component is a host only when it contains a `.` or a `:`
or is `localhost`; otherwise the registry is docker.io, and a one-component
repository there gets the `library/` prefix. A reference without tag or digest
means the tag `latest`.

A layout reference `oci:DIR:TAG` or `oci:DIR@sha256:<hex>` names an image in the
OCI image layout directory DIR; `oci:DIR` alone means the tag `latest`. A TAG is
any `org.opencontainers.image.ref.name`, so it may contain `:` and `/`, as in
`oci:DIR:docker.io/library/busybox:latest`. DIR is then the longest prefix of
the text that is an existing directory and is followed by `:`. When no such
directory exists yet (an image about to be written to a new store), the TAG is
the text after the last `:` and may not contain `/`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cachelab.oci.errors import InvalidReference

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# docker.io's API is served from this host.
DOCKER_HUB_API_HOST = "registry-1.docker.io"

_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
# org.opencontainers.image.ref.name, as the OCI image layout specification defines it.
_REF_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME = re.compile(rf"^{_REF_COMPONENT}(?:/{_REF_COMPONENT})*$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed registry reference; `tag` is None only when `digest` is set."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def identifier(self) -> str:
        """The digest when present, else the tag: what the manifest URL names."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API_HOST if self.registry == DEFAULT_REGISTRY else self.registry

    def with_identifier(self, *, tag: str | None = None, digest: str | None = None) -> Reference:
        return Reference(self.registry, self.repository, tag, digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True, slots=True)
class LayoutReference:
    """An image in an OCI image layout directory: `oci:DIR:TAG` or `oci:DIR@digest`."""

    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def identifier(self) -> str:
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        if self.digest:
            return f"oci:{self.path}@{self.digest}"
        return f"oci:{self.path}:{self.tag or DEFAULT_TAG}"


def parse_reference(text: str) -> Reference | LayoutReference:
    """Parse a registry reference or an `oci:` layout reference."""
    if text.startswith("oci:"):
        return parse_layout_reference(text)
    return parse_registry_reference(text)


def parse_layout_reference(text: str) -> LayoutReference:
    """Parse `oci:DIR`, `oci:DIR:TAG` or `oci:DIR@sha256:<hex>`; see the module docstring for where DIR ends."""
    if not text.startswith("oci:"):
        raise InvalidReference(text, "a layout reference starts with 'oci:'")
    rest = text[len("oci:"):]
    digest = None
    tag = None
    _, at, candidate = rest.rpartition("@")
    if not (at and _DIGEST.match(candidate)):
        existing = _split_at_existing_directory(text, rest)
        if existing is not None:
            return existing
    if "@" in rest:
        rest, digest = rest.rsplit("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(text, f"digest {digest!r} is not sha256:<64 hex>")
    else:
        # The tag is after the last ':' unless that ':' belongs to a path component.
        head, sep, candidate = rest.rpartition(":")
        if sep and "/" not in candidate and head:
            if not _TAG.match(candidate):
                raise InvalidReference(text, f"tag {candidate!r} is not a valid tag")
            rest, tag = head, candidate
        else:
            tag = DEFAULT_TAG
    if not rest:
        raise InvalidReference(text, "the layout directory is empty")
    return LayoutReference(rest, tag, digest)


def _split_at_existing_directory(text: str, rest: str) -> LayoutReference | None:
    """Split `rest` into DIR and TAG where DIR is the longest existing directory; None when there is none."""
    if os.path.isdir(rest):
        return LayoutReference(rest, DEFAULT_TAG)
    split = None
    for position, character in enumerate(rest):
        if character == ":" and position > 0 and os.path.isdir(rest[:position]):
            split = position
    if split is None:
        return None
    tag = rest[split + 1:]
    if not (_TAG.match(tag) or _REF_NAME.match(tag)):
        raise InvalidReference(text, f"tag {tag!r} of layout {rest[:split]} is not a valid tag or ref.name")
    return LayoutReference(rest[:split], tag)


def parse_registry_reference(text: str) -> Reference:
    """Parse `[host[:port]/]repository[:tag][@digest]` with Docker's defaults."""
    if not text or text != text.strip():
        raise InvalidReference(text, "empty or surrounded by whitespace")
    remainder = text
    digest = None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(text, f"digest {digest!r} is not sha256:<64 hex>")

    tag = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(text, f"tag {tag!r} is not a valid tag")

    registry, repository = _split_registry(remainder)
    if not repository:
        raise InvalidReference(text, "the repository is empty")
    for component in repository.split("/"):
        if not _COMPONENT.match(component):
            raise InvalidReference(
                text, f"repository component {component!r} must be lower-case letters, "
                "digits and separators"
            )
    if not _HOST.match(registry):
        raise InvalidReference(text, f"registry host {registry!r} is not a host[:port]")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, repository, tag, digest)


def names_registry_host(component: str) -> bool:
    """Return whether the first path component of a name is a registry host, as Docker reads it.

    It is a host when it contains a `.` or a `:` or is `localhost`. The caller
    checks that a `/` and a repository follow it, because `busybox.io` alone is
    a repository name on docker.io.
    """
    return "." in component or ":" in component or component == "localhost"


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and names_registry_host(first):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    return registry, repository


def is_loopback(registry: str) -> bool:
    """Return whether a host[:port] is on the loopback interface."""
    import ipaddress  # imported here because only registry access calls this

    host = urlsplit(f"//{registry}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
