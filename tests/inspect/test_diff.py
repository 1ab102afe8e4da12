from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.diff import diff_images
from cachelab.oci.image import ImageResolver
from tests.fixtures.builder import ExampleBuilder
from tests.inspect.synthetic import entry, gzip_fixed, write_image

BASE = [entry("bin", "dir", mode=0o755), entry("bin/tool", data=b"tool", mode=0o755)]


@pytest.fixture
def resolver() -> Iterator[ImageResolver]:
    opened = ImageResolver()
    yield opened
    opened.close()


def test_diff_reports_changed_paths(tmp_path: Path, resolver: ImageResolver) -> None:
    store = tmp_path / "store"
    write_image(f"oci:{store}:a", [BASE, [
        entry("out/same", data=b"same"),
        entry("out/stamp", data=b"1111", mtime=100),
        entry("out/script", data=b"#!", mode=0o644),
        entry("out/owned", data=b"o", uid=0),
        entry("out/removed", data=b"r"),
    ]])
    write_image(f"oci:{store}:b", [BASE, [
        entry("out/same", data=b"same"),
        entry("out/stamp", data=b"2222", mtime=200),
        entry("out/script", data=b"#!", mode=0o755),
        entry("out/owned", data=b"o", uid=1000),
        entry("out/added", data=b"a"),
    ]])

    result = diff_images(resolver.image(f"oci:{store}:a"), resolver.image(f"oci:{store}:b"))

    assert [layer.status for layer in result.layers] == ["shared", "differs"]
    assert result.layers[0].same_blob
    changes = {change.path: change for change in result.layers[1].changes}
    assert set(changes) == {"out/stamp", "out/script", "out/owned", "out/removed", "out/added"}
    assert changes["out/stamp"].fields == ("content", "mtime")
    assert changes["out/script"].fields == ("mode",)
    assert changes["out/owned"].fields == ("owner",)
    assert changes["out/removed"].status == "removed"
    assert changes["out/added"].status == "added"
    assert not result.identical_layers


def test_diff_extra_layer_lists_its_paths(tmp_path: Path, resolver: ImageResolver) -> None:
    store = tmp_path / "store"
    write_image(f"oci:{store}:a", [BASE])
    write_image(f"oci:{store}:b", [BASE, [entry("extra/file", data=b"e"), entry("bin/.wh.tool")]])

    result = diff_images(resolver.image(f"oci:{store}:a"), resolver.image(f"oci:{store}:b"))

    assert [layer.status for layer in result.layers] == ["shared", "only-b"]
    extra = result.layers[1]
    assert extra.digest_a is None
    assert [(change.path, change.status) for change in extra.changes] == [
        ("bin/tool", "added"), ("extra/file", "added"),
    ]
    assert extra.changes[0].after is not None
    assert extra.changes[0].after.kind == "whiteout"


def test_same_tar_other_compression_is_shared(tmp_path: Path, resolver: ImageResolver) -> None:
    import zstandard

    from cachelab.oci import mediatypes

    store = tmp_path / "store"
    write_image(f"oci:{store}:gzip", [BASE])
    write_image(f"oci:{store}:zstd", [BASE], compress=zstandard.ZstdCompressor().compress,
                media_type=mediatypes.OCI_LAYER_ZSTD)

    result = diff_images(resolver.image(f"oci:{store}:gzip"), resolver.image(f"oci:{store}:zstd"))

    assert result.layers[0].status == "shared"
    assert not result.layers[0].same_blob


def test_cold_and_warm_builds_share_layers(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                                           resolver: ImageResolver) -> None:
    example = builder("two-stage", cache=str(tmp_path / "cache"))
    output = tmp_path / "out"
    cold = example.build("lookahead", destination=f"oci:{output}:cold")
    warm = example.build("lookahead", destination=f"oci:{output}:warm")

    result = diff_images(resolver.image(f"oci:{output}:cold"), resolver.image(f"oci:{output}:warm"))

    assert [plan.cache_hits for plan in warm.result.stages if plan.built] == [3]
    assert cold.result.image_digest == result.manifest_digest_a
    assert result.identical_layers
    assert all(layer.same_blob for layer in result.layers)
    assert all(layer.changes == [] for layer in result.layers)
    assert [layer.created_by_b for layer in result.layers][1:] == [
        "RUN touch /blubb", "COPY --from=base /blubb /blubb", "RUN ls -lah /blubb",
    ]


def test_diff_cli_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    write_image(f"oci:{store}:a", [BASE, [entry("f", data=b"1")]])
    write_image(f"oci:{store}:b", [BASE, [entry("f", data=b"22")]])

    code = main(["image", "diff", f"oci:{store}:a", f"oci:{store}:b"])
    table = capsys.readouterr().out
    json_code = main(["image", "diff", f"oci:{store}:a", f"oci:{store}:b", "--format", "json"])
    document = json.loads(capsys.readouterr().out)

    assert code == 0
    assert "1 of 2 layers shared" in table
    assert "changed  /f (size, content)" in table
    assert json_code == 0
    assert document["shared_layers"] == 1
    assert document["layers"][1]["changes"][0]["fields"] == ["size", "content"]


def test_diff_cli_names_non_tar_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(f"oci:{tmp_path}:good", [[entry("a", data=b"a")]])
    bad = write_image(f"oci:{tmp_path}:bad", [[entry("a", data=b"b" * 1000)]],
                      compress=lambda data: gzip_fixed(bytes(byte ^ 0xFF for byte in data)))

    code = main(["image", "diff", f"oci:{tmp_path}:good", f"oci:{tmp_path}:bad"])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: layer {bad.layer_digests[0]} is not a valid tar stream" in err
