"""The key parts one instruction appends to its stage's composite key.

In order (kaniko's `populateCompositeKey`, osscontainertools fork, commit 6bcc934):

1. RUN only, when the replacement environment is not empty: `|N`, then the N
   sorted `K=V` entries, each its own part;
2. the instruction part: the raw instruction text, or with
   `FF_KANIKO_RESOLVE_CACHE_KEY` a derived string for RUN, COPY, ADD and WORKDIR
   (see `derived_text`);
3. one part per file input (COPY/ADD sources, RUN bind-mount sources) that
   `.dockerignore` does not remove, or, on the cross-stage inference path, the
   source stage's final key, which the planner appends as an `inferred` part.

MAINTAINER contributes nothing at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.lexer import ShellLexer, expand_word, resolve_variables
from cachelab.dockerfile.model import Instruction
from cachelab.keys import gopath
from cachelab.keys.buildargs import StageEnv, lexer_env
from cachelab.keys.dockerignore import DockerIgnore, FileContext
from cachelab.keys.errors import SourceNotFoundError
from cachelab.keys.filehash import HashStats, PathPart, add_path, walk_dir
from cachelab.keys.flags import KanikoOptions

logger = logging.getLogger(__name__)

PartKind = Literal["env-count", "env", "instruction", "file", "inferred"]

#: What hashing does with a file input that does not exist: `raise` (kaniko fails the
#: build) or `placeholder` (a stand-in part, for studying Dockerfiles without their
#: context, see `placeholder_part`).
MissingSourcePolicy = Literal["raise", "placeholder"]

#: The path kaniko saves a stage's files under for later `COPY --from`.
KANIKO_DEPS_DIR = "/kaniko/deps"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+")


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One part of a composite key and what it represents.

    `path` is the source path kaniko uses, for file parts; `file` keeps the
    hashed entries so an explanation can name what changed.
    """

    kind: PartKind
    value: str
    path: str | None = None
    file: PathPart | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class KeyParts:
    """The parts of one instruction, in the order they enter the key."""

    instruction: Instruction
    parts: tuple[KeyPart, ...]
    replacement_envs: tuple[str, ...] = ()
    files_hashed: int = 0
    bytes_hashed: int = 0

    @property
    def values(self) -> list[str]:
        return [part.value for part in self.parts]

    def with_inferred(self, value: str) -> KeyParts:
        """Return these parts plus the cross-stage shortcut part (a stage key or image digest)."""
        return KeyParts(
            self.instruction,
            (*self.parts, KeyPart("inferred", value)),
            self.replacement_envs,
            self.files_hashed,
            self.bytes_hashed,
        )


@dataclass(frozen=True, slots=True)
class SourceRoot:
    """The location of a `COPY --from` source stage's files: read `real`, hash under `virtual`.

    `virtual` is the path kaniko would use, `/kaniko/deps/<stage index>` or
    `/kaniko/deps/<image reference>`.
    """

    real: str
    virtual: str

    @classmethod
    def for_stage(cls, real: str, stage_index: int | str) -> SourceRoot:
        return cls(real, f"{KANIKO_DEPS_DIR}/{stage_index}")


def frame(text: str) -> str:
    """Return `"<UTF-8 byte length>:<text>"`, kaniko's length framing."""
    return f"{len(text.encode('utf-8', 'surrogateescape'))}:{text}"


def placeholder_part(key_path: str) -> str:
    """Return the stand-in part of a missing source under the `placeholder` policy.

    It is the SHA-256 of `cachelab-missing-source:<key path>`, so it is stable
    across builds and differs per path: it stands for unchanged content, never
    for a real file hash. Callers pass context paths relative to the context
    root (see `placeholder_path`), so keys do not depend on where the context is.
    """
    return hashlib.sha256(f"cachelab-missing-source:{key_path}".encode()).hexdigest()


def placeholder_path(key_path: str, context_root: str) -> str:
    """Return the path a placeholder part names: context paths relative to the root."""
    return key_path.removeprefix(context_root.rstrip("/") + "/")


def is_remote_url(source: str) -> bool:
    """Report whether `source` is a URL with a scheme and a host (Go `url.ParseRequestURI`)."""
    return _URL.match(source) is not None


def expand_heredoc_raw(text: str, variables: dict[str, str], *, escape: str = "\\") -> str:
    """Expand variables in a heredoc body with quotes taken literally.

    NOTE: kaniko uses BuildKit's lexer with quote processing switched off. Here
    each unescaped quote is escaped before a normal expansion instead. The result
    differs only inside `${VAR:-word}` words that contain quotes.
    """
    protected: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == escape and index + 1 < len(text):
            protected.append(text[index:index + 2])
            index += 2
            continue
        protected.append(escape + char if char in "'\"" else char)
        index += 1
    return ShellLexer(escape).process("".join(protected), variables, split_fields=False).value


def derived_text(
    instruction: Instruction, replacement_envs: Sequence[str], *, expand_heredoc: bool,
    escape: str = "\\",
) -> str:
    """Return the instruction part under `FF_KANIKO_RESOLVE_CACHE_KEY`.

    RUN: the framed raw text, then for each heredoc its framed raw body and framed
    name. COPY/ADD: the framed text with set variables substituted, then each
    heredoc's framed body (chomped for `<<-`, expanded only when the delimiter is
    unquoted and `expand_heredoc`). WORKDIR: the text with set variables
    substituted, unframed. Anything else: the raw text.
    """
    kind = instruction.kind
    text = instruction.text
    if kind == "RUN":
        pieces = [frame(text)]
        for heredoc in instruction.heredocs:
            pieces.append(frame(heredoc.body) + frame(heredoc.name))
        return "".join(pieces)
    variables = lexer_env(replacement_envs)
    if kind in ("COPY", "ADD"):
        pieces = [frame(resolve_variables(text, variables, escape=escape))]
        for heredoc in instruction.heredocs:
            content = heredoc.chomped_body
            if expand_heredoc and not heredoc.quoted:
                content = expand_heredoc_raw(content, variables, escape=escape)
            pieces.append(frame(content))
        return "".join(pieces)
    if kind == "WORKDIR":
        return resolve_variables(text, variables, escape=escape)
    return text


def _source_words(instruction: Instruction) -> list[str]:
    """Return the COPY/ADD source words, without heredoc sources and the destination."""
    words = list(instruction.args[:-1])
    if instruction.heredocs:
        words = [word for word in words if not word.startswith("<<")]
    return words


def _clean_source(word: str) -> str:
    """Clean an expanded source like kaniko's file-path replacement: keep a trailing `/`."""
    if is_remote_url(word):
        return word
    cleaned = gopath.clean(word)
    if word.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def expanded_sources(instruction: Instruction, env_state: StageEnv) -> list[str]:
    """Expand and clean the COPY/ADD sources as kaniko's `ResolveEnvironmentReplacementList` does.

    Wildcards stay unmatched. kaniko resolves sources this way both for keys and
    for the files a stage saves for a later `COPY --from`.
    """
    variables = env_state.variables()
    return [_clean_source(_expand(word, variables, env_state.escape)) for word in _source_words(instruction)]


def _relative_files(root: str) -> Iterator[str]:
    """Yield every path under `root` relative to it (`.` first), in Go walk order."""
    for _, suffix, _ in walk_dir(root):
        yield suffix[1:] if suffix else "."


def match_sources(sources: Sequence[str], root: str) -> list[str]:
    """Resolve wildcard sources against every path under `root`, as kaniko does.

    For each pattern in order, every walked path (directories too, `.` for the
    root itself) that matches with Go's `filepath.Match`, or equals the cleaned
    source, is selected, so a directory and its children can both appear.
    Absolute patterns are matched against `/` + the relative path.
    """
    files = list(_relative_files(root))
    matched: list[str] = []
    for source in sources:
        if is_remote_url(source):
            matched.append(source)
            continue
        pattern = gopath.clean(source)
        absolute = pattern.startswith("/")
        for file in files:
            candidate = gopath.clean("/" + file) if absolute else file
            if candidate == pattern or gopath.match(pattern, candidate):
                matched.append(candidate)
    return matched


def _join(root: str, relative: str) -> str:
    return gopath.clean(f"{root}/{relative}")


@dataclass
class _FileInput:
    real: str
    key: str
    source: str


def copy_file_inputs(
    instruction: Instruction, env_state: StageEnv, *, context_root: str,
    source_root: SourceRoot | None = None, keep_unmatched: bool = False,
) -> list[_FileInput]:
    """Return the paths a COPY or ADD hashes, in kaniko's order (ADD skips URLs).

    With `keep_unmatched` a wildcard source that matches nothing is returned as
    written, so the `placeholder` policy can stand in for it.
    """
    sources = expanded_sources(instruction, env_state)
    real_root = source_root.real if source_root else context_root
    key_root = source_root.virtual if source_root else context_root

    if any(gopath.has_glob(source) for source in sources):
        try:
            if keep_unmatched and os.path.isdir(real_root):
                resolved = []
                for source in sources:
                    resolved.extend(match_sources([source], real_root) or [source])
            elif keep_unmatched:
                resolved = sources
            else:
                resolved = match_sources(sources, real_root)
        except gopath.BadPatternError as exc:
            raise ExpansionError(f"invalid source pattern: {exc}").located(
                None, instruction.start_line
            ) from None
    else:
        resolved = sources

    inputs: list[_FileInput] = []
    for source in resolved:
        # NOTE: kaniko also skips ADD sources it takes for local tar archives. It tests
        # the relative source from `/`, so context archives are hashed like any file,
        # and so they are here.
        if instruction.kind == "ADD" and is_remote_url(source):
            continue
        inputs.append(_FileInput(_join(real_root, source), _join(key_root, source), source))
    return inputs


def _expand(word: str, variables: dict[str, str], escape: str) -> str:
    """Expand like kaniko's `ResolveEnvironmentReplacement`: BuildKit's ProcessWord."""
    return expand_word(word, variables, escape=escape)


# Bind mounts already warned about outside any `bind_mount_warnings` scope, by (line,
# instruction text, origin). One instruction is keyed several times per build, so later
# sightings log at DEBUG only.
_warned_bind_mounts: set[tuple[int, str, str]] = set()


@dataclass(slots=True)
class BindMountWarnings:
    """The unhashed cross-stage bind mounts found while keying one Dockerfile.

    `found` contains (line, origin) pairs. With `collect` true they are only
    stored, so a caller studying many files can count them instead of logging each.
    """

    path: str
    collect: bool = False
    found: set[tuple[int, str]] = field(default_factory=set)


_bind_mount_scope: contextvars.ContextVar[BindMountWarnings | None] = contextvars.ContextVar(
    "bind_mount_warnings", default=None,
)


@contextlib.contextmanager
def bind_mount_warnings(path: str, *, collect: bool = False) -> Iterator[BindMountWarnings]:
    """Name `path` in the unhashed bind mount warnings of instructions keyed inside; see BindMountWarnings."""
    scope = BindMountWarnings(path, collect)
    token = _bind_mount_scope.set(scope)
    try:
        yield scope
    finally:
        _bind_mount_scope.reset(token)


def _log_unhashed_bind_mount(instruction: Instruction, origin: str) -> None:
    """Warn once per Dockerfile, or once per process outside a scope, that a RUN bind mount from another stage or image is not hashed."""
    line = instruction.start_line
    scope = _bind_mount_scope.get()
    if scope is None:
        seen = (line, instruction.text, origin)
        level = logging.DEBUG if seen in _warned_bind_mounts else logging.WARNING
        _warned_bind_mounts.add(seen)
        logger.log(level, "line %d: bind mount from %r is not hashed (kaniko skips cross-stage "
                   "bind mounts)", line, origin)
        return
    repeated = (line, origin) in scope.found
    scope.found.add((line, origin))
    level = logging.DEBUG if repeated or scope.collect else logging.WARNING
    logger.log(level, "%s:%d: bind mount from %r is not hashed (kaniko skips cross-stage "
               "bind mounts)", scope.path, line, origin)


def run_file_inputs(
    instruction: Instruction, env_state: StageEnv, *, context_root: str, run_mount_bind: bool,
) -> list[_FileInput]:
    """Return the context paths of a RUN's bind mounts (`FF_KANIKO_RUN_MOUNT_BIND`)."""
    if not run_mount_bind or not instruction.flags:
        return []
    variables = env_state.variables()
    inputs: list[_FileInput] = []
    for mount in instruction.mounts:
        mount_type = _expand(mount.type, variables, env_state.escape)
        if mount_type != "bind":
            continue
        origin = _expand(mount.from_ or "", variables, env_state.escape)
        if origin not in ("", "context"):
            _log_unhashed_bind_mount(instruction, origin)
            continue
        source = _expand(mount.source or "", variables, env_state.escape)
        path = _join(context_root, source)
        inputs.append(_FileInput(path, path, source))
    return inputs


def _context_of(
    context: FileContext | str | os.PathLike[str] | None,
    dockerignore: DockerIgnore | None,
    options: KanikoOptions,
) -> FileContext | None:
    if context is None or isinstance(context, FileContext):
        return context
    return FileContext(
        os.path.abspath(os.fspath(context)), dockerignore or DockerIgnore(),
        options.scoped_dockerignore,
    )


def instruction_parts(
    instruction: Instruction,
    env_state: StageEnv,
    *,
    options: KanikoOptions,
    context: FileContext | str | os.PathLike[str] | None = None,
    dockerignore: DockerIgnore | None = None,
    source_root_for_from: SourceRoot | None = None,
    include_files: bool = True,
    missing_source: MissingSourcePolicy = "raise",
) -> KeyParts:
    """Compute the key parts of `instruction` given the stage state before it.

    `context` is the build context (a `FileContext`, or a directory combined with
    `dockerignore`); it is needed for COPY, ADD and RUN bind mounts. For
    `COPY --from`, `source_root_for_from` gives the directory of the source
    stage's files. With `include_files=False` no file is read, for the inference path,
    where the planner appends the source stage's key with `KeyParts.with_inferred`.
    Raises `SourceNotFoundError` when a source does not exist, unless
    `missing_source` is `placeholder`, which appends `placeholder_part` instead.
    """
    kind = instruction.kind
    if kind == "MAINTAINER":
        return KeyParts(instruction, ())

    replacement = env_state.replacement_envs()
    parts: list[KeyPart] = []
    if kind == "RUN" and replacement:
        parts.append(KeyPart("env-count", f"|{len(replacement)}"))
        parts.extend(KeyPart("env", entry) for entry in replacement)

    if options.resolve_cache_key and kind in ("RUN", "COPY", "ADD", "WORKDIR"):
        try:
            text = derived_text(instruction, replacement, expand_heredoc=options.expand_heredoc,
                                escape=env_state.escape)
        except ExpansionError as exc:
            raise exc.located(None, instruction.start_line) from None
    else:
        text = instruction.text
    parts.append(KeyPart("instruction", text))

    stats = HashStats()
    if include_files:
        file_context = _context_of(context, dockerignore, options)
        parts.extend(_file_parts(instruction, env_state, options, file_context,
                                 source_root_for_from, stats, missing_source))
    return KeyParts(instruction, tuple(parts), tuple(replacement), stats.files_hashed,
                    stats.bytes_hashed)


def _file_parts(
    instruction: Instruction,
    env_state: StageEnv,
    options: KanikoOptions,
    context: FileContext | None,
    source_root: SourceRoot | None,
    stats: HashStats,
    missing_source: MissingSourcePolicy = "raise",
) -> list[KeyPart]:
    kind = instruction.kind
    if kind not in ("COPY", "ADD", "RUN"):
        return []
    if kind == "RUN" and not (options.run_mount_bind and instruction.flags):
        return []
    if kind in ("COPY", "ADD") and not _source_words(instruction):
        return []
    if instruction.copy_from is None:
        source_root = None  # only `COPY --from` reads another stage's files
    elif source_root is None:
        raise ValueError(
            f"line {instruction.start_line}: {instruction.text!r} needs the source stage's "
            "files (source_root_for_from)"
        )
    if context is None:
        raise ValueError(f"line {instruction.start_line}: {instruction.text!r} needs the build context")

    try:
        if kind == "RUN":
            inputs = run_file_inputs(instruction, env_state, context_root=context.root,
                                     run_mount_bind=options.run_mount_bind)
        else:
            inputs = copy_file_inputs(instruction, env_state, context_root=context.root,
                                      source_root=source_root,
                                      keep_unmatched=missing_source == "placeholder")
    except ExpansionError as exc:
        raise exc.located(None, instruction.start_line) from None

    parts: list[KeyPart] = []
    for item in inputs:
        if not os.path.lexists(item.real):
            if missing_source == "placeholder":
                stand_in = placeholder_part(placeholder_path(item.key, context.root))
                parts.append(KeyPart("file", stand_in, path=item.key))
                continue
            root = source_root.real if source_root else context.root
            raise SourceNotFoundError(item.source, root=root, line=instruction.start_line,
                                      instruction=instruction.text)
        part = add_path(item.real, item.key, context=context,
                        framing=options.hash_dir_framing, stats=stats)
        if part is not None:
            parts.append(KeyPart("file", part.value, path=item.key, file=part))
    return parts
