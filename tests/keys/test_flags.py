"""kaniko feature flags, executor options and named profiles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cachelab.keys.flags import (
    FEATURE_FLAGS,
    PROFILES,
    KanikoOptions,
    go_duration_string,
    parse_go_bool,
    profile,
)


@pytest.mark.parametrize("word", ["1", "t", "T", "TRUE", "true", "True"])
def test_parse_go_bool_true_words(word):
    assert parse_go_bool(word, False) is True


@pytest.mark.parametrize("word", ["0", "f", "F", "FALSE", "false", "False"])
def test_parse_go_bool_false_words(word):
    assert parse_go_bool(word, True) is False


@pytest.mark.parametrize("word", ["", "yes", "on", "tRUE", " true", "2"])
def test_parse_go_bool_unparsable_gives_default(word):
    assert parse_go_bool(word, True) is True
    assert parse_go_bool(word, False) is False


def test_defaults_at_pinned_commit():
    options = KanikoOptions()
    default_on = {name for name, (_, default) in FEATURE_FLAGS.items() if default}

    assert default_on == {
        "FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE",
        "FF_KANIKO_CLEAN_KANIKO_DIR",
        "FF_KANIKO_DEPRECATE_INTER_STAGE_RESTORE",
        "FF_KANIKO_NO_PROPAGATE_ANNOTATIONS",
        "FF_KANIKO_OCI_WARMER",
        "FF_KANIKO_PRESERVE_HARDLINKS",
        "FF_KANIKO_PRESERVE_MOUNTED_PATHS",
        "FF_KANIKO_RELATIVE_LINK_TARGETS",
        "FF_KANIKO_RUN_MOUNT_BIND",
        "FF_KANIKO_SECUREJOIN_EXTRACTION",
        "FF_KANIKO_VOLUME_SKIP_MKDIR",
        "FF_KANIKO_WARMER_CACHE_LOCK",
    }
    assert options.feature_flags() == {name: default for name, (_, default) in FEATURE_FLAGS.items()}
    assert options.cache is False
    assert options.cache_run_layers is True
    assert options.cache_copy_layers is False
    assert options.cache_ttl == timedelta(hours=336)


def test_every_flag_has_a_field():
    fields = set(KanikoOptions.__dataclass_fields__)

    for name, (field_name, _) in FEATURE_FLAGS.items():
        assert field_name in fields, name


def test_from_env_parses_and_falls_back():
    environ = {
        "FF_KANIKO_ROLLING_CACHE_KEY": "1",
        "FF_KANIKO_RUN_MOUNT_BIND": "False",
        "FF_KANIKO_RESOLVE_CACHE_KEY": "yes",  # unparsable: default false
        "FF_KANIKO_NO_PROPAGATE_ANNOTATIONS": "on",  # unparsable: default true
        "UNRELATED": "1",
    }

    options = KanikoOptions.from_env(environ, cache=True)

    assert options.rolling_cache_key is True
    assert options.run_mount_bind is False
    assert options.resolve_cache_key is False
    assert options.no_propagate_annotations is True
    assert options.cache is True


def test_with_changes_and_with_flags():
    base = KanikoOptions()

    changed = base.with_changes(cache=True).with_flags("FF_KANIKO_HASH_DIR_FRAMING")

    assert changed.cache
    assert changed.hash_dir_framing
    assert not base.cache
    assert not base.hash_dir_framing
    with pytest.raises(KeyError, match="FF_KANIKO_NOPE"):
        base.with_flags("FF_KANIKO_NOPE")


def test_invalid_compression_rejected():
    with pytest.raises(ValueError, match="compression"):
        KanikoOptions(compression="lz4")


def test_profiles():
    assert set(PROFILES) == {"kaniko", "kaniko-copy", "kaniko-lookahead", "no-cache"}
    assert profile("kaniko").cache
    assert not profile("kaniko").cache_copy_layers
    assert profile("kaniko-copy").cache_copy_layers
    lookahead = profile("kaniko-lookahead")
    assert lookahead.cache and lookahead.cache_copy_layers
    assert lookahead.cache_lookahead and lookahead.infer_cross_stage_cache_key
    assert lookahead.rolling_cache_key and lookahead.skip_cached_stages
    assert not lookahead.resolve_cache_key
    assert not profile("no-cache").cache
    with pytest.raises(KeyError, match="known profiles"):
        profile("buildkit")


def test_render_sorted_lines():
    text = profile("kaniko-lookahead").render()
    lines = text.splitlines()

    assert lines == sorted(lines)
    assert "FF_KANIKO_ROLLING_CACHE_KEY=true" in lines
    assert "FF_KANIKO_RESOLVE_CACHE_KEY=false" in lines
    assert "--cache-ttl=336h0m0s" in lines
    assert "--cache-copy-layers=true" in lines
    assert len(lines) == len(FEATURE_FLAGS) + 6


def test_environment_only_changed():
    env = profile("kaniko-lookahead").environment()

    assert env == {
        "FF_KANIKO_CACHE_LOOKAHEAD": "true",
        "FF_KANIKO_INFER_CROSS_STAGE_CACHE_KEY": "true",
        "FF_KANIKO_ROLLING_CACHE_KEY": "true",
        "FF_KANIKO_SKIP_CACHED_STAGES": "true",
    }


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(hours=336), "336h0m0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(microseconds=7), "7\u00b5s"),
        (timedelta(0), "0s"),
        (timedelta(hours=-1), "-1h0m0s"),
    ],
)
def test_go_duration_string(duration, text):
    assert go_duration_string(duration) == text
