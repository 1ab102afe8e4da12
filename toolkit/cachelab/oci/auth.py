"""Registry credentials from Docker's config.json, and the WWW-Authenticate challenge.

Credentials are looked up as the Docker CLI does: `$DOCKER_CONFIG/config.json`
(default `~/.docker/config.json`), first a per-registry `credHelpers` entry, then
the `credsStore` helper, then the base64 `auth` field under `auths`. A helper is
the program `docker-credential-<name>`, run with `get` and the registry on stdin.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Keys under which Docker stores docker.io credentials in `auths`.
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
HELPER_TIMEOUT = 30.0  # seconds for one credential helper call


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and secret for Basic auth or a token request."""

    username: str
    password: str = field(repr=False)

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed WWW-Authenticate header: the scheme and its parameters."""

    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str]


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> Challenge | None:
    """Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = value.replace('\\"', '"')
    return Challenge(scheme.lower(), params)


def docker_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def load_credentials(registry: str, *, config_path: Path | None = None) -> Credentials | None:
    """Find credentials for `registry` (host[:port]) in the Docker config; None when absent."""
    path = config_path or docker_config_path()
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        logger.warning("ignoring %s: not valid JSON (%s)", path, error)
        return None

    keys = _DOCKER_HUB_KEYS if registry == "docker.io" else (registry, f"https://{registry}", f"http://{registry}")
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return _run_helper(helpers[key], key)
    auths = config.get("auths") or {}
    for key in keys:
        entry = auths.get(key)
        if entry:
            found = _decode_auth_entry(entry, path, key)
            if found:
                return found
    store = config.get("credsStore")
    if store:
        return _run_helper(store, keys[0])
    return None


def _decode_auth_entry(entry: dict[str, str], path: Path, key: str) -> Credentials | None:
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"]).decode()
        except (ValueError, UnicodeDecodeError):
            logger.warning("ignoring auths[%r] in %s: 'auth' is not base64 of user:password", key, path)
            return None
        username, sep, password = decoded.partition(":")
        if sep:
            return Credentials(username, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(entry["username"], entry["password"])
    if entry.get("identitytoken"):
        # An identity token is sent as the password of the special user <token>.
        return Credentials("<token>", entry["identitytoken"])
    return None


def _run_helper(name: str, server: str) -> Credentials | None:
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        logger.warning("credential helper docker-credential-%s is not installed; using no credentials", name)
        return None
    try:
        result = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("credential helper %s failed for %s: %s", program, server, error)
        return None
    if result.returncode != 0:
        # Helpers print "credentials not found in native keychain" on a miss.
        logger.debug("credential helper %s has no credentials for %s", program, server)
        return None
    try:
        document = json.loads(result.stdout)
    except ValueError:
        logger.warning("credential helper %s printed something other than JSON", program)
        return None
    return Credentials(document.get("Username", ""), document.get("Secret", ""))
