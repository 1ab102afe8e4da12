"""Property tests: hashed inputs change keys, non-hashed inputs do not."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.composite import CompositeKey
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.stage import key_instructions, seeded_key
from tests.keys.trees import needs_root

pytestmark = needs_root

SEED = "sha256:" + "1" * 64
PATH = "PATH=/bin"
MODES = st.sampled_from(["legacy", "rolling"])


def options_for(mode: str) -> KanikoOptions:
    return KanikoOptions(cache=True, rolling_cache_key=mode == "rolling")


def keys_for(dockerfile: str, mode: str, *, context: str | None = None,
             build_args: list[str] | None = None) -> list[str | None]:
    parsed = parse_dockerfile(dockerfile)
    state = StageEnv.for_base([PATH], BuildArgs.from_options(build_args or []))
    options = options_for(mode)
    results = key_instructions(seeded_key(SEED, options), parsed.stages[0].instructions, state,
                               options=options, context=context)
    return [result.key for result in results]


def file_keys(content: bytes, mode_bits: int, uid: int, gid: int, key_mode: str,
              mtime: float | None = None) -> list[str | None]:
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "f"
        source.write_bytes(content)
        # chown clears the setuid and setgid bits of a regular file, so it goes first.
        os.chown(source, uid, gid)
        source.chmod(mode_bits)
        if mtime is not None:
            os.utime(source, (mtime, mtime))
        return keys_for("FROM base\nCOPY f /f\nRUN cat /f\n", key_mode, context=directory)


CONTENT = st.binary(max_size=64)
PERMISSIONS = st.integers(min_value=0, max_value=0o7777)
IDS = st.integers(min_value=0, max_value=70000)


@settings(max_examples=40, deadline=None)
@given(CONTENT, CONTENT, PERMISSIONS, IDS, MODES)
def test_content_change_changes_key(first, second, permissions, uid, mode):
    before = file_keys(first, permissions, uid, uid, mode)
    after = file_keys(second, permissions, uid, uid, mode)

    assert (before == after) == (first == second)


@settings(max_examples=40, deadline=None)
@given(CONTENT, PERMISSIONS, PERMISSIONS, MODES)
def test_mode_change_changes_key(content, first, second, mode):
    before = file_keys(content, first, 0, 0, mode)
    after = file_keys(content, second, 0, 0, mode)

    assert (before == after) == (first == second)


@settings(max_examples=40, deadline=None)
@given(CONTENT, IDS, IDS, IDS, MODES)
def test_owner_change_changes_key(content, uid, first_gid, second_gid, mode):
    before = file_keys(content, 0o644, uid, first_gid, mode)
    after = file_keys(content, 0o644, uid, second_gid, mode)

    assert (before == after) == (first_gid == second_gid)


@settings(max_examples=25, deadline=None)
@given(CONTENT, st.floats(min_value=0, max_value=2e9), st.floats(min_value=0, max_value=2e9), MODES)
def test_mtime_change_keeps_key(content, first, second, mode):
    assert file_keys(content, 0o644, 0, 0, mode, first) == file_keys(content, 0o644, 0, 0, mode, second)


# Plain shell words: no quoting, expansion or comment characters, and no `<`,
# because `<<WORD` starts a heredoc that needs its terminator lines.
WORD = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                      exclude_characters="\\$\"'`#<"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(WORD, WORD, MODES)
def test_instruction_text_changes_key(first, second, mode):
    before = keys_for(f"FROM base\nRUN echo {first}\n", mode)
    after = keys_for(f"FROM base\nRUN echo {second}\n", mode)

    assert (before == after) == (first == second)


@settings(max_examples=60, deadline=None)
@given(WORD, WORD, MODES)
def test_declared_arg_value_changes_run_key(first, second, mode):
    dockerfile = "FROM base\nARG V\nRUN true\n"

    before = keys_for(dockerfile, mode, build_args=[f"V={first}"])
    after = keys_for(dockerfile, mode, build_args=[f"V={second}"])

    assert before[0] == after[0]  # the ARG line itself is keyed by its text only
    assert (before[1] == after[1]) == (first == second)


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True), WORD, MODES)
def test_undeclared_build_arg_keeps_key(name, value, mode):
    dockerfile = "FROM base\nARG V=1\nRUN true\n"
    if name == "V" or name.lower().endswith("_proxy"):
        return

    assert keys_for(dockerfile, mode) == keys_for(dockerfile, mode, build_args=[f"{name}={value}"])


PART = st.text(alphabet="ab-", min_size=0, max_size=6)


@settings(max_examples=100, deadline=None)
@given(st.lists(PART, min_size=1, max_size=5), st.data())
def test_legacy_resplit_collides_rolling_does_not(parts, data):
    joined = "-".join(parts)
    # Re-split the joined text at a different set of dashes.
    cut_points = [index for index, char in enumerate(joined) if char == "-"]
    chosen = sorted(data.draw(st.sets(st.sampled_from(cut_points))) if cut_points else [])
    pieces, start = [], 0
    for index in chosen:
        pieces.append(joined[start:index])
        start = index + 1
    pieces.append(joined[start:])

    legacy_same = CompositeKey.new(*parts).hash() == CompositeKey.new(*pieces).hash()
    rolling_same = (CompositeKey.new(*parts, mode="rolling").hash()
                    == CompositeKey.new(*pieces, mode="rolling").hash())

    assert legacy_same
    assert rolling_same == (pieces == parts)
