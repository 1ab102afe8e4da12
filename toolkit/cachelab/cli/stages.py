"""`cachelab stages`: show the stage graph kaniko would build for a Dockerfile."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from cachelab.errors import CachelabError

if TYPE_CHECKING:
    from cachelab.dockerfile.graph import SourceRef, StageGraph


class _AppendBuildArg(argparse.Action):
    """Collect `--build-arg K=V` (or `--build-arg=K=V`) into a dict."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        name, has_value, value = str(values).partition("=")
        if not name:
            parser.error(f"invalid --build-arg {values!r}: expected NAME=VALUE")
        found = dict(getattr(namespace, self.dest) or {})
        # kaniko reads a bare `--build-arg NAME` from the environment.
        found[name] = value if has_value else _environment_value(name)
        setattr(namespace, self.dest, found)


class _AppendTargets(argparse.Action):
    """Collect repeated `--target` options, each possibly a comma-separated list."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        found = list(getattr(namespace, self.dest) or [])
        found.extend(part.strip() for part in str(values).split(",") if part.strip())
        setattr(namespace, self.dest, found)


def _environment_value(name: str) -> str:
    return os.environ.get(name, "")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stages",
        help="show the stages kaniko builds for a Dockerfile",
        description=(
            "Parse a Dockerfile and show each stage: its base, the stages it depends "
            "on, whether it is live for the targets, and which built stage absorbed "
            "it in a FROM-chain squash."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="a Dockerfile, or a directory holding one named Dockerfile")
    parser.add_argument(
        "--target",
        action=_AppendTargets,
        dest="targets",
        default=[],
        metavar="T",
        help="target stage name; repeat or separate with commas (default: the last stage)",
    )
    parser.add_argument(
        "--build-arg",
        action=_AppendBuildArg,
        dest="build_args",
        default={},
        metavar="K=V",
        help="set a build argument (meta ARGs in FROM lines); repeatable",
    )
    parser.add_argument(
        "--platform",
        default=None,
        metavar="OS/ARCH",
        help="target platform, os/arch[/variant] (default: this machine); FROM lines do not see TARGETPLATFORM and friends, as in kaniko",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: table)",
    )
    parser.set_defaults(handler=run_stages)


def run_stages(args: argparse.Namespace) -> int:
    from cachelab.cli.build import dockerfile_of
    from cachelab.dockerfile import load_dockerfile, plan_stages

    dockerfile = load_dockerfile(dockerfile_of(args.file))
    try:
        graph = plan_stages(
            dockerfile,
            targets=args.targets,
            build_args=args.build_args,
            platform=args.platform,
        )
    except ValueError as exc:
        raise CachelabError(
            str(exc), hint="write the platform as os/arch, e.g. linux/arm64"
        ) from None

    if args.format == "json":
        json.dump(graph_as_dict(graph), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(graph))
    return 0


def _base_label(kind: str, image: str | None, base_stage: int | None, names: dict[int, str]) -> str:
    if kind == "scratch":
        return "scratch"
    if kind == "stage" and base_stage is not None:
        name = names.get(base_stage)
        return f"stage {base_stage} ({name})" if name else f"stage {base_stage}"
    return image or ""


def format_table(graph: StageGraph) -> str:
    """Render one row per stage as written: index, name, base, depends on, live, squashed into."""
    names = {stage.index: stage.name for stage in graph.stages if stage.name}
    header = ("index", "name", "base", "depends on", "live", "squashed into")
    rows = [header]
    for stage in graph.stages:
        live = "yes" if stage.live else "no"
        if stage.target:
            push = stage.index == graph.push and len(graph.targets) > 1
            live += " (push target)" if push else " (target)"
        rows.append(
            (
                str(stage.index),
                stage.name or "-",
                _base_label(stage.base_kind, stage.base_image, stage.base_stage, names),
                ", ".join(str(index) for index in stage.depends_on) or "-",
                live,
                "-" if stage.squashed_into is None else str(stage.squashed_into),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"


def graph_as_dict(graph: StageGraph) -> dict[str, Any]:
    """Return the graph as JSON-ready data: stages as written and stages as built."""
    return {
        "path": graph.dockerfile.path,
        "targets": list(graph.targets),
        "final": graph.final,
        "push": graph.push,
        "stages": [
            {
                "index": stage.index,
                "name": stage.name,
                "base_kind": stage.base_kind,
                "base_image": stage.base_image,
                "base_stage": stage.base_stage,
                "platform": stage.platform,
                "depends_on": list(stage.depends_on),
                "sources": [_source_as_dict(source) for source in stage.sources],
                "live": stage.live,
                "target": stage.target,
                "squashed_into": stage.squashed_into,
            }
            for stage in graph.stages
        ],
        "built": [
            {
                "index": stage.index,
                "name": stage.name,
                "base_kind": stage.base_kind,
                "base_image": stage.base_image,
                "base_stage": stage.base_stage,
                "absorbed": list(stage.absorbed),
                "push": stage.push,
                "final": stage.final,
                "triggers": [instruction.text for instruction in stage.triggers],
                "instructions": [instruction.text for instruction in stage.instructions],
            }
            for stage in graph.built
        ],
    }


def _source_as_dict(source: SourceRef) -> dict[str, Any]:
    return {
        "kind": source.kind,
        "written": source.written,
        "line": source.line,
        "stage": source.stage,
        "image": source.image,
    }
