"""Parsing Dockerfile text into the instruction model."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.dockerfile import DockerfileError, load_dockerfile, parse_dockerfile


def _only_stage_instructions(text: str):
    return parse_dockerfile(text).stages[0].instructions


def test_continuation_joins_lines_keeping_indent():
    (run,) = _only_stage_instructions("FROM a\nRUN echo one \\\n    && echo two\n")

    assert run.text == "RUN echo one     && echo two"
    assert run.start_line == 2
    assert run.end_line == 3


def test_comment_inside_continuation_dropped():
    text = "FROM a\nRUN apt-get update \\\n# refresh first\n  && apt-get install -y x\n"
    (run,) = _only_stage_instructions(text)

    assert run.text == "RUN apt-get update   && apt-get install -y x"
    assert run.end_line == 4


def test_blank_line_inside_continuation_dropped():
    (run,) = _only_stage_instructions("FROM a\nRUN a \\\n\n  b\n")

    assert run.text == "RUN a   b"


def test_text_keeps_keyword_case_and_variables():
    (copy,) = _only_stage_instructions("FROM a\ncopy --chown=$U:$G src/ /app/\n")

    assert copy.kind == "COPY"
    assert copy.text == "copy --chown=$U:$G src/ /app/"
    assert copy.flag("chown") == "$U:$G"
    assert copy.args == ("src/", "/app/")


def test_text_strips_surrounding_blanks():
    (run,) = _only_stage_instructions("FROM a\n   RUN   true   \n")

    assert run.text == "RUN   true"


def test_run_heredoc_text_is_first_line():
    text = "FROM a\nRUN <<EOF cat > /out\nhello $X\nEOF\nRUN true\n"
    run, after = _only_stage_instructions(text)

    assert run.text == "RUN <<EOF cat > /out"
    assert run.end_line == 4
    (doc,) = run.heredocs
    assert doc.name == "EOF"
    assert doc.body == "hello $X\n"
    assert doc.chomp is False
    assert doc.quoted is False
    assert after.start_line == 5


def test_heredoc_chomp_and_quoted_delimiter():
    text = 'FROM a\nCOPY <<-"EOT" /file\n\tline\nEOT\n'
    (copy,) = _only_stage_instructions(text)
    (doc,) = copy.heredocs

    assert doc.chomp is True
    assert doc.quoted is True
    assert doc.body == "\tline\n"
    assert doc.chomped_body == "line\n"


def test_heredoc_single_quoted_and_partly_quoted():
    text = "FROM a\nRUN <<'ONE' <<T\"WO\" cat\na\nONE\nb\nTWO\n"
    (run,) = _only_stage_instructions(text)

    assert [doc.name for doc in run.heredocs] == ["ONE", "TWO"]
    assert [doc.quoted for doc in run.heredocs] == [True, True]
    assert [doc.body for doc in run.heredocs] == ["a\n", "b\n"]


def test_heredoc_file_descriptor():
    (run,) = _only_stage_instructions("FROM a\nRUN 3<<EOF cat <&3\nx\nEOF\n")

    assert run.heredocs[0].file_descriptor == 3
    assert run.heredocs[0].quoted is False


def test_flags_grouped_by_name():
    text = "FROM a\nCOPY --link --exclude=*.md --exclude=*.txt --from=build /src /dst\n"
    (copy,) = _only_stage_instructions(text)

    assert copy.flags == (("link", ()), ("exclude", ("*.md", "*.txt")), ("from", ("build",)))
    assert copy.flag("link") == ""
    assert copy.flag_values("exclude") == ("*.md", "*.txt")
    assert copy.copy_from == "build"


def test_add_flags():
    text = "FROM a\nADD --checksum=sha256:abc --keep-git-dir=true --unpack https://x/y.tgz /y\n"
    (add,) = _only_stage_instructions(text)

    assert add.flag("checksum") == "sha256:abc"
    assert add.flag("keep-git-dir") == "true"
    assert add.flag("unpack") == ""


def test_run_mounts_parsed():
    text = (
        "FROM a\n"
        "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked \\\n"
        "    --mount=from=build,src=/out,dst=/in \\\n"
        "    --mount=type=secret,id=token,required \\\n"
        "    --network=none make\n"
    )
    (run,) = _only_stage_instructions(text)
    cache, bind, secret = run.mounts

    assert cache.type == "cache"
    assert cache.target == "/root/.cache"
    assert cache.id == "pip"
    assert cache.readonly is False
    assert ("sharing", "locked") in cache.options
    assert bind.type == "bind"
    assert bind.from_ == "build"
    assert bind.source == "/out"
    assert bind.target == "/in"
    assert bind.readonly is True
    assert secret.type == "secret"
    assert secret.id == "token"
    assert run.flag("network") == "none"


def test_bind_mount_rw_is_writable():
    (run,) = _only_stage_instructions("FROM a\nRUN --mount=target=/w,rw make\n")

    assert run.mounts[0].readonly is False


def test_exec_form():
    cmd, entrypoint = _only_stage_instructions('FROM a\nCMD ["a", "b c"]\nENTRYPOINT run me\n')

    assert cmd.exec_form is True
    assert cmd.args == ("a", "b c")
    assert entrypoint.exec_form is False


def test_onbuild_trigger_parsed():
    (onbuild,) = _only_stage_instructions("FROM a\nONBUILD COPY --from=builder /x /y\n")

    assert onbuild.kind == "ONBUILD"
    assert onbuild.text == "ONBUILD COPY --from=builder /x /y"
    assert onbuild.trigger is not None
    assert onbuild.trigger.kind == "COPY"
    assert onbuild.trigger.text == "COPY --from=builder /x /y"
    assert onbuild.trigger.copy_from == "builder"
    assert onbuild.trigger.start_line == 2


def test_onbuild_trigger_with_heredoc():
    text = "FROM a\nONBUILD COPY <<data /file\nline one\ndata\nRUN true\n"
    onbuild, run = _only_stage_instructions(text)

    assert onbuild.trigger is not None
    assert onbuild.trigger.text == "COPY <<data /file"
    assert onbuild.trigger.heredocs[0].body == "line one\n"
    assert run.start_line == 5


def test_maintainer_kept():
    (maintainer,) = _only_stage_instructions("FROM a\nMAINTAINER someone\n")

    assert maintainer.kind == "MAINTAINER"
    assert maintainer.text == "MAINTAINER someone"


def test_directives_read():
    dockerfile = parse_dockerfile("# syntax=docker/dockerfile:1\n# CHECK=skip=all\nFROM a\n")

    assert dockerfile.directives == (("syntax", "docker/dockerfile:1"), ("check", "skip=all"))
    assert dockerfile.escape == "\\"


def test_directives_end_at_first_other_line():
    dockerfile = parse_dockerfile("# a comment\n# escape=`\nFROM a\n")

    assert dockerfile.directives == ()
    assert dockerfile.escape == "\\"


def test_escape_directive_backtick():
    text = "# escape=`\nFROM a\nRUN dir C:\\ `\n    /b\n"
    dockerfile = parse_dockerfile(text)
    (run,) = dockerfile.stages[0].instructions

    assert dockerfile.escape == "`"
    assert dockerfile.directives == (("escape", "`"),)
    assert run.text == "RUN dir C:\\     /b"


def test_meta_args_and_stage_names():
    text = "ARG BASE=alpine\nARG TAG\nFROM $BASE:$TAG AS Build\nFROM build\nFROM scratch AS out\n"
    dockerfile = parse_dockerfile(text)

    assert [arg.text for arg in dockerfile.meta_args] == ["ARG BASE=alpine", "ARG TAG"]
    assert [stage.name for stage in dockerfile.stages] == ["build", None, "out"]
    assert [stage.base for stage in dockerfile.stages] == ["$BASE:$TAG", "build", "scratch"]
    assert [stage.index for stage in dockerfile.stages] == [0, 1, 2]


def test_from_platform_flag():
    dockerfile = parse_dockerfile("FROM --platform=$BUILDPLATFORM golang AS b\n")

    assert dockerfile.stages[0].platform == "$BUILDPLATFORM"


def test_byte_order_mark_ignored():
    dockerfile = parse_dockerfile("\ufeffFROM a\n")

    assert dockerfile.stages[0].base == "a"


def test_crlf_line_endings():
    (run,) = _only_stage_instructions("FROM a\r\nRUN a \\\r\n  b\r\n")

    assert run.text == "RUN a   b"


def test_load_dockerfile_reads_path(tmp_path: Path):
    path = tmp_path / "Containerfile"
    path.write_text("FROM busybox\nRUN true\n", encoding="utf-8")

    dockerfile = load_dockerfile(path)

    assert dockerfile.path == str(path)
    assert dockerfile.stages[0].instructions[0].text == "RUN true"


def test_load_dockerfile_invalid_utf8(tmp_path: Path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM a\nRUN echo \xff\n")

    with pytest.raises(DockerfileError) as raised:
        load_dockerfile(path)

    assert raised.value.line == 2
