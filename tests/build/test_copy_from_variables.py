"""`COPY --from` sources that use an ENV or ARG of the copying stage, in real builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.builder import build_text

SOURCE_STAGE = """\
FROM busybox AS a
RUN mkdir /dd && echo hi > /dd/x.txt
"""


@pytest.mark.parametrize("declaration", ["ENV D=dd", "ARG D=dd"])
@pytest.mark.parametrize("strategy", ["per-stage", "lookahead", "no-cache"])
def test_copy_from_source_with_variable(
    tmp_path: Path, image_store: Path, declaration: str, strategy: str,
) -> None:
    text = SOURCE_STAGE + f"FROM busybox\n{declaration}\nCOPY --from=a /$D/x.txt /x/\nRUN test \"$(cat /x/x.txt)\" = hi\n"

    result, _ = build_text(tmp_path, image_store, text, strategy)

    assert result.stages[0].save_files == ("/dd/x.txt",)
    assert result.image_digest is not None


def test_copy_from_source_with_build_arg(tmp_path: Path, image_store: Path) -> None:
    text = (
        "FROM busybox AS a\nRUN mkdir /ee && echo ee > /ee/x.txt\n"
        "FROM busybox\nARG D=dd\nCOPY --from=a /$D/x.txt /x/\nRUN test \"$(cat /x/x.txt)\" = ee\n"
    )

    result, _ = build_text(tmp_path, image_store, text, "per-stage", build_args={"D": "ee"})

    assert result.stages[0].save_files == ("/ee/x.txt",)
