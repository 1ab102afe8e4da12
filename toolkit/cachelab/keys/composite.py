"""kaniko's composite cache key: the per-stage accumulator of key parts.

Every instruction of a stage appends its parts (env block, instruction text, file
hashes) to one composite key, and the key's hash after an instruction is that
instruction's cache key, used as the registry tag of the cached layer.

Two modes exist in kaniko (osscontainertools fork, commit 6bcc934):

* legacy (default): the parts are joined with `-` and the joined text is hashed
  with SHA-256. The state is the joined text itself, and resuming from a state
  starts a new key whose only part is that state. Parts that contain `-` can
  re-split, so two different part lists can share a key.
* rolling (`FF_KANIKO_ROLLING_CACHE_KEY`): the state starts as 64 ASCII zeros and
  each part replaces it with the hex SHA-256 of `state + part` (the hex text of the
  previous state, no separator). The hash is the state, so resuming from a stage's
  final key is bit-identical to continuing its chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Literal

Mode = Literal["legacy", "rolling"]

#: The rolling state before any part is added: 64 ASCII zeros.
EMPTY_STATE = "0" * 64


def sha256_hex(text: str) -> str:
    """Return the lowercase hex SHA-256 of the UTF-8 bytes of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def roll(state: str, parts: Iterable[str]) -> str:
    """Extend a rolling state with `parts`, one SHA-256 step per part."""
    for part in parts:
        state = sha256_hex(state + part)
    return state


class CompositeKey:
    """An ordered list of key parts, hashed the legacy or the rolling way.

    `parts` keeps every part added since creation or resume, in both modes, so
    explanations can name the part that differs. In rolling mode only the running
    state enters the hash. Build keys with `new` or `resume`: the constructor does
    not fold `parts` into the rolling state.
    """

    __slots__ = ("_hash", "_joined", "_state", "mode", "parts")

    def __init__(self, mode: Mode = "legacy", parts: list[str] | None = None, _state: str = EMPTY_STATE) -> None:
        if mode not in ("legacy", "rolling"):
            raise ValueError(
                f"invalid composite key mode {mode!r}: expected 'legacy' or 'rolling'"
            )
        self.mode: Mode = mode
        self.parts: list[str] = parts if parts is not None else []
        self._state = _state
        # Legacy keys hash the joined text. Planners read the hash after every
        # instruction, so a SHA-256 of the text so far is kept and extended.
        self._joined: Any = None
        self._hash: str | None = None
        if mode == "legacy":
            self._joined = hashlib.sha256("-".join(self.parts).encode("utf-8"))

    def __repr__(self) -> str:
        return f"CompositeKey(mode={self.mode!r}, parts={self.parts!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompositeKey):
            return NotImplemented
        return (self.mode, self.parts, self._state) == (other.mode, other.parts, other._state)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    @classmethod
    def new(cls, *parts: str, mode: Mode = "legacy") -> CompositeKey:
        """Create a key holding `parts`, like kaniko's `NewCompositeCache(parts...)`."""
        key = cls(mode=mode)
        key.add(*parts)
        return key

    @classmethod
    def resume(cls, state: str, *, mode: Mode = "legacy") -> CompositeKey:
        """Continue from a saved `state` (a stage's final key or `state()` output).

        Legacy: a new key whose only part is `state`. Rolling: a key whose running
        state is `state`; its part list starts with `state` for explanations only.
        """
        if mode == "rolling":
            return cls(mode=mode, parts=[state], _state=state)
        return cls(mode=mode, parts=[state])

    @property
    def rolling(self) -> bool:
        return self.mode == "rolling"

    def add(self, *parts: str) -> None:
        """Append `parts` in order."""
        for part in parts:
            if not isinstance(part, str):
                raise TypeError(f"key part must be str, got {type(part).__name__}: {part!r}")
        self.extend(parts)

    def extend(self, parts: tuple[str, ...]) -> None:
        """Append `parts`, which the caller guarantees are str (the key engine's output)."""
        if not parts:
            return
        self._hash = None
        if self.mode == "rolling":
            self._state = roll(self._state, parts)
        else:
            joined = "-".join(parts)
            self._joined.update(("-" + joined if self.parts else joined).encode("utf-8"))
        self.parts.extend(parts)

    def key(self) -> str:
        """Return the human-readable key: the parts joined with `-`."""
        return "-".join(self.parts)

    def hash(self) -> str:
        """Return the cache key: 64 lowercase hex characters."""
        if self.mode == "rolling":
            return self._state
        if self._hash is None:
            self._hash = self._joined.copy().hexdigest()
        return self._hash

    def state(self) -> str:
        """Return the text that `resume` continues from (legacy: `key()`, rolling: `hash()`).

        kaniko stores this as the target of a cache pointer entry.
        """
        if self.mode == "rolling":
            return self._state
        return self.key()

    def copy(self) -> CompositeKey:
        """Return an independent key with the same mode, parts and state."""
        twin = CompositeKey.__new__(CompositeKey)
        twin.mode, twin.parts, twin._state, twin._hash = self.mode, list(self.parts), self._state, self._hash
        twin._joined = self._joined.copy() if self._joined is not None else None
        return twin
