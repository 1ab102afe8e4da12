"""Build secrets: `RUN --mount=type=secret` gets its file, and its content leaks nowhere.

A secret's content must stay out of the cache keys, the layers, the log and
the recorded events. Each build here prints the secret in its RUN step, so
the RUN output is where a leak would come from.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import tarfile
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.errors import InstructionError, RunFailed
from cachelab.build.request import BuildRequest, InvalidBuildRequest
from cachelab.build.sandbox import REDACTED
from cachelab.cli import main
from cachelab.cli._secrets import InvalidSecret, SecretSource, parse_secret, secret_files
from cachelab.events import BuildFinished, ListSink
from tests.fixtures.builder import build_text

USES_SECRET = """\
FROM busybox
RUN --mount=type=secret,id=token echo "token is $(cat /run/secrets/token)" && echo used > /used
RUN --mount=type=secret,id=token,target=/etc/app/token,required=true wc -c < /etc/app/token > /size
RUN echo after > /after
"""

FIRST_SECRET = "s3cr3t-first-value"
SECOND_SECRET = "s3cr3t-second-value-longer"


def _write(tmp_path: Path, text: str) -> tuple[Path, Path]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    return dockerfile, context


def _secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n")
    return path


def _build(tmp_path: Path, image_store: Path, text: str, secrets: dict[str, Path], **options: object) -> tuple:
    return build_text(tmp_path, image_store, text, secrets=secrets, **options)


def _layer_tars(directory: Path) -> list[tuple[Path, bytes, list[str]]]:
    """Return every blob under `directory` that is a (gzip-compressed) tar: path, bytes uncompressed, names."""
    tars = []
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                names = archive.getnames()
        except tarfile.TarError:
            continue
        tars.append((path, data, names))
    return tars


def test_secret_changes_no_key_or_hit(tmp_path: Path, image_store: Path) -> None:
    first, _ = _build(tmp_path, image_store, USES_SECRET, {"token": _secret_file(tmp_path, "a", FIRST_SECRET)})
    second, _ = _build(tmp_path, image_store, USES_SECRET, {"token": _secret_file(tmp_path, "b", SECOND_SECRET)})

    first_keys = [item.key for item in first.stages[0].instructions]
    second_keys = [item.key for item in second.stages[0].instructions]
    assert first_keys == second_keys
    assert [item.decision for item in first.stages[0].instructions] == ["miss", "not-probed", "not-probed"]
    assert [item.decision for item in second.stages[0].instructions] == ["hit", "hit", "hit"]
    assert [layer.digest for layer in first.image.layers] == [layer.digest for layer in second.image.layers]


def test_secret_absent_from_layers(tmp_path: Path, image_store: Path) -> None:
    destination = tmp_path / "out"
    _build(tmp_path, image_store, USES_SECRET, {"token": _secret_file(tmp_path, "a", FIRST_SECRET)},
           destination=f"oci:{destination}:latest")

    tars = _layer_tars(destination) + _layer_tars(tmp_path / "cache")
    names = {name for _, _, layer_names in tars for name in layer_names}
    assert len(tars) >= 4  # base, two RUN layers with secrets, the last RUN
    assert {"used", "size", "after"} <= {name.lstrip("./") for name in names}
    assert not [name for name in names if "secrets" in name or name.lstrip("./").startswith("etc/app")]
    for path, data, _ in tars:
        assert FIRST_SECRET.encode() not in data, path


def test_secret_masked_in_log_and_events(
    tmp_path: Path, image_store: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, events = _build(tmp_path, image_store, USES_SECRET, {"token": _secret_file(tmp_path, "a", FIRST_SECRET)})

    assert f"token is {REDACTED}" in caplog.text
    assert FIRST_SECRET not in caplog.text
    assert FIRST_SECRET not in repr(events)


def test_secret_absent_from_recording(tmp_path: Path, image_store: Path) -> None:
    from cachelab.record import Recording

    _, events = _build(tmp_path, image_store, USES_SECRET, {"token": _secret_file(tmp_path, "a", FIRST_SECRET)})
    Recording.from_events(events).save(tmp_path / "record")

    tables = Recording.load(tmp_path / "record").tables()
    assert set(tables) == {"builds", "stages", "instructions", "spans"}
    for name, table in tables.items():
        assert FIRST_SECRET not in table.to_csv(), name


def test_failed_run_masks_secret(tmp_path: Path, image_store: Path) -> None:
    text = "FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token && exit 3\n"
    dockerfile, context = _write(tmp_path, text)
    sink = ListSink()
    request = BuildRequest(
        dockerfile, context, strategy="per-stage", cache=str(tmp_path / "cache"), image_store=str(image_store),
        secrets={"token": _secret_file(tmp_path, "a", FIRST_SECRET)},
    )

    with pytest.raises(RunFailed) as failure:
        build(request, sink=sink, progress=False)

    assert failure.value.output_tail == [REDACTED]
    assert FIRST_SECRET not in str(failure.value)
    finished = [event for event in sink.events if isinstance(event, BuildFinished)]
    assert finished[0].outcome == "error"
    assert FIRST_SECRET not in repr(sink.events)


def test_required_secret_missing_fails(tmp_path: Path, image_store: Path) -> None:
    text = "FROM busybox\nRUN --mount=type=secret,id=token,required=true true\n"

    with pytest.raises(InstructionError) as failure:
        _build(tmp_path, image_store, text, {})

    assert str(failure.value).startswith(
        f"{tmp_path / 'Dockerfile'}:2: RUN --mount=type=secret,id=token,required=true true: "
        "secret 'token' is required"
    )


def test_optional_secret_missing_builds(tmp_path: Path, image_store: Path) -> None:
    text = "FROM busybox\nRUN --mount=type=secret,id=token test ! -e /run/secrets/token\n"

    result, _ = _build(tmp_path, image_store, text, {})

    assert result.image_digest is not None


def test_missing_secret_file_rejected(tmp_path: Path) -> None:
    dockerfile, context = _write(tmp_path, "FROM busybox\n")
    request = BuildRequest(dockerfile, context, secrets={"token": tmp_path / "absent"})

    with pytest.raises(InvalidBuildRequest, match=r"secret 'token': file .*absent not found"):
        build(request, progress=False)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("id=token,src=/tmp/t", SecretSource("token", path="/tmp/t")),
        ("id=token,source=/tmp/t", SecretSource("token", path="/tmp/t")),
        ("type=file,id=token,src=/tmp/t", SecretSource("token", path="/tmp/t")),
        ("id=token,env=TOKEN_VAR", SecretSource("token", env="TOKEN_VAR")),
        ("type=env,id=token,src=TOKEN_VAR", SecretSource("token", env="TOKEN_VAR")),
        ("type=env,id=token", SecretSource("token", env="token")),
        ("id=token", SecretSource("token", path="token")),
    ],
)
def test_parse_secret_forms(spec: str, expected: SecretSource, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("token", raising=False)

    assert parse_secret(spec) == expected


def test_parse_secret_id_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("token", "value")

    assert parse_secret("id=token") == SecretSource("token", env="token")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("src=/tmp/t", "has no id"),
        ("id=token,path=/tmp/t", "unknown field 'path'"),
        ("id=token,src", "is not KEY=VALUE"),
        ("type=ssh,id=token", "type 'ssh' is not file or env"),
        ("id=token,src=/tmp/t,env=VAR", "both a file and an environment variable"),
    ],
)
def test_parse_secret_rejects(spec: str, message: str) -> None:
    with pytest.raises(InvalidSecret, match=message):
        parse_secret(spec)


def test_secret_files_env_written_privately(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_TEST_TOKEN", FIRST_SECRET)

    with secret_files(["id=token,env=CACHELAB_TEST_TOKEN"]) as files:
        path = files["token"]
        assert path.read_text() == FIRST_SECRET
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(path.parent).st_mode & 0o777 == 0o700

    assert not path.exists()


def test_secret_files_rejects_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CACHELAB_TEST_UNSET", raising=False)

    with pytest.raises(InvalidSecret, match="CACHELAB_TEST_UNSET is not set"), \
            secret_files(["id=token,env=CACHELAB_TEST_UNSET"]):
        pass
    with pytest.raises(InvalidSecret, match="absent not found"), \
            secret_files([f"id=token,src={tmp_path / 'absent'}"]):
        pass
    (tmp_path / "t").write_text("x")
    with pytest.raises(InvalidSecret, match="given twice"), \
            secret_files([f"id=token,src={tmp_path / 't'}", f"id=token,src={tmp_path / 't'}"]):
        pass


# Fails unless the secret `token` holds FIRST_SECRET.
NEEDS_FIRST_SECRET = "FROM busybox\nRUN --mount=type=secret,id=token,required=true grep -q first-value /run/secrets/token\n"


def test_cli_build_env_secret(
    tmp_path: Path, image_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CACHELAB_TEST_TOKEN", FIRST_SECRET)
    dockerfile, context = _write(tmp_path, NEEDS_FIRST_SECRET)

    code = main([
        "build", str(dockerfile), "--context", str(context), "--quiet", "--image-store", str(image_store),
        "--cache-repo", str(tmp_path / "cache"), "--secret", "id=token,env=CACHELAB_TEST_TOKEN",
    ])

    assert code == 0
    assert capsys.readouterr().out.strip().startswith("sha256:")


def test_cli_build_missing_secret_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile, context = _write(tmp_path, "FROM busybox\n")

    code = main(["build", str(dockerfile), "--context", str(context), "--secret", f"id=token,src={tmp_path / 'nope'}"])

    assert code == 1
    assert "nope not found" in capsys.readouterr().err


def test_cli_compare_passes_secret(
    tmp_path: Path, image_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CACHELAB_TEST_TOKEN", FIRST_SECRET)
    dockerfile, context = _write(tmp_path, NEEDS_FIRST_SECRET)

    code = main([
        "compare", str(dockerfile), "--context", str(context), "--quiet", "--image-store", str(image_store),
        "--strategies", "per-stage", "--out", str(tmp_path / "out"), "--secret", "id=token,env=CACHELAB_TEST_TOKEN",
    ])

    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "builds.parquet").is_file()


def test_cli_compare_mode_rejects_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(tmp_path), "--mode", "model", "--secret", f"id=token,src={tmp_path / 't'}"])

    assert code == 1
    assert "--secret applies to one Dockerfile, not to a corpus study" in capsys.readouterr().err
