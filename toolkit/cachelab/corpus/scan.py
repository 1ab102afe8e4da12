"""Static features of Dockerfiles, one flat row per file, for corpus statistics.

Nothing is built or pulled: each file is parsed and its stage graph planned for
the default target (the last stage), with meta ARG defaults, no build
arguments and linux/amd64 as the platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields

from cachelab.corpus.manifest import CorpusEntry
from cachelab.dockerfile import (
    Dockerfile,
    DockerfileError,
    StageGraph,
    parse_dockerfile,
    plan_stages,
)

logger = logging.getLogger(__name__)

SCAN_PLATFORM = "linux/amd64"
_REMOTE_PREFIXES = ("http://", "https://", "git@", "git://")


@dataclass(slots=True)
class ScanRow:
    """The features of one Dockerfile; counts are zero when parsing failed.

    Base columns count stages by base kind after meta ARG expansion: `scratch`,
    another `stage`, or an external image pinned by `digest`, by a non-latest
    `tag`, or on `latest` (written or implied). `graph_error` is set when the
    file parses but its stage graph cannot be planned, typically a `FROM $BASE`
    that needs a build argument.
    """

    id: str
    repo: str | None = None
    path: str | None = None
    sha256: str | None = None
    bytes: int = 0
    manifest_stages: int | None = None
    parsed: bool = False
    error: str | None = None
    error_line: int | None = None
    graph_error: str | None = None
    instructions: int = 0
    stages: int = 0
    named_stages: int = 0
    multistage: bool = False
    live_stages: int = 0
    built_stages: int = 0
    from_chain_length: int = 0
    copy_from_stage: int = 0
    copy_from_image: int = 0
    mount_from: int = 0
    base_scratch: int = 0
    base_stage: int = 0
    base_digest: int = 0
    base_tag: int = 0
    base_latest: int = 0
    remote_add: int = 0
    remote_add_checksum: int = 0
    run_mount_cache: int = 0
    run_mount_other: int = 0
    heredocs: int = 0
    onbuild: int = 0
    escape_backtick: bool = False


COLUMNS = tuple(field.name for field in fields(ScanRow))


def scan_text(text: str, *, entry: CorpusEntry | None = None, path: str = "Dockerfile") -> ScanRow:
    """Parse one Dockerfile's text and return its features."""
    row = ScanRow(id=entry.id if entry else path)
    if entry is not None:
        row.repo, row.path, row.sha256 = entry.repo, entry.path, entry.sha256
        row.manifest_stages = entry.stages
    row.bytes = len(text.encode("utf-8"))

    try:
        dockerfile = parse_dockerfile(text, path)
    except DockerfileError as exc:
        row.error = exc.message
        row.error_line = exc.line
        return row
    row.parsed = True
    _count_instructions(row, dockerfile)

    try:
        graph = plan_stages(dockerfile, platform=SCAN_PLATFORM)
    except DockerfileError as exc:
        row.graph_error = str(exc)
        return row
    _count_graph(row, graph)
    return row


def _count_instructions(row: ScanRow, dockerfile: Dockerfile) -> None:
    row.stages = len(dockerfile.stages)
    row.multistage = row.stages > 1
    row.named_stages = sum(1 for stage in dockerfile.stages if stage.name)
    row.escape_backtick = dockerfile.escape == "`"

    for stage in dockerfile.stages:
        row.instructions += 1 + len(stage.instructions)
        for instruction in stage.instructions:
            row.heredocs += len(instruction.heredocs)
            kind = instruction.kind
            if kind == "ONBUILD":
                row.onbuild += 1
            elif kind == "ADD" and _is_remote_add(instruction.args):
                row.remote_add += 1
                if instruction.flag("checksum") is not None:
                    row.remote_add_checksum += 1
            for mount in instruction.mounts:
                if mount.type == "cache":
                    row.run_mount_cache += 1
                else:
                    row.run_mount_other += 1
    row.instructions += len(dockerfile.meta_args)


def _is_remote_add(args: tuple[str, ...]) -> bool:
    # Every argument but the last is a source.
    return any(source.startswith(_REMOTE_PREFIXES) for source in args[:-1])


def _count_graph(row: ScanRow, graph: StageGraph) -> None:
    row.live_stages = sum(1 for stage in graph.stages if stage.live)
    row.built_stages = len(graph.built)

    chain: dict[int, int] = {}
    for stage in graph.stages:
        if stage.base_kind == "scratch":
            row.base_scratch += 1
        elif stage.base_kind == "stage":
            row.base_stage += 1
        else:
            pin = reference_pin(stage.base_image or "")
            if pin == "digest":
                row.base_digest += 1
            elif pin == "tag":
                row.base_tag += 1
            else:
                row.base_latest += 1

        base_stage = stage.base_stage
        chain[stage.index] = 1 + (chain[base_stage] if base_stage is not None else 0)
        for source in stage.sources:
            if source.kind == "mount":
                row.mount_from += 1
            elif source.stage is not None:
                row.copy_from_stage += 1
            else:
                row.copy_from_image += 1
    row.from_chain_length = max(chain.values(), default=0)


def reference_pin(reference: str) -> str:
    """Classify an image reference as pinned by `digest`, by a `tag`, or on `latest`."""
    if "@" in reference:
        return "digest"
    last_component = reference.rsplit("/", 1)[-1]
    _, has_tag, tag = last_component.partition(":")
    if has_tag and tag and tag != "latest":
        return "tag"
    return "latest"


def scan_entries(
    entries: Iterable[CorpusEntry], *, on_row: Callable[[ScanRow], None] | None = None
) -> Iterator[ScanRow]:
    """Scan each corpus entry, reading files one at a time.

    Undecodable files are rows with `error` set; OSError from reading passes through.
    """
    for entry in entries:
        data = entry.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            row = ScanRow(id=entry.id, repo=entry.repo, path=entry.path, sha256=entry.sha256)
            row.bytes = len(data)
            row.error = f"not valid UTF-8 at byte offset {exc.start}"
            logger.info("%s: %s", entry.id, row.error)
        else:
            # The id names the file in errors and warnings; a path such as
            # `Dockerfile` is shared by many files of a corpus.
            row = scan_text(text, entry=entry, path=entry.id)
        if on_row is not None:
            on_row(row)
        yield row


def row_as_dict(row: ScanRow) -> dict[str, object]:
    """Return the row as a plain dict, keys in column order."""
    return asdict(row)
