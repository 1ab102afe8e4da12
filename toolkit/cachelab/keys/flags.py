"""kaniko's feature flags and the executor options that shape caching.

Flag names and defaults are those of osscontainertools/kaniko at commit 6bcc934
(v1.28.3-23). kaniko reads each `FF_KANIKO_*` environment variable once at start
with Go's `strconv.ParseBool`; a value it cannot parse silently means the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

# Environment variable -> (KanikoOptions field, default at commit 6bcc934).
FEATURE_FLAGS: dict[str, tuple[str, bool]] = {
    "FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE": ("buildkit_arg_env_precedence", True),
    "FF_KANIKO_CACHE_LOOKAHEAD": ("cache_lookahead", False),
    "FF_KANIKO_CACHE_PROBE_AFTER_MISS": ("cache_probe_after_miss", False),
    "FF_KANIKO_CHOWN_ON_IMPLICIT_DIRS": ("chown_on_implicit_dirs", False),
    "FF_KANIKO_CLEAN_KANIKO_DIR": ("clean_kaniko_dir", True),
    "FF_KANIKO_COPY_AS_ROOT": ("copy_as_root", False),
    "FF_KANIKO_COPY_CHMOD_ON_IMPLICIT_DIRS": ("copy_chmod_on_implicit_dirs", False),
    "FF_KANIKO_CROSS_REPO_MOUNT": ("cross_repo_mount", False),
    "FF_KANIKO_DEPRECATE_INTER_STAGE_RESTORE": ("deprecate_inter_stage_restore", True),
    "FF_KANIKO_DISABLE_HTTP2": ("disable_http2", False),
    "FF_KANIKO_EXPAND_HEREDOC": ("expand_heredoc", False),
    "FF_KANIKO_HASH_DIR_FRAMING": ("hash_dir_framing", False),
    "FF_KANIKO_IGNORE_CACHED_MANIFEST": ("ignore_cached_manifest", False),
    "FF_KANIKO_INFER_CROSS_STAGE_CACHE_KEY": ("infer_cross_stage_cache_key", False),
    "FF_KANIKO_NO_PROPAGATE_ANNOTATIONS": ("no_propagate_annotations", True),
    "FF_KANIKO_OCI_SCRATCH_BASE": ("oci_scratch_base", False),
    "FF_KANIKO_OCI_WARMER": ("oci_warmer", True),
    "FF_KANIKO_PATH_SCOPED_REGISTRY_AUTH": ("path_scoped_registry_auth", False),
    "FF_KANIKO_PRECOMPILE_DOCKERIGNORE": ("precompile_dockerignore", False),
    "FF_KANIKO_PRESERVE_HARDLINKS": ("preserve_hardlinks", True),
    "FF_KANIKO_PRESERVE_MOUNTED_PATHS": ("preserve_mounted_paths", True),
    "FF_KANIKO_RELATIVE_LINK_TARGETS": ("relative_link_targets", True),
    "FF_KANIKO_REPRODUCIBLE_PRESERVE_BASE_LAYERS": ("reproducible_preserve_base_layers", False),
    "FF_KANIKO_RESOLVE_CACHE_KEY": ("resolve_cache_key", False),
    "FF_KANIKO_ROLLING_CACHE_KEY": ("rolling_cache_key", False),
    "FF_KANIKO_RUN_HONOR_GROUP": ("run_honor_group", False),
    "FF_KANIKO_RUN_MOUNT_BIND": ("run_mount_bind", True),
    "FF_KANIKO_RUN_VIA_TINI": ("run_via_tini", False),
    "FF_KANIKO_SCOPED_DOCKERIGNORE": ("scoped_dockerignore", False),
    "FF_KANIKO_SECUREJOIN_EXTRACTION": ("securejoin_extraction", True),
    "FF_KANIKO_SHARED_BASE_CACHE": ("shared_base_cache", False),
    "FF_KANIKO_SKIP_CACHED_STAGES": ("skip_cached_stages", False),
    "FF_KANIKO_SKIP_RELABEL_RECOMPRESS": ("skip_relabel_recompress", False),
    "FF_KANIKO_SKIP_WRITE_WHITEOUTS": ("skip_write_whiteouts", False),
    "FF_KANIKO_UNTAR_SKIP_ROOT": ("untar_skip_root", False),
    "FF_KANIKO_VOLUME_SKIP_MKDIR": ("volume_skip_mkdir", True),
    "FF_KANIKO_WARMER_CACHE_LOCK": ("warmer_cache_lock", True),
}

_TRUE_WORDS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_WORDS = frozenset({"0", "f", "F", "FALSE", "false", "False"})

DEFAULT_CACHE_TTL = timedelta(hours=336)


def parse_go_bool(value: str, default: bool) -> bool:
    """Parse `value` like Go's `strconv.ParseBool`; return `default` if it is not a boolean word."""
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    return default


def go_duration_string(duration: timedelta) -> str:
    """Render a duration as Go's `time.Duration.String()` does for whole seconds and more.

    Precision is one microsecond (timedelta's). `336h` prints as `336h0m0s`,
    90 seconds as `1m30s`, 1.5 seconds as `1.5s`, half a second as `500ms`.
    """
    total_us = int(duration / timedelta(microseconds=1))
    if total_us == 0:
        return "0s"
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    if total_us < 1_000:
        return f"{sign}{total_us}\u00b5s"
    if total_us < 1_000_000:
        whole, fraction = divmod(total_us, 1_000)
        fraction_text = f".{fraction:03d}".rstrip("0") if fraction else ""
        return f"{sign}{whole}{fraction_text}ms"
    hours, rest = divmod(total_us, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    second_text = f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") if micros else str(seconds)
    if hours:
        return f"{sign}{hours}h{minutes}m{second_text}s"
    if minutes:
        return f"{sign}{minutes}m{second_text}s"
    return f"{sign}{second_text}s"


@dataclass(frozen=True, slots=True)
class KanikoOptions:
    """Every kaniko feature flag and the executor options that decide caching.

    Field defaults are kaniko's own, so `KanikoOptions()` is a plain executor run
    without `--cache`.
    """

    # Executor options (command line).
    cache: bool = False
    cache_copy_layers: bool = False
    cache_run_layers: bool = True
    cache_ttl: timedelta = DEFAULT_CACHE_TTL
    no_push_cache: bool = False
    compression: str = "gzip"  # "gzip" or "zstd"

    # Feature flags (environment), in FEATURE_FLAGS order.
    buildkit_arg_env_precedence: bool = True
    cache_lookahead: bool = False
    cache_probe_after_miss: bool = False
    chown_on_implicit_dirs: bool = False
    clean_kaniko_dir: bool = True
    copy_as_root: bool = False
    copy_chmod_on_implicit_dirs: bool = False
    cross_repo_mount: bool = False
    deprecate_inter_stage_restore: bool = True
    disable_http2: bool = False
    expand_heredoc: bool = False
    hash_dir_framing: bool = False
    ignore_cached_manifest: bool = False
    infer_cross_stage_cache_key: bool = False
    no_propagate_annotations: bool = True
    oci_scratch_base: bool = False
    oci_warmer: bool = True
    path_scoped_registry_auth: bool = False
    precompile_dockerignore: bool = False
    preserve_hardlinks: bool = True
    preserve_mounted_paths: bool = True
    relative_link_targets: bool = True
    reproducible_preserve_base_layers: bool = False
    resolve_cache_key: bool = False
    rolling_cache_key: bool = False
    run_honor_group: bool = False
    run_mount_bind: bool = True
    run_via_tini: bool = False
    scoped_dockerignore: bool = False
    securejoin_extraction: bool = True
    shared_base_cache: bool = False
    skip_cached_stages: bool = False
    skip_relabel_recompress: bool = False
    skip_write_whiteouts: bool = False
    untar_skip_root: bool = False
    volume_skip_mkdir: bool = True
    warmer_cache_lock: bool = True

    def __post_init__(self) -> None:
        if self.compression not in ("gzip", "zstd"):
            raise ValueError(f"invalid compression {self.compression!r}: expected 'gzip' or 'zstd'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **options: object) -> KanikoOptions:
        """Read the `FF_KANIKO_*` variables of `environ`; `options` set the executor options."""
        flags = {
            field_name: parse_go_bool(environ[name], default) if name in environ else default
            for name, (field_name, default) in FEATURE_FLAGS.items()
        }
        return cls(**flags, **options)  # type: ignore[arg-type]

    def with_env(self, environ: Mapping[str, str]) -> KanikoOptions:
        """Return a copy with the `FF_KANIKO_*` variables present in `environ` applied.

        An unparsable value leaves that flag at kaniko's default, as kaniko does.
        """
        changes: dict[str, object] = {}
        for name, (field_name, default) in FEATURE_FLAGS.items():
            if name in environ:
                changes[field_name] = parse_go_bool(environ[name], default)
        return self.with_changes(**changes)

    def with_changes(self, **changes: object) -> KanikoOptions:
        """Return a copy with `changes` applied (field names, as in `dataclasses.replace`)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_flags(self, *names: str, value: bool = True) -> KanikoOptions:
        """Return a copy with the named `FF_KANIKO_*` flags set to `value`."""
        changes: dict[str, object] = {}
        for name in names:
            if name not in FEATURE_FLAGS:
                raise KeyError(f"unknown kaniko feature flag {name!r}")
            changes[FEATURE_FLAGS[name][0]] = value
        return self.with_changes(**changes)

    def feature_flags(self) -> dict[str, bool]:
        """Return every feature flag by its environment name."""
        return {name: getattr(self, field_name) for name, (field_name, _) in FEATURE_FLAGS.items()}

    def environment(self, *, only_changed: bool = True) -> dict[str, str]:
        """Return the `FF_KANIKO_*` environment that reproduces these flags in kaniko."""
        return {
            name: "true" if value else "false"
            for name, value in self.feature_flags().items()
            if not only_changed or value != FEATURE_FLAGS[name][1]
        }

    def executor_arguments(self) -> list[str]:
        """Return the kaniko executor arguments for the cache options."""
        return [
            f"--cache={_go_bool(self.cache)}",
            f"--cache-copy-layers={_go_bool(self.cache_copy_layers)}",
            f"--cache-run-layers={_go_bool(self.cache_run_layers)}",
            f"--cache-ttl={go_duration_string(self.cache_ttl)}",
            f"--compression={self.compression}",
            f"--no-push-cache={_go_bool(self.no_push_cache)}",
        ]

    def render(self) -> str:
        """Render options and flags as sorted `NAME=value` lines (the `flags` column)."""
        lines = [f"{name}={_go_bool(value)}" for name, value in self.feature_flags().items()]
        lines.extend(self.executor_arguments())
        return "\n".join(sorted(lines))


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def _make_profiles() -> dict[str, KanikoOptions]:
    kaniko = KanikoOptions(cache=True)
    kaniko_copy = kaniko.with_changes(cache_copy_layers=True)
    lookahead = kaniko_copy.with_flags(
        "FF_KANIKO_CACHE_LOOKAHEAD",
        "FF_KANIKO_INFER_CROSS_STAGE_CACHE_KEY",
        "FF_KANIKO_ROLLING_CACHE_KEY",
        "FF_KANIKO_SKIP_CACHED_STAGES",
    )
    return {
        "kaniko": kaniko,
        "kaniko-copy": kaniko_copy,
        "kaniko-lookahead": lookahead,
        "no-cache": KanikoOptions(cache=False),
    }


#: Named option sets: `kaniko` (`--cache`, copy layers not cached), `kaniko-copy`
#: (plus `--cache-copy-layers`), `kaniko-lookahead` (kaniko-copy plus lookahead,
#: cross-stage inference, rolling keys and skipping cached stages), `no-cache`.
PROFILES: dict[str, KanikoOptions] = _make_profiles()


def profile(name: str) -> KanikoOptions:
    """Return the named profile; raises `KeyError` naming the known profiles."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"unknown profile {name!r}; known profiles: {known}") from None
