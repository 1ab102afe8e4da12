"""Metadata instructions applied to the image config, and the config JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cachelab.build.config import ImageConfig
from cachelab.build.errors import InstructionError
from cachelab.build.metadata import apply_metadata, parse_duration, resolve_workdir
from cachelab.dockerfile.lexer import expand_word
from cachelab.dockerfile.model import Instruction
from cachelab.dockerfile.parse import parse_dockerfile

BASE_CONFIG = json.dumps({
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-01T00:00:00Z",
    "config": {"Env": ["PATH=/bin", "A=base"], "Cmd": ["sh"], "Labels": {"base": "yes"}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
    "history": [{"created_by": "import", "created": "2024-01-01T00:00:00Z"}],
    "os.version": "10",
}).encode()


def _instructions(body: str) -> list[Instruction]:
    return list(parse_dockerfile("FROM scratch\n" + body).stages[0].instructions)


def _apply(config: ImageConfig, body: str) -> ImageConfig:
    for instruction in _instructions(body):
        env = dict(item.split("=", 1) for item in config.config.env or [])
        apply_metadata(config, instruction, lambda word, env=env: expand_word(word, env))
    return config


def test_env_expands_with_previous_values() -> None:
    config = _apply(ImageConfig.from_json(BASE_CONFIG), 'ENV A=new B=$A C="x y"\nENV D ${A}-legacy form\n')

    assert config.config.env == ["PATH=/bin", "A=new", "B=base", "C=x y", "D=new-legacy form"]


def test_label_user_stopsignal_expanded() -> None:
    config = _apply(ImageConfig.from_json(BASE_CONFIG),
                    'ENV U=app\nLABEL "my key"=$U other=v\nUSER ${U}:staff\nSTOPSIGNAL SIGKILL\n')

    assert config.config.labels == {"base": "yes", "my key": "app", "other": "v"}
    assert config.config.user == "app:staff"
    assert config.config.stop_signal == "SIGKILL"


def test_expose_defaults_and_ranges() -> None:
    config = _apply(ImageConfig(), "EXPOSE 80 53/udp 8000-8002/tcp\n")

    assert config.config.exposed_ports == {
        "80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {},
    }


def test_expose_invalid_port() -> None:
    with pytest.raises(InstructionError, match="line 2"):
        _apply(ImageConfig(), "EXPOSE eighty\n")


def test_volume_records_without_mkdir() -> None:
    config = _apply(ImageConfig(), 'VOLUME ["/data", "/logs"]\nVOLUME /cache\n')

    assert config.config.volumes == {"/data": {}, "/logs": {}, "/cache": {}}


def test_cmd_entrypoint_forms() -> None:
    config = _apply(ImageConfig(), 'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]\nCMD echo hi\nENTRYPOINT ["/app"]\n')

    assert config.config.cmd == ["/bin/ash", "-eo", "pipefail", "-c", "echo hi"]
    assert config.config.entrypoint == ["/app"]
    assert config.config.shell == ["/bin/ash", "-eo", "pipefail", "-c"]


def test_entrypoint_clears_inherited_cmd() -> None:
    config = _apply(ImageConfig.from_json(BASE_CONFIG), 'ENTRYPOINT ["/app"]\n')

    assert config.config.cmd is None


def test_shell_needs_json() -> None:
    # The parser rejects this text first, so the instruction is built directly.
    shell = Instruction(kind="SHELL", text="SHELL /bin/bash -c", args=("/bin/bash -c",), start_line=2, end_line=2)
    with pytest.raises(InstructionError, match="JSON array"):
        apply_metadata(ImageConfig(), shell, lambda word: word)


def test_healthcheck_forms() -> None:
    config = _apply(ImageConfig(), 'HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD ["curl", "-f", "x"]\n')

    check = config.config.healthcheck
    assert check is not None
    assert check.test == ["CMD", "curl", "-f", "x"]
    assert check.interval_ns == 90_000_000_000
    assert check.timeout_ns == 500_000_000
    assert check.retries == 3
    assert check.to_json() == {"Test": ["CMD", "curl", "-f", "x"], "Interval": 90_000_000_000,
                               "Timeout": 500_000_000, "Retries": 3}

    shell = _apply(ImageConfig(), "HEALTHCHECK CMD curl -f x || exit 1\n").config.healthcheck
    assert shell is not None
    assert shell.test == ["CMD-SHELL", "curl -f x || exit 1"]
    none = _apply(ImageConfig(), "HEALTHCHECK NONE\n").config.healthcheck
    assert none is not None
    assert none.test == ["NONE"]


def test_healthcheck_signed_values() -> None:
    # BuildKit's parser takes a leading plus sign, as Go's number and duration parsers do.
    config = _apply(ImageConfig(), "HEALTHCHECK --interval=+5s --retries=+3 CMD true\n")

    check = config.config.healthcheck
    assert check is not None
    assert check.interval_ns == 5_000_000_000
    assert check.retries == 3


def test_healthcheck_negative_zero() -> None:
    # BuildKit takes -0 and -0s, because a negative value is rejected only when it is not zero.
    config = _apply(ImageConfig(), "HEALTHCHECK --interval=-0s --retries=-0 CMD true\n")

    check = config.config.healthcheck
    assert check is not None
    assert check.interval_ns == 0
    assert check.retries == 0


def test_healthcheck_bad_duration() -> None:
    # The parser rejects this text first, so the instruction is built directly.
    healthcheck = Instruction(
        kind="HEALTHCHECK", text="HEALTHCHECK --interval=soon CMD true", args=("CMD", "true"),
        start_line=2, end_line=2, flags=(("interval", ("soon",)),),
    )
    with pytest.raises(InstructionError, match="line 2"):
        apply_metadata(ImageConfig(), healthcheck, lambda word: word)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("", 0), ("30s", 30_000_000_000), ("1h2m", 3_720_000_000_000), ("1.5s", 1_500_000_000),
     ("250ms", 250_000_000), ("10us", 10_000), ("1.1s", 1_100_000_000)],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


def test_onbuild_workdir_maintainer_arg() -> None:
    config = _apply(ImageConfig(), "ONBUILD RUN echo $A\nWORKDIR /app\nWORKDIR sub/../src\nMAINTAINER Jane <j@x>\nARG X=1\n")

    assert config.config.on_build == ["RUN echo $A"]
    assert config.config.working_dir == "/app/src"
    assert config.author == "Jane <j@x>"
    assert config.config.env is None


def test_resolve_workdir() -> None:
    assert resolve_workdir("", "app") == "/app"
    assert resolve_workdir("/a", "/b") == "/b"
    assert resolve_workdir("/a/b", "../c/") == "/a/c"


def test_run_is_not_metadata() -> None:
    with pytest.raises(InstructionError, match="not a metadata"):
        _apply(ImageConfig(), "RUN true\n")


def test_json_round_trip_keeps_unknown_keys() -> None:
    config = ImageConfig.from_json(BASE_CONFIG)

    data = json.loads(config.to_json())

    assert data["os.version"] == "10"
    assert data["config"] == {"Env": ["PATH=/bin", "A=base"], "Cmd": ["sh"], "Labels": {"base": "yes"}}
    assert data["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}
    assert data["history"] == [{"created": "2024-01-01T00:00:00Z", "created_by": "import"}]


def test_history_entries() -> None:
    config = ImageConfig()
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    config.append_layer("sha256:" + "2" * 64, "RUN true", created=moment)
    config.append_empty_history("ENV A=1", created=moment)

    data = json.loads(config.to_json())
    assert data["rootfs"]["diff_ids"] == ["sha256:" + "2" * 64]
    assert data["history"] == [
        {"created": "2026-01-02T03:04:05Z", "author": "kaniko", "created_by": "RUN true"},
        {"created": "2026-01-02T03:04:05Z", "author": "kaniko", "created_by": "ENV A=1",
         "empty_layer": True},
    ]


@pytest.mark.parametrize("text", ["7d", "-5s", "5"])
def test_parse_duration_rejects_non_go(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
