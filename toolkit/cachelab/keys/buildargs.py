"""kaniko's build arguments and the environment that a stage's RUN keys contain.

A RUN key contains the stage's "replacement environment": the config `Env` as it
is before the RUN, merged with the build arguments the stage may use. Those
are the ARGs declared in the stage (or in a local base stage it is built on)
plus ten builtin proxy names. A value comes from `--build-arg`, else the ARG's
default, else a meta ARG (declared before the first FROM) of the same name, else
a predefined platform ARG (`TARGETARCH`, ...) if the stage declared it; a name
with none of these is left out. Proxy names appear only with a `--build-arg` or
meta ARG value. Undeclared `--build-arg`s never appear.

With `FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE` (default on) an ARG value overrides
an ENV of the same name, and an ENV instruction removes a declared ARG of the
same name; without it ENV wins.

This follows osscontainertools/kaniko at commit 6bcc934 (`pkg/dockerfile/buildargs.go`,
`pkg/commands/arg.go`, `pkg/commands/env.go`, `pkg/util/command_util.go`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cachelab.dockerfile.args import Platform, host_platform, split_arg
from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.lexer import expand_word
from cachelab.dockerfile.model import Instruction

logger = logging.getLogger(__name__)

#: The proxy variables every stage may receive without declaring them.
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)

#: The env of a base image whose config has no `Env` at all (scratch included).
SCRATCH_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)


def parse_key_values(entries: Iterable[str]) -> dict[str, str | None]:
    """Split `KEY=VALUE` entries into a dict; an entry without `=` maps to None. Later entries win."""
    result: dict[str, str | None] = {}
    for entry in entries:
        key, has_value, value = entry.partition("=")
        result[key] = value if has_value else None
    return result


def lexer_env(entries: Iterable[str]) -> dict[str, str]:
    """Turn `KEY=VALUE` entries into the variables for the shell lexer (`KEY` alone is empty)."""
    result: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        result[key] = value
    return result


def predefined_args(
    *, target_platform: str | None = None, last_stage: str | None = None,
    build_platform: Platform | None = None,
) -> dict[str, str]:
    """Return kaniko's predefined platform ARGs.

    The build platform is the host's; the target platform is `--custom-platform`
    as given, else the build platform. `TARGETSTAGE` is the name of the last
    stage built, else `default`.
    """
    build = build_platform or host_platform()
    target = Platform.parse(target_platform) if target_platform else build
    return {
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDOSVERSION": "",
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": target_platform or str(build),
        "TARGETOS": target.os,
        "TARGETOSVERSION": "",
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
        "TARGETSTAGE": last_stage or "default",
    }


@dataclass
class BuildArgs:
    """The build arguments of one stage, as kaniko tracks them.

    `options` are the `--build-arg` values (None for `--build-arg NAME` without
    `=`, which kaniko ignores), `declared` the ARGs declared in this stage or an
    ancestor stage (None = no default), `meta` the meta ARGs and `predefined`
    the platform ARGs.
    """

    options: dict[str, str | None] = field(default_factory=dict)
    declared: dict[str, str | None] = field(default_factory=dict)
    meta: dict[str, str | None] = field(default_factory=dict)
    predefined: dict[str, str] = field(default_factory=dict)
    # Counts the changes made through `add_arg`, `remove_arg` and `add_meta_args`,
    # so a StageEnv can tell when its cached replacement list is stale.
    version: int = field(default=0, init=False, repr=False, compare=False)

    @classmethod
    def from_options(
        cls, build_args: Sequence[str] | Mapping[str, str] = (), *,
        predefined: Mapping[str, str] | None = None,
    ) -> BuildArgs:
        """Create the build-wide arguments from `--build-arg` values (`NAME=value` strings or a dict)."""
        if isinstance(build_args, Mapping):
            options: dict[str, str | None] = dict(build_args)
        else:
            options = parse_key_values(build_args)
        return cls(options=options, predefined=dict(predefined or {}))

    def clone(self) -> BuildArgs:
        """Return an independent copy; kaniko clones per stage so sibling stages never share ARGs."""
        return BuildArgs(dict(self.options), dict(self.declared), dict(self.meta), dict(self.predefined))

    def add_meta_args(
        self, meta_args: Sequence[Instruction], *, escape: str = "\\"
    ) -> None:
        """Record the meta ARGs (ARG before the first FROM) with their defaults expanded.

        Each default has its enclosing quotes removed and is expanded against
        the meta ARGs before it, with `--build-arg` values taking precedence.
        kaniko expands with a backslash escape whatever the Dockerfile's
        directive, so keep the default `escape` to match its keys.
        """
        previous: dict[str, str] = {}
        for instruction in meta_args:
            for word in instruction.args:
                name, default = split_arg(word)
                if default is None:
                    self.meta[name] = None
                    self.version += 1
                    continue
                scope = dict(previous)
                # A `--build-arg NAME` without a value is an empty variable here.
                scope.update({key: value or "" for key, value in self.options.items()})
                value = expand_word(strip_enclosing_quotes(default), scope, escape=escape)
                previous[name] = value
                self.meta[name] = value
                self.version += 1

    def add_arg(self, name: str, value: str | None) -> None:
        self.declared[name] = value
        self.version += 1

    def remove_arg(self, name: str) -> None:
        if name in self.declared:
            del self.declared[name]
            self.version += 1

    def _all_from(self, source: Mapping[str, str | None]) -> dict[str, str]:
        # A name's value is its `--build-arg`, else its default in `source`, else its
        # meta ARG, else its predefined value. Proxy names not in `source` have no
        # default and no predefined value, so only the first and third sources apply.
        options, meta, predefined = self.options, self.meta, self.predefined
        values: dict[str, str] = {}
        for name, default in source.items():
            value = options.get(name)
            if value is None:
                value = default
            if value is None:
                value = meta.get(name)
            if value is None:
                value = predefined.get(name)
            if value is not None:
                values[name] = value
        for name in PROXY_ARGS:
            if name in source:
                continue
            value = options.get(name)
            if value is None:
                value = meta.get(name)
            if value is not None:
                values[name] = value
        return values

    def allowed(self) -> dict[str, str]:
        """Return the values of every argument the stage may use (kaniko's `GetAllAllowed`)."""
        return self._all_from(self.declared)

    def all_meta(self) -> dict[str, str]:
        """Return the values of the meta ARGs and proxy names (kaniko's `GetAllMeta`)."""
        return self._all_from(self.meta)

    def replacement_envs(self, env: Sequence[str], *, arg_precedence: bool = True) -> list[str]:
        """Return the sorted `K=V` list a RUN key contains (`K` alone for an env entry without `=`).

        `env` is the stage config's Env before the instruction; `arg_precedence`
        is `FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE`.
        """
        merged = parse_key_values(env)
        for name, value in self.allowed().items():
            if arg_precedence or name not in merged:
                merged[name] = value
        rendered = [name if value is None else f"{name}={value}" for name, value in merged.items()]
        if all(entry.isascii() for entry in rendered):
            # ASCII text sorts the same as its bytes, so the costly key is not needed.
            rendered.sort()
            return rendered
        return sorted(rendered, key=lambda entry: entry.encode("utf-8", "surrogateescape"))


def strip_enclosing_quotes(value: str) -> str:
    """Remove one pair of matching quotes around a meta ARG default, as kaniko does.

    Escaped quotes (`\\"...\\"`) are left in place; unmatched quotes raise
    `ExpansionError`.
    """
    if len(value) < 2:
        return value
    leader = ""
    if value[0] in "'\"":
        leader = value[0]
    elif value[0] == "\\" and value[1] in "'\"":
        leader = value[:2]
    tail = ""
    if len(leader) < 2:
        if value[-1] in "'\"":
            tail = value[-1]
    elif value[-2:] in ("\\'", '\\"'):
        tail = value[-2:]
    if leader != tail:
        raise ExpansionError(f"quotes wrapping ARG value {value!r} must be matched")
    if len(leader) != 1:
        return value
    return value[1:-1]


@dataclass(frozen=True, slots=True)
class _Transition:
    """The state an ENV or ARG leads to, and the instruction that keeps its id valid."""

    instruction: Instruction
    token: int
    env: tuple[str, ...]
    declared: dict[str, str | None]
    replacement: tuple[str, ...]
    variables: dict[str, str]


class TransitionMemo:
    """The results of ENV and ARG by starting state, shared by StageEnvs that start alike.

    A state is named by a token: the token of a starting state (base Env,
    argument precedence, escape) or of the result of one instruction applied to a
    tokened state. Share a memo only between StageEnvs whose build arguments
    come from one `BuildArgs` (clones of it), because tokens do not name them.
    """

    def __init__(self) -> None:
        self._starts: dict[tuple[object, ...], tuple[int, tuple[str, ...], dict[str, str]]] = {}
        self._results: dict[tuple[int, int], _Transition] = {}
        self._tokens = 0

    def start(self, state: StageEnv) -> None:
        """Give `state` the token of its starting state, and the replacement list cached for it."""
        start_key = (tuple(state.env), state.arg_precedence, state.escape)
        known = self._starts.get(start_key)
        if known is None:
            known = (self._new_token(), state._cached_replacement(), state._cached_variables())
            self._starts[start_key] = known
        state._adopt(*known)

    def result(self, token: int, instruction: Instruction) -> _Transition | None:
        found = self._results.get((token, id(instruction)))
        return found if found is not None and found.instruction is instruction else None

    def add(self, token: int, state: StageEnv, instruction: Instruction) -> int:
        """Record `state` as the result of `instruction` applied to `token`; return its token."""
        new_token = self._new_token()
        replacement = state._cached_replacement()
        self._results[(token, id(instruction))] = _Transition(
            instruction, new_token, tuple(state.env), dict(state.args.declared), replacement,
            state._cached_variables(),
        )
        return new_token

    def _new_token(self) -> int:
        self._tokens += 1
        return self._tokens


@dataclass
class StageEnv:
    """The symbolic state of a stage that keys depend on: config Env and build arguments.

    `env` is the config's Env list, or kaniko's scratch default when the base
    image has none. `apply` updates both for ENV and ARG the way kaniko does.
    `escape` is the escape character of every expansion. kaniko always uses a
    backslash there, whatever the Dockerfile's `# escape=` directive says, so keep
    the default to match its keys.

    The replacement list is computed once per state and cached. The cache notices
    a new `env` list and changes made through `BuildArgs` methods. It misses
    in-place edits of the `env` list or of the `BuildArgs` dicts, so assign a new
    list and use the methods.
    """

    env: list[str]
    args: BuildArgs
    arg_precedence: bool = True
    escape: str = "\\"
    # The replacement list, its lexer variables, and the env list, BuildArgs and
    # BuildArgs version they were computed from.
    _replacement: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _variables: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _cached_from: tuple[list[str], BuildArgs, int] | None = field(
        default=None, init=False, repr=False, compare=False,
    )
    # The transition memo and the token of the state `_cached_from` names.
    _transitions: TransitionMemo | None = field(default=None, init=False, repr=False, compare=False)
    _token: int | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_base(
        cls, base_env: Sequence[str] | None, args: BuildArgs, *, arg_precedence: bool = True,
        escape: str = "\\",
    ) -> StageEnv:
        """Start a stage on a base whose config Env is `base_env` (None = the field is absent)."""
        env = list(SCRATCH_ENV) if base_env is None else list(base_env)
        return cls(env, args, arg_precedence, escape)

    def track(self, transitions: TransitionMemo) -> None:
        """Look up and record this stage's ENV and ARG results in `transitions` from now on."""
        self._transitions = transitions
        transitions.start(self)

    def _adopt(self, token: int, replacement: tuple[str, ...], variables: dict[str, str]) -> None:
        self._replacement, self._variables = replacement, variables
        self._cached_from = (self.env, self.args, self.args.version)
        self._token = token

    def copy(self) -> StageEnv:
        copied = StageEnv(list(self.env), self.args.clone(), self.arg_precedence, self.escape)
        if self._is_cached():
            # The copy has the same state, so it starts with the same cache and token.
            copied._replacement, copied._variables = self._replacement, self._variables
            copied._cached_from = (copied.env, copied.args, copied.args.version)
            copied._transitions, copied._token = self._transitions, self._token
        return copied

    def replacement_envs(self) -> list[str]:
        """Return the sorted replacement list for the next instruction."""
        return list(self._cached_replacement())

    def variables(self) -> dict[str, str]:
        """Return the variables the shell lexer uses for the next instruction."""
        return dict(self._cached_variables())

    def state_key(self) -> tuple[tuple[str, ...], str]:
        """Return what the key parts of the next instruction read from this state.

        It is the replacement list and the escape character: two states with equal
        state keys give any instruction the same parts.
        """
        return self._cached_replacement(), self.escape

    def _is_cached(self) -> bool:
        cached_from = self._cached_from
        return (
            cached_from is not None and cached_from[0] is self.env and cached_from[1] is self.args
            and cached_from[2] == self.args.version
        )

    def _cached_replacement(self) -> tuple[str, ...]:
        if not self._is_cached() or self._replacement is None:
            replacement = self.args.replacement_envs(self.env, arg_precedence=self.arg_precedence)
            self._replacement = tuple(replacement)
            self._variables = lexer_env(replacement)
            self._cached_from = (self.env, self.args, self.args.version)
            # A state changed outside `apply` has no token.
            self._token = None
        return self._replacement

    def _cached_variables(self) -> dict[str, str]:
        # Shared with the cache: callers inside this class only read it.
        self._cached_replacement()
        assert self._variables is not None
        return self._variables

    def expand(self, word: str) -> str:
        """Expand `word` with the current variables (BuildKit's ProcessWord)."""
        return expand_word(word, self._cached_variables(), escape=self.escape)

    def apply(self, instruction: Instruction) -> None:
        """Update Env and arguments for an ENV or ARG; other instructions change nothing here.

        Raises `ExpansionError` located at the instruction's line.
        """
        kind = instruction.kind
        if kind != "ENV" and kind != "ARG":
            return
        transitions = self._transitions
        token = self._token if transitions is not None and self._is_cached() else None
        if token is not None and transitions is not None:
            known = transitions.result(token, instruction)
            if known is not None:
                self._restore(known)
                return
        try:
            if kind == "ENV":
                self._apply_env(instruction)
            else:
                self._apply_arg(instruction)
        except ExpansionError as exc:
            raise exc.located(None, instruction.start_line) from None
        if token is not None and transitions is not None:
            self._token = transitions.add(token, self, instruction)

    def _restore(self, known: _Transition) -> None:
        self.env = list(known.env)
        self.args.declared = dict(known.declared)
        self.args.version += 1
        self._adopt(known.token, known.replacement, known.variables)

    def _apply_env(self, instruction: Instruction) -> None:
        words = instruction.args
        if len(words) % 2:
            raise ExpansionError(f"ENV needs name/value pairs, got {list(words)!r}")
        pairs = list(zip(words[0::2], words[1::2]))
        variables = self._cached_variables()
        # Every pair is expanded with the variables from before this ENV.
        expanded = [
            (expand_word(key, variables, escape=self.escape),
             expand_word(value, variables, escape=self.escape))
            for key, value in pairs
        ]
        entries = [entry.partition("=") for entry in self.env]
        current = [(key, value) for key, _, value in entries]
        for key, value in expanded:
            for index, (existing, _) in enumerate(current):
                if existing == key:
                    current[index] = (key, value)
                    break
            else:
                current.append((key, value))
        self.env = [f"{key}={value}" for key, value in current]
        if self.arg_precedence:
            for key, _ in pairs:
                self.args.remove_arg(key)

    def _apply_arg(self, instruction: Instruction) -> None:
        for word in instruction.args:
            name, default = split_arg(word)
            variables = self._cached_variables()
            resolved = expand_word(name, variables, escape=self.escape)
            if default is not None:
                value: str | None = expand_word(default, variables, escape=self.escape)
            else:
                value = self.args.allowed().get(resolved)
                if value is None:
                    value = self.args.all_meta().get(resolved)
            self.args.add_arg(resolved, value)
