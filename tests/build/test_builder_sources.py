"""COPY --from an external image, WORKDIR and metadata layers, and the progress lines."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.progress import Progress, progress_wanted
from cachelab.build.request import BuildRequest
from cachelab.events import SpanRecorded
from cachelab.keys.flags import profile
from cachelab.oci.extract import extract_layer
from cachelab.oci.image import ImageResolver
from tests.fixtures.builder import build_text
from tests.fixtures.images import BusyboxImage

COPY_FROM_IMAGE = """\
FROM busybox
COPY --from=busybox /bin/busybox /copied/busybox
RUN /copied/busybox test -x /copied/busybox
"""

WORKDIR_AND_ENV = """\
FROM busybox
ENV GREETING=hello
WORKDIR /srv/app
RUN echo "$GREETING" > greeting.txt
CMD ["cat", "greeting.txt"]
"""


_build = build_text


def test_copy_from_external_image(tmp_path: Path, image_store: Path) -> None:
    cold, _ = _build(tmp_path, image_store, COPY_FROM_IMAGE, "per-stage")
    warm, events = _build(tmp_path, image_store, COPY_FROM_IMAGE, "per-stage")

    assert [i.decision for i in cold.stages[0].instructions] == ["miss", "not-probed"]
    assert [i.decision for i in warm.stages[0].instructions] == ["hit", "hit"]
    assert warm.stages[0].instructions[0].files_hashed == 1
    unpacks = [event for event in events if isinstance(event, SpanRecorded) and event.phase == "unpack"]
    assert [event.attributes["digest"] for event in unpacks] == [
        layer.digest for layer in cold.image.layers[:1]
    ]


def test_workdir_env_and_cmd_in_config(tmp_path: Path, image_store: Path) -> None:
    result, _ = _build(tmp_path, image_store, WORKDIR_AND_ENV, "lookahead")

    config = json.loads(result.image.config)
    assert config["config"]["WorkingDir"] == "/srv/app"
    assert "GREETING=hello" in config["config"]["Env"]
    assert config["config"]["Cmd"] == ["cat", "greeting.txt"]
    # With the cache on, every instruction adds a layer: base, ENV, WORKDIR, RUN, CMD.
    assert len(result.image.layers) == 5


def test_workdir_layers_without_cache(tmp_path: Path, image_store: Path) -> None:
    result, _ = _build(tmp_path, image_store, WORKDIR_AND_ENV, "no-cache")

    config = json.loads(result.image.config)
    # Without the cache only WORKDIR and RUN add layers; ENV and CMD add empty history entries.
    assert len(result.image.layers) == 3
    assert [entry.get("empty_layer", False) for entry in config["history"][-4:]] == [True, False, False, True]


def test_progress_lines_name_decisions(
    tmp_path: Path, image_store: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(WORKDIR_AND_ENV)
    (tmp_path / "context").mkdir()
    request = BuildRequest(dockerfile, tmp_path / "context", strategy="lookahead",
                           cache=str(tmp_path / "cache"), image_store=str(image_store))

    build(request, progress=True)

    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[stage 0] FROM busybox (unpack base)"
    assert any(" miss " in line and "WORKDIR /srv/app" in line for line in lines)
    assert any("not-probed" in line and "RUN echo" in line for line in lines)
    assert lines[-1].startswith("built sha256:")


def test_progress_off_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    assert progress_wanted(Terminal()) is True
    monkeypatch.setenv("CI", "true")
    assert progress_wanted(Terminal()) is False
    assert progress_wanted(io.StringIO()) is False


def test_progress_disabled_writes_nothing() -> None:
    stream = io.StringIO()
    Progress(False, stream).build_finished("sha256:abc", 1.0)
    assert stream.getvalue() == ""


def test_base_pulled_from_registry(tmp_path: Path, image_store: Path, busybox_image: BusyboxImage) -> None:
    text = f"FROM {busybox_image.registry_ref}\nRUN echo pulled > /pulled.txt\n"
    result, events = _build(tmp_path, image_store, text, "per-stage")

    downloads = [event for event in events if isinstance(event, SpanRecorded) and event.phase == "download"]
    assert len(downloads) == 1
    assert downloads[0].bytes == result.image.layers[0].size
    assert (downloads[0].requests or 0) >= 1
    assert downloads[0].attributes["origin"] == "base"
    assert result.stages[0].base_ref == busybox_image.registry_ref


def test_run_cache_mount_kept_between_builds(
    tmp_path: Path, image_store: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))
    text = (
        "FROM busybox\n"
        "RUN --mount=type=cache,target=/var/cache/count echo run >> /var/cache/count/runs && "
        "wc -l < /var/cache/count/runs > /runs-seen\n"
    )
    for _ in range(2):
        result, _ = _build(tmp_path, image_store, text, "no-cache")

    runs = list((tmp_path / "home" / "run-mount-cache").glob("*/runs"))
    assert len(runs) == 1
    assert runs[0].read_text() == "run\nrun\n"
    assert len(result.image.layers) == 2


MANY_KINDS = """\
ARG BASE=busybox
FROM ${BASE} AS tools
ARG GREETING=hi
LABEL purpose=test
SHELL ["/bin/sh", "-e", "-c"]
ADD files.tar.gz /opt/files/
RUN <<EOF
echo "$GREETING from heredoc" > /opt/heredoc.txt
EOF
USER nobody
RUN id -u > /tmp/uid.txt
USER root
EXPOSE 8080/tcp
STOPSIGNAL SIGTERM

FROM busybox
COPY --from=tools /opt/ /opt/
COPY --from=tools /tmp/uid.txt /uid.txt
ENTRYPOINT ["cat"]
CMD ["/opt/heredoc.txt"]
"""


def test_many_instruction_kinds(tmp_path: Path, image_store: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (tmp_path / "inner.txt").write_text("from the archive\n")
    with tarfile.open(context / "files.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "inner.txt", arcname="inner.txt")
    destination = f"oci:{tmp_path / 'out'}:many"

    cold, _ = _build(tmp_path, image_store, MANY_KINDS, "lookahead",
                     build_args={"GREETING": "hello"}, destination=destination)
    warm, _ = _build(tmp_path, image_store, MANY_KINDS, "lookahead",
                     build_args={"GREETING": "hello"}, destination=destination)

    assert [plan.action for plan in warm.stages] == ["eliminated", "built"]
    assert all(i.decision in ("hit", "not-probed") for i in warm.stages[1].instructions)
    assert warm.image.layers == cold.image.layers
    config = json.loads(cold.image.config)["config"]
    assert config["Entrypoint"] == ["cat"]
    assert config["Cmd"] == ["/opt/heredoc.txt"]

    root = tmp_path / "root"
    resolver = ImageResolver()
    try:
        for layer in resolver.image(destination).layers():
            with layer.open() as blob:
                extract_layer(blob, root, layer_digest=layer.digest)
    finally:
        resolver.close()
    assert (root / "opt" / "heredoc.txt").read_text() == "hello from heredoc\n"
    assert (root / "opt" / "files" / "inner.txt").read_text() == "from the archive\n"
    assert (root / "uid.txt").read_text() == "65534\n"


def test_zstd_layers(tmp_path: Path, image_store: Path) -> None:
    options = profile("kaniko-lookahead").with_changes(compression="zstd")
    text = "FROM busybox\nRUN echo zstd > /z.txt\n"

    cold, _ = _build(tmp_path, image_store, text, "lookahead", options=options)
    warm, _ = _build(tmp_path, image_store, text, "lookahead", options=options)

    built = cold.image.layers[1:]
    assert [layer.media_type for layer in built] == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    assert [i.decision for i in warm.stages[0].instructions] == ["hit"]
    assert warm.image.layers == cold.image.layers


def test_unused_stage_costs_nothing(tmp_path: Path, image_store: Path) -> None:
    text = (
        "FROM busybox AS unused\n"
        "COPY data.bin /data.bin\n"
        "RUN cat /data.bin > /copy.bin\n"
        "\n"
        "FROM busybox\n"
        "RUN echo final > /final.txt\n"
    )
    (tmp_path / "context").mkdir()
    (tmp_path / "context" / "data.bin").write_bytes(b"x" * 4096)

    result, events = _build(tmp_path, image_store, text, "lookahead")

    assert [plan.action for plan in result.stages] == ["unused", "built"]
    spans_of_unused = [event for event in events if isinstance(event, SpanRecorded) and event.stage_index == 0]
    assert spans_of_unused == []
    assert not any(isinstance(event, SpanRecorded) and event.phase == "hash-context" for event in events)
