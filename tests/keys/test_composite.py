"""Composite cache keys: legacy join-and-hash and the rolling SHA-256 chain."""

from __future__ import annotations

import hashlib

import pytest

from cachelab.keys.composite import EMPTY_STATE, CompositeKey, roll, sha256_hex

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_SEED = "sha256:abd548d2d0296f1aaf7df212f4abc6129eb0633e9b390f98ba69d69e09a51f37"


def test_legacy_meow_purr_vector():
    key = CompositeKey.new("meow", "purr")

    assert key.hash() == "b4fd5a11af812a11a79d794007c842794cc668c8e7ebaba6d1e6d021b8e06c71"
    assert key.state() == "meow-purr"


def test_rolling_meow_purr_vector():
    key = CompositeKey.new("meow", "purr", mode="rolling")

    assert key.hash() == "05a920567352795efa184ef281b472fb4db8747f6ebf30b72b1392c9d081410d"
    assert key.state() == key.hash()


def test_rolling_empty_key_is_zero_state():
    assert CompositeKey(mode="rolling").hash() == EMPTY_STATE
    assert CompositeKey(mode="rolling").state() == "0" * 64


def test_legacy_empty_key_hashes_empty_string():
    assert CompositeKey().hash() == hashlib.sha256(b"").hexdigest()


def test_rolling_step_is_sha_of_hex_state_plus_part():
    key = CompositeKey.new("a", mode="rolling")

    assert key.hash() == hashlib.sha256(b"0" * 64 + b"a").hexdigest()


def test_add_one_by_one_equals_add_many():
    for mode in ("legacy", "rolling"):
        one = CompositeKey(mode=mode)
        for part in ("x", "y-z", ""):
            one.add(part)
        many = CompositeKey.new("x", "y-z", "", mode=mode)
        assert one.hash() == many.hash()


def test_busybox_run_key_legacy_and_rolling():
    # kaniko v1.28.3 (6bcc934) observed these keys for `RUN echo one > /one` on the
    # busybox base whose env is PATH only.
    parts = (BUSYBOX_SEED, "|1", PATH, "RUN echo one > /one")

    legacy = CompositeKey.new(*parts)
    rolling = CompositeKey.new(*parts, mode="rolling")

    assert legacy.hash() == "050835ba96388927fc531278df3c35a3b89d0edac36e4d43ce97a0949fa8f418"
    assert rolling.hash() == "ea8986bb45bd55cd793ad2b472624cd321c85d67b7ac16c097778f7e95bf9941"


def test_rolling_multistage_chain_with_inferred_parts():
    s0 = "ec50b204a07f169d1beec66434b673ca44caf8b98ee6c98e886320969926d029"

    second = CompositeKey.resume(s0, mode="rolling")
    second.add("|1", PATH, "RUN touch /bla")
    s1 = second.hash()
    third = second.copy()
    third.add("|1", PATH, "RUN touch /bli")
    s2 = third.hash()
    final = CompositeKey.resume(s1, mode="rolling")
    final.add("COPY --from=first /blubb /blubb", s0)
    c1 = final.hash()
    final.add("COPY --from=third /bli /bli", s2)
    c2 = final.hash()
    final.add("|1", PATH, "RUN ls -lah /blubb")

    assert s1 == "9097bbf817837a54a5ba9b91d9d2a771a145d25f5389c96a4c3315119aa482a5"
    assert s2 == "dd8070993f952ce8287efcf5c6b32d3d2399905c6fc8dc9b4036d4196b80e10f"
    assert c1 == "8ef1283833b79b08b093a99de08ffc3fed1fbbf8fb328f81e9d7561af0524e95"
    assert c2 == "c59fad0bd865d2ed209d0f7a29d55161a8332681a1b68abc9e98da2dca1254cb"
    assert final.hash() == "e3d0a39d0f55303c063b93635b40f56d535f5bd2b48b770af66bf0fe61b7debc"


def test_copy_is_independent():
    for mode in ("legacy", "rolling"):
        original = CompositeKey.new("a", mode=mode)
        clone = original.copy()
        clone.add("b")
        assert original.hash() == CompositeKey.new("a", mode=mode).hash()
        assert original.parts == ["a"]
        assert clone.hash() != original.hash()


def test_rolling_resume_continues_chain_exactly():
    whole = CompositeKey.new("seed", "p1", "p2", "p3", mode="rolling")
    head = CompositeKey.new("seed", "p1", mode="rolling")

    resumed = CompositeKey.resume(head.state(), mode="rolling")
    resumed.add("p2", "p3")

    assert resumed.hash() == whole.hash()


def test_legacy_resume_from_hash_hashes_joined_text():
    h = CompositeKey.new("seed", "p1").hash()

    resumed = CompositeKey.resume(h)
    resumed.add("p2", "p3")

    assert resumed.hash() == sha256_hex(f"{h}-p2-p3")
    assert resumed.parts == [h, "p2", "p3"]


def test_legacy_resume_from_state_equals_continuing():
    head = CompositeKey.new("seed", "p1")
    resumed = CompositeKey.resume(head.state())
    resumed.add("p2")

    assert resumed.hash() == CompositeKey.new("seed", "p1", "p2").hash()


def test_derived_rolling_and_legacy_example():
    seed = "sha256:" + "1" * 64
    file_part = "fbce5fe8619c0f3e6e3924966b878be41abe0a0ea300d2d1b174a1b6803c89ef"

    state0 = roll(EMPTY_STATE, [seed])
    state1 = roll(state0, ["ARG V=1"])
    state2 = roll(state1, ["ENV X=y"])
    state3 = roll(state2, ["|3", PATH, "V=1", "X=y", "RUN echo $V"])
    state4 = roll(state3, ["COPY hello.txt /hello.txt", file_part])
    legacy = CompositeKey.new(seed, "ARG V=1", "ENV X=y", "|3", PATH, "V=1", "X=y", "RUN echo $V")

    expected = [
        (state0, "7b6d9ecf", "8537b1"),
        (state1, "00411f6b", "a0a303"),
        (state2, "3cabb178", "cd2833"),
        (state3, "04d841d2", "ad885c"),
        (state4, "abf7cc54", "8557d6"),
        (legacy.hash(), "61a3e6fc", "b4dc2"),
    ]
    for key, prefix, suffix in expected:
        assert key.startswith(prefix), (key, prefix)
        assert key.endswith(suffix), (key, suffix)


def test_legacy_separator_collision_and_rolling_separation():
    one_run = "RUN echo a > /out #-|1-" + PATH + "-RUN echo b >> /out"
    two_runs = ("RUN echo a > /out #", "|1", PATH, "RUN echo b >> /out")

    legacy_one = CompositeKey.new(BUSYBOX_SEED, "|1", PATH, one_run)
    legacy_two = CompositeKey.new(BUSYBOX_SEED, "|1", PATH, *two_runs)
    rolling_one = CompositeKey.new(BUSYBOX_SEED, "|1", PATH, one_run, mode="rolling")
    rolling_two = CompositeKey.new(BUSYBOX_SEED, "|1", PATH, *two_runs, mode="rolling")

    assert legacy_one.hash() == legacy_two.hash()
    assert rolling_one.hash() != rolling_two.hash()


def test_invalid_mode_rejected():
    with pytest.raises(ValueError, match="invalid composite key mode"):
        CompositeKey(mode="joined")  # type: ignore[arg-type]


def test_non_string_part_rejected():
    with pytest.raises(TypeError, match="key part must be str"):
        CompositeKey().add(b"bytes")  # type: ignore[arg-type]
