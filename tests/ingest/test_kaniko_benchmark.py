"""kaniko's BENCHMARK_FILE to one builds row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko import ingest_kaniko_benchmarks
from cachelab.ingest.kaniko_benchmark import category_column

BENCHMARK = Path(__file__).parent / "data" / "kaniko-benchmark.json"


def test_benchmark_one_build_row() -> None:
    recording = ingest_kaniko_benchmarks([BENCHMARK])
    build = recording.builds.iloc[0]

    assert len(recording.builds) == 1
    assert recording.stages.empty
    assert build["engine"] == "kaniko"
    assert build["wall_s"] == pytest.approx(7.402211309)
    assert pd.isna(build["strategy"])


def test_benchmark_category_columns_in_seconds() -> None:
    build = ingest_kaniko_benchmarks([BENCHMARK]).builds.iloc[0]

    assert build["kaniko_fs_unpacking_s"] == pytest.approx(5.120331020)
    assert build["kaniko_command_run_echo_one_one_s"] == pytest.approx(0.812004551)
    assert build["kaniko_total_push_time_s"] == pytest.approx(1.502330221)


def test_benchmark_two_files_share_columns(tmp_path: Path) -> None:
    other = tmp_path / "v1.28.2.json"
    other.write_text('{"Command":1000000000,"Total Build Time":3000000000}')

    builds = ingest_kaniko_benchmarks([BENCHMARK, other]).builds

    assert len(builds) == 2
    assert builds["kaniko_command_s"].isna().tolist() == [True, False]
    assert builds["kaniko_fs_unpacking_s"].isna().tolist() == [False, True]


def test_benchmark_category_slug() -> None:
    assert category_column("Saving stage as tarball") == "kaniko_saving_stage_as_tarball_s"
    assert category_column("Command: RUN date > /date") == "kaniko_command_run_date_date_s"


def test_benchmark_rejects_float_values(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Total Build Time": 1.5}')

    with pytest.raises(IngestError, match="integer nanoseconds"):
        ingest_kaniko_benchmarks([bad])
