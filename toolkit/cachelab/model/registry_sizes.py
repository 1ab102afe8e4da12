"""Read an image's compressed size from its registry (used only by `refresh_catalog`).

Anonymous pulls only: a 401 with a Bearer challenge is answered with a token from
the challenge's realm, as registries that serve public images expect.
"""

from __future__ import annotations

import re

import httpx

from cachelab.model.errors import CatalogError

_ACCEPT = (
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)
_CHALLENGE_FIELD = re.compile(r'(\w+)="([^"]*)"')


def compressed_size(repository: str, tag: str, *, platform: str, timeout_s: float) -> int:
    """Return the summed layer sizes of `repository:tag` for `platform`."""
    host, name = _split(repository)
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
        manifest = _get_manifest(client, host, name, tag)
        if "manifests" in manifest:
            digest = _pick_platform(manifest, platform, f"{repository}:{tag}")
            manifest = _get_manifest(client, host, name, digest)
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise CatalogError(f"manifest of {repository}:{tag} has no layers list")
    return sum(int(layer.get("size", 0)) for layer in layers)


def _split(repository: str) -> tuple[str, str]:
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first):
        return first, rest
    return "registry-1.docker.io", repository


def _get_manifest(client: httpx.Client, host: str, name: str, reference: str) -> dict:  # type: ignore[type-arg]
    url = f"https://{host}/v2/{name}/manifests/{reference}"
    headers = {"Accept": _ACCEPT}
    response = client.get(url, headers=headers)
    if response.status_code == 401:
        headers["Authorization"] = f"Bearer {_token(client, response)}"
        response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise CatalogError(f"GET {url} returned HTTP {response.status_code}")
    return response.json()  # type: ignore[no-any-return]


def _token(client: httpx.Client, response: httpx.Response) -> str:
    challenge = response.headers.get("WWW-Authenticate", "")
    if not challenge.lower().startswith("bearer "):
        raise CatalogError(f"{response.request.url} needs credentials (challenge {challenge!r})")
    fields = dict(_CHALLENGE_FIELD.findall(challenge))
    realm = fields.pop("realm", None)
    if realm is None:
        raise CatalogError(f"{response.request.url}: Bearer challenge without a realm")
    token_response = client.get(realm, params=fields)
    if token_response.status_code != 200:
        raise CatalogError(f"token request to {realm} returned HTTP {token_response.status_code}")
    body = token_response.json()
    return str(body.get("token") or body.get("access_token") or "")


def _pick_platform(index: dict, platform: str, name: str) -> str:  # type: ignore[type-arg]
    os_name, _, architecture = platform.partition("/")
    for entry in index.get("manifests", []):
        wanted = entry.get("platform") or {}
        if wanted.get("os") == os_name and wanted.get("architecture") == architecture:
            return str(entry["digest"])
    raise CatalogError(f"index of {name} has no {platform} manifest")
