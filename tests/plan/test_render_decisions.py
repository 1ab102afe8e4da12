"""cachelab's decisions after a kaniko plan that has no cache lines, and their agreement with the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli.plan import instruction_rows
from cachelab.keys.flags import profile
from cachelab.plan.planner import Planner
from cachelab.plan.render import plan_text
from tests.plan.test_render import BASE, cache_with, make_planner

CHAIN = (
    f"FROM {BASE} AS os\nRUN touch /os\n"
    "FROM os AS deps\nRUN touch /deps\n"
    "FROM deps\nRUN touch /app\nCMD [\"true\"]\n"
)
FAN_IN = (
    f"FROM {BASE} AS docs\nRUN echo docs > /docs.txt\n"
    f"FROM {BASE}\nCOPY --from=docs /docs.txt /srv/docs.txt\nRUN ls /srv\n"
)


def decision_lines(text: str) -> list[tuple[str, str, str]]:
    """Return (decision, key, instruction) of every instruction line among the `#` lines."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("#   ") or "redirect" in line:
            continue
        decision, key, instruction = line[4:].split(None, 2)
        rows.append((decision, key, instruction))
    return rows


def table_lines(planner: Planner) -> list[tuple[str, str, str]]:
    return [(row["decision"], row["key"] or "-", row["instruction"]) for row in instruction_rows(planner.dry_run())]


def test_kaniko_lines_stay_exact(tmp_path: Path) -> None:
    options = profile("kaniko-copy")
    kaniko = make_planner(CHAIN, options, tmp_path).render_plan()

    text = plan_text(make_planner(CHAIN, options, tmp_path))

    assert text.startswith(kaniko)
    assert "CACHE" not in kaniko
    added = text[len(kaniko):].splitlines()
    assert added[0] == ""
    assert all(line.startswith("#") for line in added[1:])
    assert "`cachelab plan --format table`" in text


def test_decisions_match_table(tmp_path: Path) -> None:
    options = profile("kaniko-copy")
    keys = [i.key for i in make_planner(CHAIN, options, tmp_path).static_keys()[2].instructions]
    cache = cache_with(keys[:1])

    text_rows = decision_lines(plan_text(make_planner(CHAIN, options, tmp_path, cache)))
    table = table_lines(make_planner(CHAIN, options, tmp_path, cache))

    assert text_rows == table
    assert [decision for decision, _, _ in text_rows] == ["hit", "miss", "not-probed", "not-probed"]
    assert all(len(key) == 64 for _, key, _ in text_rows)


def test_squashed_stages_named(tmp_path: Path) -> None:
    text = plan_text(make_planner(CHAIN, profile("kaniko-copy"), tmp_path))

    headings = [line for line in text.splitlines() if line.startswith("# stage ")]
    assert headings == [
        "# stage 0 os: squashed into stage 2",
        "# stage 1 deps: squashed into stage 2",
        "# stage 2: built",
    ]


def test_unkeyed_copy_from_shown(tmp_path: Path) -> None:
    planner = make_planner(FAN_IN, profile("kaniko-copy"), tmp_path)

    text_rows = decision_lines(plan_text(planner))

    assert text_rows == table_lines(make_planner(FAN_IN, profile("kaniko-copy"), tmp_path))
    assert text_rows[1] == ("unkeyed", "-", "COPY --from=docs /docs.txt /srv/docs.txt")


def test_redirect_key_shown(tmp_path: Path) -> None:
    options = profile("kaniko-copy").with_changes(infer_cross_stage_cache_key=True)
    table = instruction_rows(make_planner(FAN_IN, options, tmp_path).dry_run())
    redirect = table[1]["redirect_key"]
    assert redirect is not None

    text = plan_text(make_planner(FAN_IN, options, tmp_path))

    assert f"redirect miss: {redirect}" in text


def test_no_cache_states_reason(tmp_path: Path) -> None:
    text = plan_text(make_planner(CHAIN, profile("no-cache"), tmp_path))

    added = [line for line in text.splitlines() if line.startswith("#")]
    assert added == [
        "# Not kaniko output: these options use no cache (--cache is off), so no instruction is looked up."
    ]
    assert all(row["decision"] == "unkeyed" for row in instruction_rows(make_planner(
        CHAIN, profile("no-cache"), tmp_path).dry_run()))


@pytest.mark.parametrize("cached", [0, 1])
def test_lookahead_cache_lines_agree(tmp_path: Path, cached: int) -> None:
    options = profile("kaniko-lookahead")
    keys = [i.key for i in make_planner(CHAIN, options, tmp_path).static_keys()[2].instructions]
    cache = cache_with(keys[:cached])

    text = plan_text(make_planner(CHAIN, options, tmp_path, cache))
    table = table_lines(make_planner(CHAIN, options, tmp_path, cache))

    assert not any(line.startswith("#") for line in text.splitlines())
    verdicts = [line.split()[1:] for line in text.splitlines() if line.startswith("  CACHE ")]
    expected = [["HIT:" if decision == "hit" else "MISS:", key] for decision, key, _ in table]
    assert verdicts == expected
