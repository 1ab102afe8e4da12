"""kaniko's dry-run plan text for misses, redirects, uploads and external images.

Expected texts follow the shape of kaniko's golden plans (osscontainertools/kaniko,
commit 6bcc934) for the same kind of Dockerfile. Keys come from the planner's own
static pass, which test_cases.py checks against kaniko's logged keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.composite import EMPTY_STATE, roll
from cachelab.keys.flags import KanikoOptions, profile
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from tests.plan.casefiles import RecordedImageSource

NOW = datetime(2026, 4, 1, tzinfo=UTC)
BASE = "example.org/busybox:1"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def images() -> RecordedImageSource:
    return RecordedImageSource({
        BASE: {"seed": "sha256:" + "1" * 64, "env": [PATH]},
        "example.org/other:1": {"seed": "sha256:" + "2" * 64, "env": [PATH]},
        "example.org/tools:2": {"seed": "sha256:" + "3" * 64, "env": [PATH]},
    })


def make_planner(
    text: str, options: KanikoOptions, tmp_path: Path, cache: MemoryCache | None = None, **kwargs: object,
) -> Planner:
    return Planner(
        parse_dockerfile(text), options=options, context_dir=tmp_path,
        cache=cache if cache is not None else MemoryCache(), images=images(), now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def cache_with(keys: list[str | None]) -> MemoryCache:
    cache = MemoryCache()
    for key in keys:
        assert key is not None
        cache.put_layer_bytes(key, created_by="RUN", created=NOW)
    return cache


THREE_RUNS = f"FROM {BASE}\nRUN touch /a\nRUN touch /b\nRUN touch /c\n"


@pytest.mark.parametrize(("probe_after_miss", "last"), [(False, "MISS"), (True, "HIT")])
def test_plan_after_miss(tmp_path: Path, probe_after_miss: bool, last: str) -> None:
    options = profile("kaniko").with_changes(cache_lookahead=True, cache_probe_after_miss=probe_after_miss)
    keys = [i.key for i in make_planner(THREE_RUNS, options, tmp_path).static_keys()[0].instructions]
    planner = make_planner(THREE_RUNS, options, tmp_path, cache_with([keys[0], keys[2]]))

    assert planner.render_plan() == (
        f"FROM {BASE}\n"
        f"  STREAM {BASE}\n"
        "RUN touch /a\n"
        f"  CACHE HIT: {keys[0]}\n"
        "RUN touch /b\n"
        f"  CACHE MISS: {keys[1]}\n"
        "RUN touch /c\n"
        f"  CACHE {last}: {keys[2]}\n"
    )


def test_plan_upload_after_miss_with_cache_repo(tmp_path: Path) -> None:
    options = profile("kaniko").with_changes(cache_lookahead=True)
    text = f"FROM {BASE}\nRUN touch /blubb\n"
    planner = make_planner(text, options, tmp_path, cache_repo="127.0.0.1:5000/cache")
    key = planner.static_keys()[0].instructions[0].key

    assert planner.render_plan().splitlines()[3:] == [
        f"  CACHE MISS: {key}",
        f"  UPLOAD 127.0.0.1:5000/cache:{key}",
    ]


def test_plan_no_upload_with_no_push_cache(tmp_path: Path) -> None:
    options = profile("kaniko").with_changes(cache_lookahead=True, no_push_cache=True)
    planner = make_planner(f"FROM {BASE}\nRUN touch /blubb\n", options, tmp_path, cache_repo="127.0.0.1:5000/cache")

    assert not any(line.startswith("  UPLOAD") for line in planner.render_plan().splitlines())


REDIRECT = f"""\
FROM {BASE} AS first
RUN touch /foo

FROM {BASE} AS second
ARG A
COPY --from=first /foo /$A/foo
"""


def redirect_plan(tmp_path: Path, value: str, resolve: bool) -> tuple[str, Planner]:
    options = profile("kaniko-copy").with_changes(
        cache_lookahead=True, infer_cross_stage_cache_key=True, resolve_cache_key=resolve,
    )
    planner = make_planner(REDIRECT, options, tmp_path, build_args={"A": value})
    return planner.render_plan(), planner


def test_plan_redirect_miss_leaves_copy_unkeyed(tmp_path: Path) -> None:
    text, planner = redirect_plan(tmp_path, "one", resolve=False)
    first = planner.precomputed[0].instructions[0].key
    arg = planner.precomputed[1].instructions[0].key
    redirect = planner.precomputed[1].instructions[1].redirect_key

    assert text == (
        f"FROM {BASE} AS first\n"
        f"  STREAM {BASE}\n"
        "RUN touch /foo\n"
        f"  CACHE MISS: {first}\n"
        "SAVE FILES [/foo] /kaniko/deps/0\n"
        "CLEAN\n"
        "\n"
        f"FROM {BASE} AS second\n"
        f"  STREAM {BASE}\n"
        "ARG A\n"
        f"  CACHE MISS: {arg}\n"
        "COPY --from=first /foo /$A/foo\n"
        f"  CACHE REDIRECT MISS: {redirect}\n"
    )


def test_plan_unresolved_redirect_ignores_arg(tmp_path: Path) -> None:
    one, _ = redirect_plan(tmp_path, "one", resolve=False)
    two, _ = redirect_plan(tmp_path, "two", resolve=False)

    assert one == two


def test_plan_resolved_redirect_tracks_arg(tmp_path: Path) -> None:
    one, _ = redirect_plan(tmp_path, "one", resolve=True)
    two, _ = redirect_plan(tmp_path, "two", resolve=True)
    unresolved, _ = redirect_plan(tmp_path, "one", resolve=False)

    assert one != two
    assert one.splitlines()[-1] != unresolved.splitlines()[-1]
    assert one.splitlines()[:-1] == two.splitlines()[:-1]


EXTERNAL = f"""\
FROM {BASE} AS base
RUN touch /blubb

FROM example.org/other:1 AS final
COPY --from=base /blubb /0
COPY --from={BASE} /etc/passwd /1
COPY --from=example.org/tools:2 /x /2
"""


def test_plan_streams_external_images(tmp_path: Path) -> None:
    planner = make_planner(EXTERNAL, profile("kaniko-copy"), tmp_path)

    assert planner.render_plan().splitlines()[:5] == [
        f"STREAM {BASE} /kaniko/deps/{BASE}",
        "STREAM example.org/tools:2 /kaniko/deps/example.org/tools:2",
        f"FROM {BASE} AS base",
        f"  STREAM {BASE}",
        "RUN touch /blubb",
    ]


def test_external_images_sorted_once(tmp_path: Path) -> None:
    planner = make_planner(EXTERNAL, profile("kaniko-copy"), tmp_path)

    assert planner.external_images() == [BASE, "example.org/tools:2"]


def test_plan_fetches_twice_read_image_once(tmp_path: Path) -> None:
    options = profile("kaniko-copy").with_changes(shared_base_cache=True)
    lines = make_planner(EXTERNAL, options, tmp_path).render_plan().splitlines()

    assert lines[:6] == [
        f"FETCH {BASE}",
        f"UNPACK {BASE} /kaniko/deps/{BASE}",
        "STREAM example.org/tools:2 /kaniko/deps/example.org/tools:2",
        f"FROM {BASE} AS base",
        f"  FETCH {BASE}",
        f"  UNPACK {BASE}",
    ]
    assert "  STREAM example.org/other:1" in lines


def test_inferred_key_of_external_image_uses_manifest_digest(tmp_path: Path) -> None:
    text = f"FROM example.org/other:1\nCOPY --from={BASE} /etc/passwd /1\n"
    planner = make_planner(text, profile("kaniko-lookahead"), tmp_path)
    digest = images().images[BASE].manifest_digest

    copy = planner.precompute()[0].instructions[0]

    expected = roll(EMPTY_STATE, ["sha256:" + "2" * 64, f"COPY --from={BASE} /etc/passwd /1", digest])
    assert copy.source_image == BASE
    assert copy.redirect_key == expected
    assert copy.redirect_hit is False
    assert copy.decision == "unkeyed"


def test_key_risks_of_mutable_tag_and_remote_add(tmp_path: Path) -> None:
    text = (
        "FROM example.org/busybox@sha256:" + "a" * 64 + " AS pinned\nRUN true\n"
        f"FROM {BASE}\nADD https://example.org/file.tgz /f\nRUN --mount=type=cache,target=/c true\n"
    )
    source = images()
    source.images["example.org/busybox@sha256:" + "a" * 64] = source.images[BASE]
    planner = Planner(
        parse_dockerfile(text), options=profile("kaniko"), context_dir=tmp_path, cache=MemoryCache(),
        images=source, now=NOW, targets=["pinned"],
    )
    pinned = planner.static_keys()[0]
    planner_final = Planner(
        parse_dockerfile(text), options=profile("kaniko"), context_dir=tmp_path, cache=MemoryCache(),
        images=source, now=NOW,
    )
    final = planner_final.static_keys()[1]

    assert pinned.key_risks == []
    assert final.key_risks == ["base-tag-mutable", "add-remote-unchecksummed", "run-mount-cache"]
