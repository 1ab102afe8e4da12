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
from dataclasses import dataclass, field
from typing import Literal

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


@dataclass
class CompositeKey:
    """An ordered list of key parts, hashed the legacy or the rolling way.

    `parts` keeps every part added since creation or resume, in both modes, so
    explanations can name the part that differs. In rolling mode only the running
    state enters the hash. Build keys with `new` or `resume`: the constructor does
    not fold `parts` into the rolling state.
    """

    mode: Mode = "legacy"
    parts: list[str] = field(default_factory=list)
    _state: str = field(default=EMPTY_STATE, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("legacy", "rolling"):
            raise ValueError(
                f"invalid composite key mode {self.mode!r}: expected 'legacy' or 'rolling'"
            )

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
        self.parts.extend(parts)
        if self.rolling:
            self._state = roll(self._state, parts)

    def key(self) -> str:
        """Return the human-readable key: the parts joined with `-`."""
        return "-".join(self.parts)

    def hash(self) -> str:
        """Return the cache key: 64 lowercase hex characters."""
        if self.rolling:
            return self._state
        return sha256_hex(self.key())

    def state(self) -> str:
        """Return the text that `resume` continues from (legacy: `key()`, rolling: `hash()`).

        kaniko stores this as the target of a cache pointer entry.
        """
        if self.rolling:
            return self._state
        return self.key()

    def copy(self) -> CompositeKey:
        """Return an independent key with the same mode, parts and state."""
        return CompositeKey(mode=self.mode, parts=list(self.parts), _state=self._state)
