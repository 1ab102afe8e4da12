"""What a warm `cachelab build` process loads: nothing that only cold work needs.

A warm lookahead build whose instructions all hit runs no RUN, COPY or
snapshot and speaks to no registry, so the modules of that work stay unloaded
and the process spends its time on the build rather than on imports.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cachelab.cli import SUBCOMMANDS, _subcommand_of, build_parser, main
from tests.fixtures.builder import EXAMPLES
from tests.fixtures.paths import REPO_ROOT

# Modules a warm build from layout stores must not import.
COLD_ONLY_MODULES = (
    "httpx",
    "filelock",
    "cachelab.oci.registry",
    "cachelab.oci.extract",
    "cachelab.oci.importer",
    "cachelab.build.sandbox",
    "cachelab.build.run",
    "cachelab.build.mounts",
    "cachelab.build.copy",
    "cachelab.build.fetch",
    "cachelab.build.snapshot",
    "cachelab.build.stagefiles",
    "cachelab.cli.study",
    "cachelab.cli.corpus",
    # Loaded only for key explanations, heredocs, HEALTHCHECK durations,
    # RUN --mount options and "did you mean" hints.
    "cachelab.keys.explain",
    "cachelab.dockerfile.heredocs",
    "cachelab.dockerfile.duration",
    "csv",
    "difflib",
)
# The analysis stack, which no build imports (it is most of a process's start-up).
ANALYSIS_MODULES = ("pandas", "numpy", "pyarrow", "matplotlib", "ipywidgets", "cachelab.record")

_WARM_BUILD = """
import json, sys
from cachelab.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_warm_build_skips_cold_modules(image_store: Path, tmp_path: Path) -> None:
    arguments = [
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--strategy", "lookahead",
        "--image-store", str(image_store), "--cache-repo", str(tmp_path / "cache"),
    ]
    assert main(arguments) == 0

    completed = subprocess.run(
        [sys.executable, "-c", _WARM_BUILD, *arguments],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["code"] == 0
    loaded = set(report["modules"])
    assert "cachelab.build.builder" in loaded
    assert [name for name in COLD_ONLY_MODULES if name in loaded] == []
    assert [name for name in ANALYSIS_MODULES if name in loaded] == []


def test_parser_for_one_subcommand() -> None:
    parser = build_parser(only="build")

    args = parser.parse_args(["build", "FILE", "--strategy", "per-stage"])

    assert args.command == "build"
    assert args.strategy == "per-stage"
    subparsers = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert list(subparsers.choices) == ["build"]


def test_parser_for_all_subcommands() -> None:
    subparsers = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]

    assert list(subparsers.choices) == list(SUBCOMMANDS)


def test_subcommand_found_after_verbose() -> None:
    assert _subcommand_of(["-v", "build", "FILE"]) == "build"
    assert _subcommand_of(["-vv", "compare", "DIR"]) == "compare"
    assert _subcommand_of(["build"]) == "build"


def test_subcommand_none_for_options_or_typos() -> None:
    assert _subcommand_of([]) is None
    assert _subcommand_of(["--help"]) is None
    assert _subcommand_of(["--version"]) is None
    assert _subcommand_of(["buld", "FILE"]) is None


# Packages whose public names load their submodules on first read.
LAZY_PACKAGES = ("cachelab.keys", "cachelab.dockerfile", "cachelab.events")

_LOADED_AFTER = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _modules_loaded_by(module: str) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", _LOADED_AFTER, module],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_package_import_loads_no_submodule(package: str) -> None:
    loaded = _modules_loaded_by(package)

    assert [name for name in loaded if name.startswith(f"{package}.")] == []


def test_keys_errors_import_stays_small() -> None:
    loaded = _modules_loaded_by("cachelab.keys.errors")

    assert sorted(name for name in loaded if name.startswith("cachelab.")) == [
        "cachelab.keys",
        "cachelab.keys.errors",
    ]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_package_exports_every_name(package: str) -> None:
    module = importlib.import_module(package)

    for name in module.__all__:
        value = getattr(module, name)
        defining = importlib.import_module(f"{package}.{module._EXPORTS[name]}")
        assert value is getattr(defining, name), name
    assert sorted(module._EXPORTS) == sorted(module.__all__)
    assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_package_unknown_name(package: str) -> None:
    module = importlib.import_module(package)

    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_keys_explain_stays_function() -> None:
    import cachelab.keys
    import cachelab.keys.explain
    from cachelab.keys import explain

    assert callable(explain)
    assert explain is sys.modules["cachelab.keys.explain"].explain
    assert cachelab.keys.explain is explain


_SUBMODULE_FIRST = """
import sys
import cachelab.keys.explain
import cachelab.keys
print(type(cachelab.keys.explain).__name__)
"""


def test_keys_explain_function_after_submodule() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _SUBMODULE_FIRST],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )

    assert completed.stdout.strip() == "function"


_FROZEN_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count()))
from cachelab.cli import entrypoint
sys.argv = ["cachelab"]
entrypoint()
"""


def test_entrypoint_freezes_objects_before_exit() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _FROZEN_AT_EXIT],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT,
    )

    # No subcommand: the help text and exit status 2, from main's return value.
    assert completed.returncode == 2
    frozen = int(completed.stdout.strip().splitlines()[-1].split()[1])
    assert frozen > 1000
