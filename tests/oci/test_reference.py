from __future__ import annotations

import pytest

from cachelab.oci.errors import InvalidReference
from cachelab.oci.reference import LayoutReference, Reference, parse_reference

DIGEST = "sha256:" + "a" * 64

VALID = [
    ("busybox", Reference("docker.io", "library/busybox", "latest")),
    ("busybox:1.36", Reference("docker.io", "library/busybox", "1.36")),
    ("user/app", Reference("docker.io", "user/app", "latest")),
    ("index.docker.io/library/alpine:3", Reference("docker.io", "library/alpine", "3")),
    ("ghcr.io/org/app/sub:v1", Reference("ghcr.io", "org/app/sub", "v1")),
    ("localhost/app", Reference("localhost", "app", "latest")),
    ("127.0.0.1:5000/a/b:t", Reference("127.0.0.1:5000", "a/b", "t")),
    (f"127.0.0.1:5000/a@{DIGEST}", Reference("127.0.0.1:5000", "a", None, DIGEST)),
    (f"app:1@{DIGEST}", Reference("docker.io", "library/app", "1", DIGEST)),
    ("[::1]:5000/r", Reference("[::1]:5000", "r", "latest")),
    ("oci:/var/cache/store:busybox", LayoutReference("/var/cache/store", "busybox")),
    ("oci:store", LayoutReference("store", "latest")),
    (f"oci:./store@{DIGEST}", LayoutReference("./store", None, DIGEST)),
    ("oci:/a:b/c", LayoutReference("/a:b/c", "latest")),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_parse_valid(text: str, expected: object) -> None:
    assert parse_reference(text) == expected


INVALID = [
    "",
    " busybox",
    "Busybox",
    "repo:bad tag",
    "repo@sha256:short",
    "host:5000/",
    "a//b",
    "oci:",
    "oci:dir@md5:abc",
]


@pytest.mark.parametrize("text", INVALID)
def test_parse_invalid_raises(text: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert repr(text) in str(caught.value)
    assert caught.value.hint


def test_reference_str_round_trip() -> None:
    text = f"127.0.0.1:5000/a/b:t@{DIGEST}"
    parsed = parse_reference(text)
    assert str(parsed) == text
    assert parsed.identifier == DIGEST


def test_docker_hub_api_host() -> None:
    assert Reference("docker.io", "library/busybox", "latest").api_host == "registry-1.docker.io"
