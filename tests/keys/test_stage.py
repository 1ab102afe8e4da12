"""Key chains of whole stages."""

from __future__ import annotations

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.composite import CompositeKey, sha256_hex
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.stage import key_instructions, key_mode, resumed_key, seeded_key

SEED = "sha256:" + "1" * 64
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LEGACY = KanikoOptions(cache=True)
ROLLING = LEGACY.with_flags("FF_KANIKO_ROLLING_CACHE_KEY")


def last_key(dockerfile: str, options: KanikoOptions) -> str | None:
    parsed = parse_dockerfile(dockerfile)
    state = StageEnv.for_base([PATH], BuildArgs())
    results = key_instructions(seeded_key(SEED, options), parsed.stages[0].instructions, state,
                               options=options)
    return results[-1].key


def test_separator_collision_in_dockerfiles():
    # One RUN whose text spells out the joined parts of the two RUNs below it.
    one_run = f"FROM base\nRUN echo a > /out #-|1-{PATH}-RUN echo b >> /out\n"
    two_runs = "FROM base\nRUN echo a > /out #\nRUN echo b >> /out\n"

    assert last_key(one_run, LEGACY) == last_key(two_runs, LEGACY)
    assert last_key(one_run, ROLLING) != last_key(two_runs, ROLLING)


def test_key_mode():
    assert key_mode(LEGACY) == "legacy"
    assert key_mode(ROLLING) == "rolling"


def test_empty_stage_final_keys():
    # A stage without instructions ends with the hash of its seeded key.
    assert seeded_key(SEED, LEGACY).hash() == sha256_hex(SEED)
    assert seeded_key(SEED, ROLLING).hash() == sha256_hex("0" * 64 + SEED)
    base_final = "f" * 64
    assert resumed_key(base_final, LEGACY).hash() == sha256_hex(base_final)
    assert resumed_key(base_final, ROLLING).hash() == base_final


def test_resume_equals_continuing_in_rolling_mode():
    dockerfile = "FROM base\nRUN one\nENV A=1\nRUN two\n"
    parsed = parse_dockerfile(dockerfile)
    instructions = parsed.stages[0].instructions

    whole = key_instructions(seeded_key(SEED, ROLLING), instructions,
                             StageEnv.for_base([PATH], BuildArgs()), options=ROLLING)
    head_key = CompositeKey.new(SEED, mode="rolling")
    head = key_instructions(head_key, instructions[:1], StageEnv.for_base([PATH], BuildArgs()),
                            options=ROLLING)
    tail_state = StageEnv.for_base([PATH], BuildArgs())
    tail = key_instructions(resumed_key(head[-1].key or "", ROLLING), instructions[1:], tail_state,
                            options=ROLLING)

    assert [result.key for result in head + tail] == [result.key for result in whole]


def test_maintainer_has_no_key_and_no_effect():
    with_maintainer = "FROM base\nMAINTAINER me\nRUN x\n"
    without = "FROM base\nRUN x\n"

    parsed = parse_dockerfile(with_maintainer)
    results = key_instructions(seeded_key(SEED, LEGACY), parsed.stages[0].instructions,
                               StageEnv.for_base([PATH], BuildArgs()), options=LEGACY)

    assert results[0].key is None
    assert results[1].key == last_key(without, LEGACY)
