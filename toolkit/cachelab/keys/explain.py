"""Say why two cache keys differ: the first key part that changed and what it stands for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cachelab.keys.filehash import EntryDigest
from cachelab.keys.parts import KeyPart, KeyParts


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One file-system entry that differs inside a file part.

    `aspects` lists what changed: `mode`, `owner`, `content` (content or link
    target), or `added` / `removed` for an entry present on one side only.
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
    one list ends first. For the env block, `env_changes` names the entries
    that differ; for file parts, `entries` lists the changed entries.
    """

    index: int
    kind: str
    before: str | None
    after: str | None
    path: str | None = None
    env_changes: tuple[str, ...] = ()
    entries: tuple[EntryChange, ...] = ()

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
        if self.entries:
            details = "; ".join(f"{entry.path}: {', '.join(entry.aspects)}" for entry in self.entries[:5])
            more = f" (+{len(self.entries) - 5} more)" if len(self.entries) > 5 else ""
            return f"files of {self.path} differ: {details}{more}"
        return f"file part of {self.path} differs (no entry details recorded)"


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


def entry_changes(before: KeyPart, after: KeyPart) -> tuple[EntryChange, ...]:
    """Compare the entries behind two file parts, matching entries by path."""
    old = {entry.path: entry for entry in before.file.entries} if before.file else {}
    new = {entry.path: entry for entry in after.file.entries} if after.file else {}
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


def explain(
    parts_a: KeyParts | Sequence[KeyPart], parts_b: KeyParts | Sequence[KeyPart]
) -> Difference | None:
    """Return the first part where two part lists differ, or None if they are equal.

    In rolling mode one instruction's parts explain its key. In legacy mode a
    key also depends on the whole chain before it, so use `explain_chain`.
    """
    first, second = _parts_of(parts_a), _parts_of(parts_b)
    for index in range(max(len(first), len(second))):
        if index >= len(first) or index >= len(second):
            before = first[index].value if index < len(first) else None
            after = second[index].value if index < len(second) else None
            return Difference(index, "missing", before, after)
        a, b = first[index], second[index]
        if a.value == b.value and a.kind == b.kind:
            continue
        kind = a.kind if a.kind == b.kind else b.kind
        if kind in ("env", "env-count"):
            return Difference(index, kind, a.value, b.value, env_changes=env_changes(first, second))
        if kind == "file" and a.kind == b.kind:
            return Difference(index, kind, a.value, b.value, path=b.path or a.path,
                              entries=entry_changes(a, b))
        return Difference(index, kind, a.value, b.value, path=b.path or a.path)
    return None


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
