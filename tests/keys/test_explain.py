"""Explanations of why two instructions' keys differ."""

from __future__ import annotations

import os
from pathlib import Path

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.explain import explain, explain_chain
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KeyParts, instruction_parts
from tests.keys.trees import needs_root

pytestmark = needs_root

PATH = "PATH=/bin"
OPTIONS = KanikoOptions(cache=True)


def parts_of(text: str, env: list[str], context: Path | None = None) -> KeyParts:
    instruction = parse_dockerfile("FROM scratch\n" + text).stages[0].instructions[0]
    state = StageEnv.for_base(env, BuildArgs())
    return instruction_parts(instruction, state, options=OPTIONS,
                             context=str(context) if context else None)


def make_context(root: Path) -> Path:
    (root / "d").mkdir(parents=True)
    (root / "d" / "a.txt").write_text("aaa")
    (root / "d" / "b.txt").write_text("bbb")
    for path in [root, *root.rglob("*")]:
        os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_equal_parts_have_no_difference():
    assert explain(parts_of("RUN x\n", [PATH]), parts_of("RUN x\n", [PATH])) is None


def test_instruction_text_difference():
    difference = explain(parts_of("RUN x\n", [PATH]), parts_of("RUN y\n", [PATH]))

    assert difference is not None
    assert difference.kind == "instruction"
    assert (difference.before, difference.after) == ("RUN x", "RUN y")
    assert "instruction text differs" in difference.describe()


def test_env_entry_difference():
    difference = explain(parts_of("RUN x\n", [PATH, "A=1", "B=1"]),
                         parts_of("RUN x\n", [PATH, "A=2", "C=1"]))

    assert difference is not None
    assert difference.kind == "env"
    assert difference.env_changes == ("A changed", "B removed", "C added")


def test_env_count_difference():
    difference = explain(parts_of("RUN x\n", [PATH]), parts_of("RUN x\n", [PATH, "A=1"]))

    assert difference is not None
    assert difference.kind == "env-count"
    assert difference.env_changes == ("A added",)


def test_file_content_mode_and_owner(tmp_path: Path):
    context = make_context(tmp_path / "ctx")
    before = parts_of("COPY d /d\n", [PATH], context)

    (context / "d" / "a.txt").write_text("AAA")
    (context / "d" / "b.txt").chmod(0o600)
    os.chown(context / "d", 1000, 0)
    after = parts_of("COPY d /d\n", [PATH], context)
    difference = explain(before, after)

    assert difference is not None
    assert difference.kind == "file"
    assert difference.path == str(context / "d")
    changes = {entry.path: entry.aspects for entry in difference.entries}
    assert changes == {
        str(context / "d"): ("owner",),
        str(context / "d" / "a.txt"): ("content",),
        str(context / "d" / "b.txt"): ("mode",),
    }
    assert "content" in difference.describe()


def test_file_added_and_removed(tmp_path: Path):
    context = make_context(tmp_path / "ctx")
    before = parts_of("COPY d /d\n", [PATH], context)

    (context / "d" / "a.txt").unlink()
    (context / "d" / "c.txt").write_text("c")
    os.chown(context / "d" / "c.txt", 0, 0)
    (context / "d" / "c.txt").chmod(0o644)
    after = parts_of("COPY d /d\n", [PATH], context)
    difference = explain(before, after)

    assert difference is not None
    changes = {Path(entry.path).name: entry.aspects for entry in difference.entries}
    assert changes == {"a.txt": ("removed",), "c.txt": ("added",)}


def test_missing_part():
    short = parts_of("RUN x\n", [])
    long = parts_of("RUN x\n", [PATH])

    shifted = explain(short.parts, long.parts)
    truncated = explain(long.parts[:2], long.parts)

    assert shifted is not None and shifted.kind == "env-count"
    assert truncated is not None
    assert truncated.kind == "missing"
    assert (truncated.index, truncated.before, truncated.after) == (2, None, "RUN x")


def test_explain_chain_finds_first_instruction():
    chain_a = [parts_of("RUN a\n", [PATH]), parts_of("RUN b\n", [PATH])]
    chain_b = [parts_of("RUN a\n", [PATH]), parts_of("RUN c\n", [PATH])]

    found = explain_chain(chain_a, chain_b)

    assert found is not None
    assert found[0] == 1
    assert found[1].after == "RUN c"
    assert explain_chain(chain_a, chain_a) is None
    extra = explain_chain(chain_a, chain_a[:1])
    assert extra is not None and extra[0] == 1


def test_instruction_kind_change_compares_texts():
    # RUN with an env block has `|1` where ENV has its instruction text.
    run_then_env = explain(parts_of("RUN echo hi\n", [PATH]), parts_of("ENV A=1\n", [PATH]))
    env_then_run = explain(parts_of("ENV A=1\n", [PATH]), parts_of("RUN echo hi\n", [PATH]))

    assert run_then_env is not None
    assert run_then_env.kind == "instruction"
    assert (run_then_env.before, run_then_env.after) == ("RUN echo hi", "ENV A=1")
    assert run_then_env.index == 0
    assert run_then_env.describe() == "instruction text differs: 'RUN echo hi' -> 'ENV A=1'"
    assert env_then_run is not None
    assert env_then_run.kind == "instruction"
    assert (env_then_run.before, env_then_run.after) == ("ENV A=1", "RUN echo hi")
    assert env_then_run.index == 2


def test_env_block_removed_is_env_change():
    difference = explain(parts_of("RUN x\n", [PATH]), parts_of("RUN x\n", []))

    assert difference is not None
    assert difference.kind == "env-count"
    assert difference.env_changes == ("PATH removed",)
    assert difference.describe() == "RUN environment differs: PATH removed"
