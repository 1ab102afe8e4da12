"""Per-instruction key parts: env block, instruction text, file inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.dockerignore import DockerIgnore, FileContext
from cachelab.keys.errors import SourceNotFoundError
from cachelab.keys.filehash import add_path, file_part
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import (
    SourceRoot,
    derived_text,
    frame,
    instruction_parts,
    is_remote_url,
    match_sources,
)
from tests.keys.trees import make_tree

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT = KanikoOptions(cache=True)
RESOLVE = DEFAULT.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY")


def instructions(text: str):
    return list(parse_dockerfile("FROM scratch\n" + text).stages[0].instructions)


def state(env: list[str] | None = None) -> StageEnv:
    return StageEnv.for_base([PATH] if env is None else env, BuildArgs())


def test_frame_counts_utf8_bytes():
    assert frame("abc") == "3:abc"
    assert frame("\u00e9") == "2:\u00e9"
    assert frame("") == "0:"


def test_run_env_block_then_text():
    run = instructions("RUN echo $V\n")[0]

    parts = instruction_parts(run, state([PATH, "V=1"]), options=DEFAULT)

    assert [(part.kind, part.value) for part in parts.parts] == [
        ("env-count", "|2"), ("env", PATH), ("env", "V=1"), ("instruction", "RUN echo $V"),
    ]


def test_run_without_env_has_no_block():
    run = instructions("RUN true\n")[0]

    assert instruction_parts(run, state([]), options=DEFAULT).values == ["RUN true"]


def test_non_run_has_no_env_block():
    for instruction in instructions("ENV A=1\nUSER app\nLABEL a=b\nWORKDIR /x\nCMD x\n"):
        assert instruction_parts(instruction, state(), options=DEFAULT).values == [instruction.text]


def test_maintainer_contributes_nothing():
    maintainer = instructions("MAINTAINER someone\n")[0]

    assert instruction_parts(maintainer, state(), options=DEFAULT).parts == ()


def test_onbuild_declaration_keeps_prefix():
    onbuild = instructions("ONBUILD RUN touch /x\n")[0]

    assert instruction_parts(onbuild, state(), options=DEFAULT).values == ["ONBUILD RUN touch /x"]


def test_resolve_run_frames_text_not_expanded():
    run = instructions("RUN echo $V\n")[0]

    parts = instruction_parts(run, state([PATH, "V=1"]), options=RESOLVE)

    assert parts.values[-1] == "11:RUN echo $V"


def test_resolve_run_heredoc_body_and_name():
    run = instructions("RUN <<-EOF\n\techo $V\nEOF\n")[0]

    text = derived_text(run, ["V=1"], expand_heredoc=True)

    # The RUN body is the raw text: not chomped, not expanded.
    assert text == "10:RUN <<-EOF" + "9:\techo $V\n" + "3:EOF"


def test_resolve_copy_heredoc_framing_and_expansion():
    copy = instructions("COPY <<EOF /out/$V.txt\nhello $V\nEOF\n")[0]

    plain = derived_text(copy, ["V=1"], expand_heredoc=False)
    expanded = derived_text(copy, ["V=1"], expand_heredoc=True)

    assert plain == "21:COPY <<EOF /out/1.txt" + "9:hello $V\n"
    assert expanded == "21:COPY <<EOF /out/1.txt" + "8:hello 1\n"


def test_resolve_copy_quoted_heredoc_not_expanded_and_chomped():
    copy = instructions("COPY <<-'EOF' /out.txt\n\thello $V\nEOF\n")[0]

    text = derived_text(copy, ["V=1"], expand_heredoc=True)

    assert text.endswith("9:hello $V\n")


def test_resolve_copy_heredoc_bodies_cannot_shift():
    # Unframed, "a\n" + "\nb\n" and "a\n\n" + "b\n" would join to the same text.
    first = instructions("COPY <<A <<B /d/\na\nA\n\nb\nB\n")[0]
    second = instructions("COPY <<A <<B /d/\na\n\nA\nb\nB\n")[0]

    assert derived_text(first, [], expand_heredoc=False) != derived_text(second, [], expand_heredoc=False)


def test_resolve_copy_keeps_quotes_and_unset_vars():
    copy = instructions('COPY --chown=$U "a b" /x/$D/\n')[0]

    assert derived_text(copy, ["D=d"], expand_heredoc=False) == frame('COPY --chown=$U "a b" /x/d/')


def test_resolve_workdir_unframed():
    workdir = instructions("WORKDIR /srv/$DIR\n")[0]

    assert derived_text(workdir, ["DIR=one"], expand_heredoc=False) == "WORKDIR /srv/one"


def test_resolve_other_instructions_raw():
    env = instructions("ENV A=$B\n")[0]

    assert derived_text(env, ["B=1"], expand_heredoc=False) == "ENV A=$B"


def test_copy_file_parts_in_source_order(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"b.txt": "b", "a.txt": "a"})
    copy = instructions("COPY b.txt a.txt /dst/\n")[0]

    parts = instruction_parts(copy, state(), options=DEFAULT, context=str(context))

    assert parts.values[1:] == [file_part(str(context / "b.txt")), file_part(str(context / "a.txt"))]
    assert [part.path for part in parts.parts[1:]] == [str(context / "b.txt"), str(context / "a.txt")]
    assert parts.files_hashed == 2
    assert parts.bytes_hashed == 2


def test_copy_source_expanded_with_env(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"v1/app": "x"})
    copy = instructions("COPY ${DIR}/app /app\n")[0]

    parts = instruction_parts(copy, state([PATH, "DIR=v1"]), options=DEFAULT, context=str(context))

    assert parts.parts[1].path == str(context / "v1" / "app")


def test_copy_missing_source_raises(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {})
    copy = instructions("\nCOPY missing.txt /dst\n")[0]

    with pytest.raises(SourceNotFoundError, match="missing.txt") as raised:
        instruction_parts(copy, state(), options=DEFAULT, context=str(context))
    assert raised.value.line == 3
    assert str(context) in str(raised.value)


def test_wildcard_matching_nothing_gives_no_parts(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"a.txt": "a"})
    copy = instructions("COPY *.md /dst/\n")[0]

    assert instruction_parts(copy, state(), options=DEFAULT, context=str(context)).values == [copy.text]


def test_match_sources_quirks(tmp_path: Path):
    root = make_tree(tmp_path / "ctx", {"d/x.txt": "x", "d/y.log": "y", "top.txt": "t"})

    # `*` also matches `.` (the root itself) and directories; a directory and its
    # children can both be selected; each pattern is applied in walk order.
    assert match_sources(["*"], str(root)) == [".", "d", "top.txt"]
    assert match_sources(["d/*", "top.txt"], str(root)) == ["d/x.txt", "d/y.log", "top.txt"]
    assert match_sources(["/d/*.txt"], str(root)) == ["/d/x.txt"]
    assert match_sources(["*.txt", "top.txt"], str(root)) == ["top.txt", "top.txt"]


def test_copy_star_hashes_root_directory_too(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"a.txt": "a"})
    copy = instructions("COPY * /dst/\n")[0]

    parts = instruction_parts(copy, state(), options=DEFAULT, context=str(context))

    assert [part.path for part in parts.parts[1:]] == [str(context), str(context / "a.txt")]


def test_copy_respects_dockerignore(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"keep.txt": "k", "secret.txt": "s"})
    copy = instructions("COPY keep.txt secret.txt /dst/\n")[0]

    parts = instruction_parts(copy, state(), options=DEFAULT, context=str(context),
                              dockerignore=DockerIgnore(["secret.txt"]))

    assert [part.path for part in parts.parts[1:]] == [str(context / "keep.txt")]


def test_copy_from_uses_virtual_path(tmp_path: Path):
    stage_root = make_tree(tmp_path / "stage", {"app/x": "x"})
    copy = instructions("COPY --from=build /app /app\n")[0]
    context = FileContext(str(tmp_path / "ctx"))

    parts = instruction_parts(copy, state(), options=DEFAULT, context=context,
                              source_root_for_from=SourceRoot.for_stage(str(stage_root), 2))
    expected = add_path(str(stage_root / "app"), "/kaniko/deps/2/app", context=context)

    assert parts.parts[1].path == "/kaniko/deps/2/app"
    assert expected is not None
    assert parts.parts[1].value == expected.value


def test_copy_from_without_source_root_rejected(tmp_path: Path):
    copy = instructions("COPY --from=build /app /app\n")[0]

    with pytest.raises(ValueError, match="source_root_for_from"):
        instruction_parts(copy, state(), options=DEFAULT, context=str(tmp_path))


def test_include_files_false_and_inferred_part(tmp_path: Path):
    copy = instructions("COPY --from=build /app /app\n")[0]

    parts = instruction_parts(copy, state(), options=DEFAULT, include_files=False)
    inferred = parts.with_inferred("f" * 64)

    assert parts.values == [copy.text]
    assert [(part.kind, part.value) for part in inferred.parts] == [
        ("instruction", copy.text), ("inferred", "f" * 64),
    ]


def test_add_skips_urls(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"local.txt": "l"})
    add = instructions("ADD https://example.org/file.tar.gz local.txt /dst/\n")[0]

    parts = instruction_parts(add, state(), options=DEFAULT, context=str(context))

    assert [part.path for part in parts.parts[1:]] == [str(context / "local.txt")]


def test_is_remote_url():
    assert is_remote_url("https://example.org/x")
    assert is_remote_url("git://host/repo")
    assert not is_remote_url("file.txt")
    assert not is_remote_url("/abs/path")
    assert not is_remote_url("http:///nohost")


def test_copy_heredoc_sources_supply_no_files(tmp_path: Path):
    copy = instructions("COPY <<EOF /out.txt\nbody\nEOF\n")[0]

    parts = instruction_parts(copy, state(), options=DEFAULT, context=str(tmp_path))

    assert parts.values == ["COPY <<EOF /out.txt"]


def test_run_bind_mount_hashed(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"src/main.c": "int main;"})
    run = instructions(
        "RUN --mount=type=bind,source=$SRC,target=/s --mount=type=cache,target=/c make\n"
    )[0]

    parts = instruction_parts(run, state([PATH, "SRC=src"]), options=DEFAULT, context=str(context))

    assert parts.parts[-1].kind == "file"
    assert parts.parts[-1].path == str(context / "src")
    assert parts.parts[-2].value == run.text


def test_run_bind_mount_flag_off_and_other_stage(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"src/main.c": "int main;"})
    run_off = instructions("RUN --mount=type=bind,source=src,target=/s make\n")[0]
    run_from = instructions("RUN --mount=type=bind,from=build,source=/out,target=/s make\n")[0]
    off = DEFAULT.with_flags("FF_KANIKO_RUN_MOUNT_BIND", value=False)

    assert [part.kind for part in instruction_parts(run_off, state(), options=off,
                                                    context=str(context)).parts][-1] == "instruction"
    assert [part.kind for part in instruction_parts(run_from, state(), options=DEFAULT,
                                                    context=str(context)).parts][-1] == "instruction"


def test_framing_flag_changes_directory_part(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"d/x": "x"})
    copy = instructions("COPY d /d\n")[0]

    plain = instruction_parts(copy, state(), options=DEFAULT, context=str(context))
    framed = instruction_parts(copy, state(), options=DEFAULT.with_flags("FF_KANIKO_HASH_DIR_FRAMING"),
                               context=str(context))

    assert plain.values[-1] != framed.values[-1]
    digest = hashlib.sha256()
    for rel, entry in (("/d", plain.parts[-1].file.entries[0]), ("/d/x", plain.parts[-1].file.entries[1])):
        digest.update(f"{len(rel)}:{rel}{len(entry.digest)}:{entry.digest}".encode())
    assert framed.values[-1] == digest.hexdigest()


def test_cross_stage_bind_mount_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    context = make_tree(tmp_path / "ctx", {"src/main.c": "int main;"})
    run = instructions(f"RUN --mount=type=bind,from=build,source=/out,target=/s make {tmp_path.name}\n")[0]
    other = instructions(f"RUN --mount=type=bind,from=tools,source=/bin,target=/t make {tmp_path.name}\n")[0]

    with caplog.at_level("DEBUG", logger="cachelab.keys.parts"):
        for _ in range(3):
            instruction_parts(run, state(), options=DEFAULT, context=str(context))
        instruction_parts(other, state(), options=DEFAULT, context=str(context))

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    debugs = [record.getMessage() for record in caplog.records
              if record.levelname == "DEBUG" and "is not hashed" in record.getMessage()]
    assert warnings == [
        "line 2: bind mount from 'build' is not hashed (kaniko skips cross-stage bind mounts)",
        "line 2: bind mount from 'tools' is not hashed (kaniko skips cross-stage bind mounts)",
    ]
    assert len(debugs) == 2
