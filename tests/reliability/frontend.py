"""Drive the whole Dockerfile front end on one text, as a fuzz target."""

from __future__ import annotations

from cachelab.dockerfile import DockerfileError, expand, parse_dockerfile, plan_stages

# Values for expansion; fixed so that a failure reproduces.
ENV = {"HOME": "/root", "VERSION": "1.2.3", "EMPTY": "", "PATH": "/usr/bin:/bin"}


def run_front_end(text: str) -> str:
    """Parse, plan the stages and expand every argument of `text`; return "ok" or "error".

    Only DockerfileError is an expected failure; any other exception propagates.
    """
    try:
        dockerfile = parse_dockerfile(text, "fuzz/Dockerfile")
        plan_stages(dockerfile, platform="linux/amd64")
        for stage in dockerfile.stages:
            for instruction in stage.instructions:
                for argument in instruction.args:
                    expand(argument, ENV, escape=dockerfile.escape)
    except DockerfileError as error:
        assert str(error), "a DockerfileError must have a message"
        return "error"
    return "ok"
