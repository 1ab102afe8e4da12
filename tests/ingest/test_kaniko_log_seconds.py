"""kaniko logs with whole-second stamps: short builds keep their outcome, and `--step`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.ingest.kaniko import ingest_kaniko_logs
from cachelab.record import Recording

# The first and last lines of a short warm build, in the text format with kaniko's
# default whole-second stamps. Keys are made up.
SAME_SECOND_LOG = """\
time="2026-12-04T20:02:10Z" level=info msg="active feature flags: FF_KANIKO_CACHE_LOOKAHEAD"
time="2026-12-04T20:02:10Z" level=info msg="Building stage 'busybox:1' [idx: '0', base-idx: '-1']"
time="2026-12-04T20:02:10Z" level=info msg="Checking for cached layer registry.test/cache:{key}..."
time="2026-12-04T20:02:10Z" level=info msg="Using caching version of cmd: RUN echo one > /one"
time="2026-12-04T20:02:10Z" level=info msg="RUN echo one > /one"
time="2026-12-04T20:02:10Z" level=info msg="Skipping push to container registry due to --no-push flag"
""".format(key="ab" * 32)


def write_log(tmp_path: Path, text: str, name: str = "build.log") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_same_second_log_finishes(tmp_path: Path) -> None:
    build = ingest_kaniko_logs([write_log(tmp_path, SAME_SECOND_LOG)]).builds.iloc[0]

    assert build["outcome"] == "ok"
    assert pd.isna(build["wall_s"])
    assert build["strategy"] == "lookahead"
    assert build["cache_hits"] == 1


def test_one_second_boundary_is_one(tmp_path: Path) -> None:
    text = SAME_SECOND_LOG.replace(
        'time="2026-12-04T20:02:10Z" level=info msg="Skipping push',
        'time="2026-12-04T20:02:11Z" level=info msg="Skipping push',
    )
    build = ingest_kaniko_logs([write_log(tmp_path, text)]).builds.iloc[0]

    assert build["outcome"] == "ok"
    assert build["wall_s"] == 1.0


def test_real_short_logs_finish(shared: Path) -> None:
    logs = sorted((shared / "engines" / "kaniko" / "seed").glob("*.log"))
    if not logs:
        pytest.skip("no kaniko seed logs in the reference folder")
    builds = ingest_kaniko_logs(logs).builds

    assert builds["outcome"].tolist() == ["ok"] * len(logs)
    assert builds["wall_s"].isna().any()
    assert (builds["wall_s"].dropna() % 1 == 0).all()


def test_ingest_records_step(tmp_path: Path) -> None:
    log = write_log(tmp_path, SAME_SECOND_LOG)
    out = tmp_path / "out"

    code = main(["ingest", "kaniko-log", str(log), "--out", str(out), "--scenario", "seed", "--step", "1"])

    assert code == 0
    builds = Recording.load(out).builds
    assert builds["scenario"].tolist() == ["seed"]
    assert builds["step"].tolist() == [1]


@pytest.mark.parametrize("value", ["-1", "one"])
def test_ingest_rejects_step(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    log = write_log(tmp_path, SAME_SECOND_LOG)

    with pytest.raises(SystemExit) as raised:
        main(["ingest", "kaniko-log", str(log), "--out", str(tmp_path / "out"), "--step", value])

    assert raised.value.code == 2
    assert f"invalid step {value!r}" in capsys.readouterr().err


def test_buildkit_ingest_records_step(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "buildkit-rawjson.jsonl"

    code = main(["ingest", "buildkit", str(data), "--out", str(tmp_path), "--step", "0"])

    assert code == 0
    assert Recording.load(tmp_path).builds["step"].tolist() == [0]
