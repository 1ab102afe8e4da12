"""Say why two cache keys differ: the first key part that changed and what it stands for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cachelab.keys.filehash import EntryDigest
from cachelab.keys.parts import KANIKO_DEPS_DIR, KeyPart, KeyParts

#: The context roots of the two compared part lists (first, second). A root of
#: None leaves that side's context paths absolute.
Roots = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One file-system entry that differs inside a file part.

    `path` is the entry's path relative to its root when the comparison was
    given context roots (see `explain`), else the path kaniko uses. `aspects`
    lists what changed: `mode`, `owner`, `content` (content or link target), or
    `added` / `removed` for an entry present on one side only.
    """

    path: str
    aspects: tuple[str, ...]
    before: EntryDigest | None = None
    after: EntryDigest | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    """The first differing part of two part lists.

    `index` is the part's position; `kind` is the part kind of either side
    (`env-count`, `env`, `instruction`, `file`, `inferred`), or `missing` when
    one list ends first. When the instruction itself changed and the lists
    are laid out differently (`RUN` with an env block against `ENV`), `kind`
    is `instruction`, `before` and `after` are the two instruction texts, and
    `index` is the position of the second list's instruction part. For the env
    block, `env_changes` names the entries that differ; for file parts,
    `entries` lists the changed entries.

    `path` is the path kaniko uses for the second list's file part (the first
    list's when the second has none). `source` and `before_source` are the
    paths the description shows for the second and first part: relative to the
    context root when it was given, else the same as kaniko's paths.
    """

    index: int
    kind: str
    before: str | None
    after: str | None
    path: str | None = None
    env_changes: tuple[str, ...] = ()
    entries: tuple[EntryChange, ...] = ()
    source: str | None = None
    before_source: str | None = None

    def describe(self) -> str:
        """Return one sentence naming what changed."""
        if self.kind == "missing":
            side = "first" if self.before is None else "second"
            return f"the {side} key has no part {self.index} ({self.before or self.after!r})"
        if self.kind in ("env", "env-count"):
            changes = ", ".join(self.env_changes) or f"{self.before!r} -> {self.after!r}"
            return f"RUN environment differs: {changes}"
        if self.kind == "instruction":
            return f"instruction text differs: {self.before!r} -> {self.after!r}"
        if self.kind == "inferred":
            return f"source stage key differs: {self.before} -> {self.after}"
        source = self.source or self.path
        if self.before_source is not None and self.before_source != source:
            source = f"{self.before_source} and {source}"
        if self.entries:
            details = "; ".join(f"{entry.path}: {', '.join(entry.aspects)}" for entry in self.entries[:5])
            more = f" (+{len(self.entries) - 5} more)" if len(self.entries) > 5 else ""
            return f"files of {source} differ: {details}{more}"
        return f"file part of {source} differs (no entry details recorded)"


def relative_path(path: str, context_root: str | None) -> str:
    """Return `path` relative to the directory its source was read from.

    A context path is made relative to `context_root` (the root itself is `.`),
    and a `COPY --from=<stage>` path relative to the stage's files directory
    `/kaniko/deps/<stage index>`. Any other path, and every path when
    `context_root` is None, is returned unchanged.
    """
    if context_root is None:
        return path
    deps_prefix = KANIKO_DEPS_DIR + "/"
    if path.startswith(deps_prefix):
        stage, _, below_stage = path[len(deps_prefix):].partition("/")
        # Image references (`COPY --from=<image>`) may contain `/`, so where their
        # files begin is unknown; their paths stay as kaniko uses them.
        if stage.isdigit():
            return below_stage or "."
        return path
    root = context_root.rstrip("/")
    if path == root or (not root and path == "/"):
        return "."
    if path.startswith(root + "/"):
        return path[len(root) + 1:]
    return path


def _parts_of(value: KeyParts | Sequence[KeyPart]) -> Sequence[KeyPart]:
    return value.parts if isinstance(value, KeyParts) else value


def _env_block(parts: Sequence[KeyPart]) -> dict[str, str | None]:
    entries: dict[str, str | None] = {}
    for part in parts:
        if part.kind == "env":
            name, has_value, value = part.value.partition("=")
            entries[name] = value if has_value else None
    return entries


def env_changes(before: Sequence[KeyPart], after: Sequence[KeyPart]) -> tuple[str, ...]:
    """Describe env-block entries that were added, removed or changed, sorted by name."""
    old, new = _env_block(before), _env_block(after)
    changes: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            changes.append(f"{name} added")
        elif name not in new:
            changes.append(f"{name} removed")
        elif old[name] != new[name]:
            changes.append(f"{name} changed")
    return tuple(changes)


def entry_changes(
    before: KeyPart, after: KeyPart, roots: Roots = (None, None)
) -> tuple[EntryChange, ...]:
    """Compare the entries behind two file parts, matching entries by path.

    With context roots, entries match by their path relative to their root (see
    `relative_path`), so the same file in two context directories is one entry.
    """
    old = _entries_by_path(before, roots[0])
    new = _entries_by_path(after, roots[1])
    changes: list[EntryChange] = []
    for path in [*old, *(path for path in new if path not in old)]:
        first, second = old.get(path), new.get(path)
        if first is None:
            changes.append(EntryChange(path, ("added",), None, second))
        elif second is None:
            changes.append(EntryChange(path, ("removed",), first, None))
        elif first.digest != second.digest:
            aspects = []
            if first.mode != second.mode:
                aspects.append("mode")
            if first.owner != second.owner:
                aspects.append("owner")
            # The digest covers mode, owner and content: with mode and owner equal
            # only the content (or link target) can differ; a size change proves it.
            if not aspects or first.size != second.size:
                aspects.append("content")
            changes.append(EntryChange(path, tuple(aspects), first, second))
    return tuple(changes)


def _entries_by_path(part: KeyPart, context_root: str | None) -> dict[str, EntryDigest]:
    if part.file is None:
        return {}
    return {relative_path(entry.path, context_root): entry for entry in part.file.entries}


def explain(
    parts_a: KeyParts | Sequence[KeyPart],
    parts_b: KeyParts | Sequence[KeyPart],
    *,
    roots: Roots = (None, None),
) -> Difference | None:
    """Return the first part where two part lists differ, or None if they are equal.

    `roots` are the context roots of the two lists. With them, file parts and
    their entries are compared and named by their path relative to the context
    root or to the stage's files directory, so two copies of one context in
    different directories differ only where their files do. A side without a
    root keeps the paths kaniko uses.

    In rolling mode one instruction's parts explain its key. In legacy mode a
    key also depends on the whole chain before it, so use `explain_chain`.
    """
    root_a, root_b = roots
    first, second = _parts_of(parts_a), _parts_of(parts_b)
    for index in range(max(len(first), len(second))):
        if index >= len(first) or index >= len(second):
            before = first[index].value if index < len(first) else None
            after = second[index].value if index < len(second) else None
            return Difference(index, "missing", before, after)
        a, b = first[index], second[index]
        if a.value == b.value and a.kind == b.kind:
            continue
        if a.kind != b.kind:
            shifted = _kind_change(index, first, second)
            if shifted is not None:
                return shifted
        kind = a.kind if a.kind == b.kind else b.kind
        if kind in ("env", "env-count"):
            return Difference(index, kind, a.value, b.value, env_changes=env_changes(first, second))
        if kind != "file":
            return Difference(index, kind, a.value, b.value, path=b.path or a.path)
        source = relative_path(b.path, root_b) if b.path else None
        before_source = relative_path(a.path, root_a) if a.path and a.kind == "file" else None
        entries = entry_changes(a, b, (root_a, root_b)) if a.kind == b.kind else ()
        return Difference(index, kind, a.value, b.value, path=b.path or a.path, entries=entries,
                          source=source or before_source, before_source=before_source)
    return None


def _kind_change(index: int, first: Sequence[KeyPart], second: Sequence[KeyPart]) -> Difference | None:
    """Explain two part lists whose parts at `index` are of different kinds.

    Parts of different kinds at one position mean the lists are laid out
    differently: the instruction changed (`RUN` with an env block to `ENV`), or
    the same RUN gained or lost its env block. Comparing the part values at
    `index` would set an env count against an instruction text.
    """
    before_text = _instruction_text(first)
    after_text = _instruction_text(second)
    if before_text is not None and after_text is not None and before_text != after_text:
        position = next(position for position, part in enumerate(second) if part.kind == "instruction")
        return Difference(position, "instruction", before_text, after_text)

    a, b = first[index], second[index]
    env_kinds = ("env", "env-count")
    if a.kind in env_kinds or b.kind in env_kinds:
        kind = a.kind if a.kind in env_kinds else b.kind
        return Difference(index, kind, a.value, b.value, env_changes=env_changes(first, second))
    return None


def _instruction_text(parts: Sequence[KeyPart]) -> str | None:
    return next((part.value for part in parts if part.kind == "instruction"), None)


def explain_chain(
    chain_a: Sequence[KeyParts], chain_b: Sequence[KeyParts]
) -> tuple[int, Difference] | None:
    """Return the first instruction (by position) whose parts differ, and how."""
    for index, (first, second) in enumerate(zip(chain_a, chain_b)):
        difference = explain(first, second)
        if difference is not None:
            return index, difference
    if len(chain_a) != len(chain_b):
        index = min(len(chain_a), len(chain_b))
        longer = chain_a if len(chain_a) > len(chain_b) else chain_b
        text = longer[index].instruction.text
        before, after = (text, None) if longer is chain_a else (None, text)
        return index, Difference(0, "missing", before, after)
    return None


def describe_key_modes(mode_a: str | None, mode_b: str | None) -> str | None:
    """Return a sentence naming both key modes when they differ, else None.

    A mode is `legacy` (parts joined with `-`, then hashed) or `rolling`
    (`FF_KANIKO_ROLLING_CACHE_KEY`: one SHA-256 step per part). Under different
    modes every key differs, even where the parts are equal. A side with no
    recorded mode (None) is not compared.
    """
    if mode_a is None or mode_b is None or mode_a == mode_b:
        return None
    return (
        f"the key modes differ: {_mode_name(mode_a)} keys in BEFORE, {_mode_name(mode_b)} keys "
        "in AFTER, so every key differs even where the parts are equal"
    )


def _mode_name(mode: str) -> str:
    return "rolling (FF_KANIKO_ROLLING_CACHE_KEY)" if mode == "rolling" else mode
