"""Whole-instruction keys compared with keys a real kaniko build produced.

Every expected key below was logged by osscontainertools/kaniko v1.28.3 (commit
6bcc934) building the Dockerfile shown on the busybox base image whose seed is
BUSYBOX_SEED (env: PATH only), with `--cache=true` and `--cache-copy-layers`.
"legacy" is the default key mode; "rolling" had the lookahead flags on
(FF_KANIKO_ROLLING_CACHE_KEY among them). Context files were 0644 root:root,
directories 0755 root:root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv, predefined_args
from cachelab.keys.dockerignore import FileContext
from cachelab.keys.flags import KanikoOptions, profile
from cachelab.keys.parts import SourceRoot
from cachelab.keys.stage import key_instructions, seeded_key
from tests.keys.trees import make_tree, needs_root

pytestmark = needs_root

BUSYBOX_SEED = "sha256:abd548d2d0296f1aaf7df212f4abc6129eb0633e9b390f98ba69d69e09a51f37"
BUSYBOX_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

LEGACY = profile("kaniko-copy")
ROLLING = profile("kaniko-lookahead")


def stage_keys(
    dockerfile: str,
    options: KanikoOptions,
    *,
    context: Path | None = None,
    build_args: list[str] | None = None,
    stage: int = 0,
    source_root: SourceRoot | None = None,
) -> list[tuple[str, str | None]]:
    parsed = parse_dockerfile(dockerfile)
    args = BuildArgs.from_options(build_args or [], predefined=predefined_args())
    env = StageEnv.for_base(BUSYBOX_ENV, args, arg_precedence=options.buildkit_arg_env_precedence)
    env.args.add_meta_args(parsed.meta_args)
    file_context = None
    if context is not None:
        file_context = FileContext.from_dockerfile(
            context.parent / "Dockerfile", context, scoped=options.scoped_dockerignore
        )
    results = key_instructions(
        seeded_key(BUSYBOX_SEED, options),
        parsed.stages[stage].instructions,
        env,
        options=options,
        context=file_context,
        source_root=(lambda _: source_root),
    )
    return [(result.instruction.text, result.key) for result in results]


def test_run_chain_without_args():
    dockerfile = "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nRUN echo three > /three\n"

    assert stage_keys(dockerfile, LEGACY) == [
        ("RUN echo one > /one", "050835ba96388927fc531278df3c35a3b89d0edac36e4d43ce97a0949fa8f418"),
        ("RUN echo two > /two", "766f8381cd3421dd9bbd9222cad0925aa0c341163c68676a4f3c2c96117532cf"),
        ("RUN echo three > /three", "bc03374ee7db0fcc3b9f6df69aa836459fefbe97879c0eabdb8d2f082c5efae6"),
    ]
    assert stage_keys(dockerfile, ROLLING) == [
        ("RUN echo one > /one", "ea8986bb45bd55cd793ad2b472624cd321c85d67b7ac16c097778f7e95bf9941"),
        ("RUN echo two > /two", "dabf4da796222b8c3d61d345426b7c7f62e82b813333a7927a2d495e25a04afc"),
        ("RUN echo three > /three", "1d589f5631241e2b1228f49b7b2e7f59d4a889c8bdc62a7c6601dcc8f210a5d4"),
    ]


def test_copy_file_then_run(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"src.txt": "source v1\n"})
    dockerfile = "FROM busybox\nCOPY src.txt /src/src.txt\nRUN tr a-z A-Z < /src/src.txt > /out.txt\n"

    legacy = stage_keys(dockerfile, LEGACY, context=context)
    rolling = stage_keys(dockerfile, ROLLING, context=context)

    assert [key for _, key in legacy] == [
        "528c45384b27045c45ca65d7df8c5605da2d816d9d2bd8c6fb19a9229cc65816",
        "2c35b66c11653f2b64bca6efa2a88aaf4bf2679837a0b22370fc0743bb8cc4d0",
    ]
    assert [key for _, key in rolling] == [
        "5a56e119e3efb57bdc190130df1149bdd02635e5e2a73b70fb256d41a59394b9",
        "c1b200297de8aa3d718002efea886b14b8638705ff335ec0f4a5aa6e5522dfb1",
    ]


def test_copy_from_stage_output(tmp_path: Path):
    # The builder stage's /out.txt ("SOURCE V1\n", made by RUN as root with umask
    # 022), hashed under kaniko's /kaniko/deps/0.
    stage_root = make_tree(tmp_path / "stage0", {"out.txt": "SOURCE V1\n"})
    dockerfile = (
        "FROM busybox AS builder\nRUN true\n"
        "FROM busybox\nCOPY --from=builder /out.txt /out.txt\nRUN cat /out.txt > /final.txt\n"
    )
    root = SourceRoot.for_stage(str(stage_root), 0)

    legacy = stage_keys(dockerfile, LEGACY, context=tmp_path, stage=1, source_root=root)
    rolling = stage_keys(dockerfile, ROLLING, context=tmp_path, stage=1, source_root=root)

    assert [key for _, key in legacy] == [
        "ab616637346f8d597b6d9657362ede94ff47d118c85ab313225212e9f0c7d714",
        "f1efeef2575be333a9054f294a38381cfc3bd0a3602bbf20404060f2b5d32f78",
    ]
    assert [key for _, key in rolling] == [
        "5539e1e7c492cab7258a64f4de3bc5d8296ac9100359959d513116624c998770",
        "1e58878b5cc156f1df341f2ccc4829a68b20a0ea78f7e3e501c6399626ae4837",
    ]


ARG_ENV_DOCKERFILE = """FROM busybox AS build
ARG FLAVOR=plain
ENV MODE=release
RUN echo "$FLAVOR/$MODE" > /flavor.txt
RUN cat /flavor.txt > /flavor-copy.txt
"""


@pytest.mark.parametrize(
    ("options", "build_args", "expected"),
    [
        (LEGACY, [], ["503558eda5b7a4e64c901f7b4c99ad7e15a73f9ad0d197cbc4f1af92fb6147fb",
                      "79479e98d844e3019510e80408271214831fcdf01a88e19fead126ad730ac3ef",
                      "4bfaec73fb1fe32e380e1debe3a88f1f7ec25b29b7a198468312f8945511a945",
                      "812ba6aa06e94febf7934aeff83653e51378630c8e3e2b63a364c55b43f5ccc5"]),
        (LEGACY, ["FLAVOR=spicy"], ["503558eda5b7a4e64c901f7b4c99ad7e15a73f9ad0d197cbc4f1af92fb6147fb",
                                    "79479e98d844e3019510e80408271214831fcdf01a88e19fead126ad730ac3ef",
                                    "fc3f9573004dbb8668c9da593b6151df354223d665f8385c267a9f7e3f292b0e",
                                    "81593a56e5e66a0b5a547a66dc02cb46a9db2ddb51d38500c9a1fab184753e41"]),
        (ROLLING, [], ["1c88b265e8d7e9abd70a21315b657ec639eaf0bb26e116add191618e22734b2b",
                       "190179692448f4deccb9ca5e00e84ec6ec75852e42ac291a7febaee3cbe43157",
                       "c26e73082c6dddc738af7e6fc164088f8d74b75d578024e2acca1370995807b2",
                       "ef1a99c733e78044148b0295a4ad9abbcc4014f5c8fbcf99d26e87ea44d546c3"]),
        (ROLLING, ["FLAVOR=spicy"], ["1c88b265e8d7e9abd70a21315b657ec639eaf0bb26e116add191618e22734b2b",
                                     "190179692448f4deccb9ca5e00e84ec6ec75852e42ac291a7febaee3cbe43157",
                                     "c708fe0311c0decd67d1ce98b199a69ec9de928debc57c751dea9285178eb38b",
                                     "56e2d1349e7b3f080c4718283bebcf51b43fb8f1884d3e4c4f071dfda449b749"]),
    ],
)
def test_arg_default_and_env(options, build_args, expected):
    keys = [key for _, key in stage_keys(ARG_ENV_DOCKERFILE, options, build_args=build_args)]

    assert keys == expected


SCOPE_DOCKERFILE = """ARG GLOBAL_NOTE=unused
FROM busybox
RUN echo base > /base.txt
ARG STAMP
RUN echo "$STAMP" > /stamp.txt
RUN echo after > /after.txt
"""

STAMP_1002 = ["0cedd945e8553a7966382653cdde292491caab720e14446e37f73259d69c29d8",
              "d78f9e3db03f441f0d17355b6e102c22cf317582b3925edf714ec65e01405e64",
              "2b8dafa4819d2b376bd909e1d9d8725e32015c0d8a67b021664b7f193d9b364b",
              "6e1f6fd11aa1a956b534bc2609e7e28e4426ba2e7ea55daf7599ff8d3e98b6b4"]


@pytest.mark.parametrize(
    ("build_args", "expected"),
    [
        (["STAMP=1001"], ["0cedd945e8553a7966382653cdde292491caab720e14446e37f73259d69c29d8",
                          "d78f9e3db03f441f0d17355b6e102c22cf317582b3925edf714ec65e01405e64",
                          "04ef7b9cca808d0a6034c7de472fd618e21697534f53c491f07484bccc4df8e8",
                          "8749a2c16eb36f247c512988ab6748391d98ffaf1f1f2be4e39d06dbe62a0ae3"]),
        (["STAMP=1002"], STAMP_1002),
        # An undeclared build arg and a meta ARG the stage does not re-declare change nothing.
        (["STAMP=1002", "NOT_DECLARED=x"], STAMP_1002),
        (["STAMP=1002", "GLOBAL_NOTE=changed"], STAMP_1002),
        # A proxy arg needs no declaration: it enters every RUN key.
        (["STAMP=1002", "HTTP_PROXY=http://proxy.invalid:3128"],
         ["cd1eb8dbdb60e64985eee85cf990196d19072cc4ab569f46dc95fa199027506e",
          "043d9af5fc5479a27ded1f78d8a6aecdbb306e1089cbea321a569136bd4f3f72",
          "b1b2b5fd7880e0c9f4a8a7c0f1c4fa512bbc97747e6aceae4ccf54fe85cef9dd",
          "ba9d5e19950a611c4f0b796d0e08fed101eb33a01243fcc7bd17e97ea515c640"]),
    ],
)
def test_arg_scope_legacy(build_args, expected):
    keys = [key for _, key in stage_keys(SCOPE_DOCKERFILE, profile("kaniko"), build_args=build_args)]

    assert keys == expected


def test_build_arg_reaching_run_only_through_env(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {
        "stamp.sh": "#!/bin/sh\n# reads RELEASE from the environment only; the RUN line never names it\n"
                    'echo "release=${RELEASE} env=${RELEASE_ENV}" > /release.txt\n',
    })
    dockerfile = "FROM busybox\nCOPY stamp.sh /stamp.sh\nARG RELEASE\nENV RELEASE_ENV=$RELEASE\nRUN sh /stamp.sh\n"

    release_one = stage_keys(dockerfile, LEGACY, context=context, build_args=["RELEASE=one"])
    release_two = stage_keys(dockerfile, ROLLING, context=context, build_args=["RELEASE=two"])

    assert [key for _, key in release_one] == [
        "34066869ab10d0375693ed6ba59d505e15af5f1f204850f50a26afefae07e922",
        "c09ca03835d7545a16feb9f5cb9d8e1d246a648643f3c6b238b57684563f0596",
        "4989b07d81225257039a8aab7ee1cab2904ee865c2436cfda06ccb67b80e9f22",
        "bc33a144f320bbb1313347f2cd7d22be40a0584a3dd9c9dcdca6f8e769d9aaf0",
    ]
    assert release_two[-1][1] == "2b41594547dda1a1c81757457f94dc871c3a792042ce9c3b24a8fd35b0c883cc"


def test_glob_source(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"notes-a.txt": "same content\n"})
    dockerfile = "FROM busybox\nCOPY notes-*.txt /notes/\nRUN ls /notes > /notes-listing.txt\n"

    assert stage_keys(dockerfile, LEGACY, context=context)[0][1] == (
        "dcdf261ba3d96de14cbb3ab5a3a5b2b27ce726474cf2247b12a1a13e3a6f5293"
    )
    assert stage_keys(dockerfile, ROLLING, context=context)[0][1] == (
        "23df8fdbc384848cb3bb5757bb2e749803e1317b1853731b0b673b4e0bf2a7e3"
    )

    # A rename keeps the key: only content, mode and owner are hashed.
    (context / "notes-a.txt").rename(context / "notes-b.txt")
    assert stage_keys(dockerfile, LEGACY, context=context)[0][1] == (
        "dcdf261ba3d96de14cbb3ab5a3a5b2b27ce726474cf2247b12a1a13e3a6f5293"
    )


def test_dockerignore_excluded_directory(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {
        ".dockerignore": "scratch/\n", "app.txt": "app v1\n", "scratch/notes.txt": "temporary notes\n",
    })
    dockerfile = "FROM busybox\nCOPY . /app\nRUN find /app -type f | sort > /app-files.txt\n"
    expected_legacy = ["aacc95717b96c6d2799604864895c736749f0446e97853583975bd7f96b2b9a4",
                       "8ccc86af0143cca350c62ce974e3ea972ca7abbba505ebda92c31bad4c0d9a35"]

    assert [key for _, key in stage_keys(dockerfile, LEGACY, context=context)] == expected_legacy
    assert stage_keys(dockerfile, ROLLING, context=context)[0][1] == (
        "a3575e96f62ad1a022c2ad7adbb940cd1024bfe77d0345a90d5fbe0098cb4293"
    )

    (context / "scratch" / "new.log").write_text("more\n")
    (context / "scratch" / "notes.txt").write_text("edited\n")
    assert [key for _, key in stage_keys(dockerfile, LEGACY, context=context)] == expected_legacy


ALLOWLIST_DOCKERFILE = """FROM busybox AS builder
WORKDIR /app
COPY . .

FROM busybox AS final
COPY --from=builder /app /app
RUN cat /app/keep.txt > /kept.txt
"""


@pytest.mark.parametrize(
    ("options", "builder_keys", "final_keys"),
    [
        (LEGACY,
         ["1558a839fd350148a80407c48a1a3bb0a8b6ce3496dfa362c53bc3db02ed9b33",
          "501f0423c289fe5854637f703600130ef64e4704cbab3a6a335711705f0d86bb"],
         ["a7c084aa071c06a010aae8a7c1b00d3e674c3fd8b042215532b7f7596762d408",
          "7a5f3265bd3f3891d20b2b74178d1551a95dfc2dd6fd00e24d7b5f8e2c54108d"]),
        (LEGACY.with_flags("FF_KANIKO_SCOPED_DOCKERIGNORE"),
         ["1558a839fd350148a80407c48a1a3bb0a8b6ce3496dfa362c53bc3db02ed9b33",
          "501f0423c289fe5854637f703600130ef64e4704cbab3a6a335711705f0d86bb"],
         ["e471b7471bec5e2b340679081764835266baa9833347806d76136207002ff8c0",
          "1ee2f6559de279304e1f7079115b9e935075f9c74db41951e67a7e9ed6bd0ecc"]),
        (ROLLING,
         ["d91e02508743235191278f8331734829922d5518080109d16832d9827a0b7f38",
          "b88b76257a2ec3c3d4e284b7da7f59abe2c2313ec1274e4076617b5688a414fb"],
         ["d56a1263c706351fdfe2b2997ad89ec276cd332463ec3a3b236e9ce477ad2c65",
          "139daad7f87dbb8ea6e92f87d52cafe49d90f8251486c095a77c59599c0c29dd"]),
        (ROLLING.with_flags("FF_KANIKO_SCOPED_DOCKERIGNORE"),
         ["d91e02508743235191278f8331734829922d5518080109d16832d9827a0b7f38",
          "b88b76257a2ec3c3d4e284b7da7f59abe2c2313ec1274e4076617b5688a414fb"],
         ["75e4a8e27bff7774a2c9142266a053da71da63e8be3d5eec1960ecab6ab1f62b",
          "5c211c8dcba2d1bff2ae734915a16e7fb7debb0a146707db93029a1d059d9dc7"]),
    ],
)
def test_allowlist_dockerignore_and_copy_from(tmp_path: Path, options, builder_keys, final_keys):
    context = make_tree(tmp_path / "ctx", {
        ".dockerignore": "*\n!keep.txt\n", "keep.txt": "original text\n", "other.txt": "ignored\n",
    })
    # What the builder stage left in /app: the allow-listed file only.
    stage_root = make_tree(tmp_path / "stage0", {"app/keep.txt": "original text\n"})
    root = SourceRoot.for_stage(str(stage_root), 0)

    builder = stage_keys(ALLOWLIST_DOCKERFILE, options, context=context)
    final = stage_keys(ALLOWLIST_DOCKERFILE, options, context=context, stage=1, source_root=root)

    assert [key for _, key in builder] == builder_keys
    assert [key for _, key in final] == final_keys


RESOLVE_DOCKERFILE = """FROM busybox
ARG DIR
WORKDIR /srv/$DIR
COPY payload.txt /data/$DIR/payload.txt
RUN ls -d /srv/* /data/* > /listing.txt
"""


@pytest.mark.parametrize(
    ("options", "directory", "expected"),
    [
        (LEGACY, "one", ["1a92bbd573c7fac23bcc34769b12ef710f34ff762e4da5fcbbd65bacd6ddc792",
                         "07a945700f742f8dbeee60481850868dda3888eb5fae1094cc3181fd6dacf164",
                         "21c0d8dded9082168a221d9539cf5d14590ecde340f7003de42e11627aeae3fa",
                         "be9f4021014eb2110e087a0baaeff57f2113354522b1c421e1dab2f93052927f"]),
        (LEGACY, "two", ["1a92bbd573c7fac23bcc34769b12ef710f34ff762e4da5fcbbd65bacd6ddc792",
                         "07a945700f742f8dbeee60481850868dda3888eb5fae1094cc3181fd6dacf164",
                         "21c0d8dded9082168a221d9539cf5d14590ecde340f7003de42e11627aeae3fa",
                         "a377727885dc7e694fb34a998546ac06dedb3bd3b5fb0a9bbb68bf6a822a7bab"]),
        (LEGACY.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "one",
         ["1a92bbd573c7fac23bcc34769b12ef710f34ff762e4da5fcbbd65bacd6ddc792",
          "373a18c1ec30f140959f804dbfec4ce9ec4fcbd18294d6b2ea759ecbcd177a93",
          "92a99e393222ff428c985ddd4b0f2f36f5897a8d126a7c390e753040059e4578",
          "c1d8acda2326b440220787e06789c75cbc5bb23eae82f3fce6773c150245bafd"]),
        (LEGACY.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "two",
         ["1a92bbd573c7fac23bcc34769b12ef710f34ff762e4da5fcbbd65bacd6ddc792",
          "44824f4bb61d6691856695e9087b0cdea60cda57cde6a5b92aee053a14f8e50b",
          "6c433ccaf3b891712c0bb86a20b477d9e862d861950f1ecee31ebcb44a8546be",
          "9ed8686fc5f9d6b08fcb08975c7d3dde2d95f8d47c3c6c57cddf26fc76d80221"]),
        (ROLLING.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "one",
         ["231ad3a99599646d169905902a8f3db71ad75a71020e10667fda71320e8a5347",
          "e1b48a35e26c33668bfe044d36babec4a040330551cc33b7e954a6f80d37e7b3",
          "d19ddc24eca20721e499757e2316c9cbec2cfbd14dfcf82c8ab3942276e543d3",
          "b74a1ab817d36d013eedb2c3d2912cf5a2f1756bee918c7cee69bb8dfcef5ff9"]),
    ],
)
def test_resolved_instruction_variables(tmp_path: Path, options, directory, expected):
    context = make_tree(tmp_path / "ctx", {"payload.txt": "payload\n"})

    keys = stage_keys(RESOLVE_DOCKERFILE, options, context=context, build_args=[f"DIR={directory}"])

    assert [key for _, key in keys] == expected


@pytest.mark.parametrize(
    ("options", "word", "expected"),
    [
        (profile("kaniko"), "hello", "344428e07978966a4e85996f6184a5ed5e7db96c92f1827492199db313c2f1cb"),
        (profile("kaniko"), "world", "344428e07978966a4e85996f6184a5ed5e7db96c92f1827492199db313c2f1cb"),
        (ROLLING, "hello", "1c4f8521538f078665fc3c40145c1be1baea3513d6feaeeb476d477d5316fac5"),
        (LEGACY.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "hello",
         "bb6b239d63d7e088fb6a7146be29971ea6530e70c82e7b3af4a3e5fe54ed2b47"),
        (LEGACY.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "world",
         "09ead1c81d58e8fd237294136621c015aac2ea2f4d3c87cfed1c653a3b19fd19"),
        (ROLLING.with_flags("FF_KANIKO_RESOLVE_CACHE_KEY"), "world",
         "e8e3787dc1cc5e1c3345d4619687b9c0edb7a77f19bbc1e2159e9b99b73b9ab2"),
    ],
)
def test_run_heredoc_body(options, word, expected):
    dockerfile = f"FROM busybox\nRUN <<EOF\necho {word} > /greeting\nEOF\nRUN cat /greeting > /greeting-copy\n"

    assert stage_keys(dockerfile, options)[0] == ("RUN <<EOF", expected)


@pytest.mark.parametrize(
    ("options", "build_args", "expected"),
    [
        (profile("kaniko"), ["A=x-B=z", "B=y"], "23e5c6a4f8056e901b7c11b0f1e9219b63ba5411d387139306523ff39b080787"),
        (profile("kaniko"), ["A=x", "B=z-B=y"], "23e5c6a4f8056e901b7c11b0f1e9219b63ba5411d387139306523ff39b080787"),
        (ROLLING, ["A=x-B=z", "B=y"], "d081ed55af009b1f698db2cda335eccc0b7eb2b7e4657c4fd2eec4e9c30a75f9"),
        (ROLLING, ["A=x", "B=z-B=y"], "0392c97c5d7a6b2c70efa29b8e38043818ae6fa72ab678e5cf4ed0f1fb48a6f7"),
    ],
)
def test_separator_collision_of_build_args(options, build_args, expected):
    # Legacy keys join parts with "-", so A="x-B=z",B="y" and A="x",B="z-B=y"
    # give the same text; the rolling chain keeps them apart.
    dockerfile = 'FROM busybox\nARG A\nARG B\nRUN echo "A=[$A] B=[$B]" > /out\n'

    assert stage_keys(dockerfile, options, build_args=build_args)[-1][1] == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(0o644, "207e6d63a2bb20739371ea193adb583a3d982a9c0a8fed8b99c0ced7a6294e9f"),
     (0o755, "7aaacfa67f79cdaff3164daf200925534383c74dfa7d964ca6110d6d0881124d")],
)
def test_source_permission_change(tmp_path: Path, mode, expected):
    context = make_tree(tmp_path / "ctx", {"run.sh": "#!/bin/sh\necho running\n"})
    (context / "run.sh").chmod(mode)
    dockerfile = "FROM busybox\nCOPY run.sh /usr/local/bin/run.sh\n"

    assert stage_keys(dockerfile, LEGACY, context=context)[0][1] == expected


def test_mtime_only_change_keeps_key(tmp_path: Path):
    context = make_tree(tmp_path / "ctx", {"app.txt": "version=1\n"})
    dockerfile = "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /app-copy.txt\n"
    expected = ["e43c0cf29f7f216ea292e3a2215a56996737eeacdaaea6f0235d5ec0fb80b070",
                "df240e90e89d732f4dd7081a6eeaeed252da02a396a0981a3592fc510a348cc3"]

    assert [key for _, key in stage_keys(dockerfile, LEGACY, context=context)] == expected
    os.utime(context / "app.txt", (1_000_000, 1_000_000))
    assert [key for _, key in stage_keys(dockerfile, LEGACY, context=context)] == expected
