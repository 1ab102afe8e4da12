"""Run `buildah bud --layers` on a Dockerfile and record the build.

buildah keeps its images and layer cache in its own storage. `BuildahSetup`
points every call at a `--root` and `--runroot` of the caller's choice, so a
recording never touches the machine's default storage, and uses the vfs driver
with chroot isolation, which need neither overlay support nor a container
runtime. Wall time is measured around the process; each step lasts from its
`STEP` line to the next one, as the output arrives.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cachelab.ingest.buildah_output import TimedLine, buildah_events, parse_buildah_output
from cachelab.ingest.errors import EngineRunError
from cachelab.ingest.recording import recording_from_events
from cachelab.record import Recording

logger = logging.getLogger(__name__)

# Lines of failed output kept in the error column.
ERROR_TAIL_LINES = 5


@dataclass(frozen=True)
class BuildahSetup:
    """Storage locations and RUN isolation for every buildah call."""

    root: Path
    runroot: Path
    storage_driver: str = "vfs"
    isolation: str = "chroot"
    executable: str = "buildah"

    def command(self, *arguments: str) -> list[str]:
        executable = shutil.which(self.executable)
        if executable is None:
            raise EngineRunError(
                f"{self.executable} not found on PATH",
                hint="Install buildah, e.g. `apt-get install buildah` on Debian.",
            )
        return [
            executable, "--root", str(self.root), "--runroot", str(self.runroot),
            "--storage-driver", self.storage_driver, *arguments,
        ]

    def run(self, *arguments: str) -> str:
        """Run one buildah command and return its stdout, or raise `EngineRunError` if it fails."""
        command = self.command(*arguments)
        result = subprocess.run(command, check=False, capture_output=True, text=True, env=_environment())
        if result.returncode != 0:
            raise EngineRunError(
                f"buildah {arguments[0]} failed with exit status {result.returncode}: {result.stderr.strip()}",
                hint="Read buildah's message above; run the command with --log-level=debug for more.",
            )
        return result.stdout

    def version(self) -> str:
        """Return buildah's version number, e.g. `1.28.2`."""
        words = self.run("--version").split()
        return words[2] if len(words) > 2 else "unknown"

    def pull_layout(self, layout_reference: str, name: str) -> str:
        """Copy an `oci:DIR:TAG` image into buildah's storage as `name` and return its image id."""
        image_id = self.run("pull", "--quiet", layout_reference).strip().splitlines()[-1]
        self.run("tag", image_id, name)
        logger.info("pulled %s into buildah storage as %s (%s)", layout_reference, name, image_id)
        return image_id


def _environment() -> dict[str, str]:
    # buildah reads BUILDAH_* variables that would override the options passed here.
    return {key: value for key, value in os.environ.items() if not key.startswith("BUILDAH_")}


def run_buildah_build(
    dockerfile: str | Path,
    context: str | Path,
    *,
    setup: BuildahSetup,
    tag: str | None = None,
    cache_repository: str | None = None,
    tls_verify: bool = True,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    extra_arguments: Sequence[str] = (),
    build_id: str | None = None,
    run_id: str = "ingest",
    scenario: str | None = None,
    step: int | None = None,
    repeat: int | None = None,
) -> Recording:
    """Build `dockerfile` with `buildah bud --layers` and return the build's tables.

    With `cache_repository`, layers are also pushed to and looked up in that
    repository (`--cache-to`, `--cache-from`). A failed build is recorded with
    outcome `error` and the last lines of its output; it does not raise.
    """
    arguments = ["bud", "--layers", "--isolation", setup.isolation, "--pull=never", "-f", str(dockerfile)]
    if tag:
        arguments += ["-t", tag]
    if cache_repository:
        arguments += ["--cache-to", cache_repository, "--cache-from", cache_repository]
    if not tls_verify:
        arguments.append("--tls-verify=false")
    for name, value in (build_args or {}).items():
        arguments += ["--build-arg", f"{name}={value}"]
    if target:
        arguments += ["--target", target]
    arguments += [*extra_arguments, str(context)]

    version = setup.version()
    command = setup.command(*arguments)
    logger.info("running %s", " ".join(command))
    started_at = datetime.now(UTC)
    origin = time.perf_counter()
    lines: list[TimedLine] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_environment()
    ) as process:
        assert process.stdout is not None
        for text in process.stdout:
            lines.append(TimedLine(time.perf_counter() - origin, text))
            logger.debug("buildah: %s", text.rstrip())
    wall_s = time.perf_counter() - origin

    error = None
    if process.returncode != 0:
        tail = " | ".join(line.text.strip() for line in lines[-ERROR_TAIL_LINES:])
        error = f"buildah bud exited with status {process.returncode}: {tail}"
        logger.warning("%s", error)
    build = parse_buildah_output(lines, end_s=wall_s)
    events = buildah_events(
        build, build_id=build_id or f"buildah-{uuid.uuid4().hex[:16]}", run_id=run_id, engine_version=version,
        dockerfile_id=str(dockerfile), started_at=started_at, wall_s=wall_s, error=error, target=target,
        scenario=scenario, step=step, repeat=repeat,
    )
    return recording_from_events(events)
