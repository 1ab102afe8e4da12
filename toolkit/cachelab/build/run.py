"""RUN: the command line a RUN instruction executes, and executing it in a sandbox.

Shell form runs the stage's SHELL (default `/bin/sh -c`) with the instruction's
command text; exec form runs its argv as given. Heredocs follow BuildKit:

* `RUN <<EOF` alone: a body starting with `#!` is written to a file and executed
  directly, so its interpreter line applies; any other body is the script given
  to the shell (`/bin/sh -c BODY`), with leading tabs removed for `<<-`.
* a heredoc inside a longer command (`RUN cat <<EOF > /out`): the command line,
  then each body and its delimiter line, is given to the shell, which reads
  the heredocs itself.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from cachelab.build.errors import InstructionError, RunFailed, RunProgramMissing
from cachelab.build.rootpath import resolve_in_root
from cachelab.build.run_program import program_found
from cachelab.build.sandbox import RecordOwner, RunRequest, RunResult, Sandbox, SandboxMount
from cachelab.build.users import ROOT, UserIds, home_directory
from cachelab.dockerfile.model import Instruction

logger = logging.getLogger(__name__)

DEFAULT_SHELL = ("/bin/sh", "-c")
HEREDOC_SCRIPT_DIR = "/dev/.cachelab-heredoc"


@dataclass(frozen=True)
class RunCommand:
    """The argv of a RUN step and the script files it needs mounted."""

    argv: tuple[str, ...]
    scripts: tuple[SandboxMount, ...] = field(default=())


def run_command(
    instruction: Instruction, *, shell: Sequence[str] = DEFAULT_SHELL, temp_dir: str | None = None
) -> RunCommand:
    """Build the argv of a RUN instruction (see the module docstring)."""
    if instruction.kind != "RUN":
        raise InstructionError("not a RUN instruction", line=instruction.start_line)
    if instruction.exec_form:
        if not instruction.args:
            raise InstructionError("RUN needs a command", line=instruction.start_line)
        return RunCommand(tuple(instruction.args))

    command = " ".join(instruction.args)
    heredocs = instruction.heredocs
    if not heredocs:
        return RunCommand((*shell, command))

    if len(heredocs) == 1 and command.strip().lstrip("0123456789").startswith("<<") and len(command.split()) == 1:
        body = heredocs[0].chomped_body
        if body.startswith("#!"):
            return _script_command(body, temp_dir)
        return RunCommand((*shell, body))

    script = command
    for heredoc in heredocs:
        script += "\n" + heredoc.body + heredoc.name
    return RunCommand((*shell, script))


def _script_command(body: str, temp_dir: str | None) -> RunCommand:
    handle, host_path = tempfile.mkstemp(prefix="heredoc-", dir=temp_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as script:
        script.write(body)
    os.chmod(host_path, 0o755)
    target = f"{HEREDOC_SCRIPT_DIR}/{os.path.basename(host_path)}"
    return RunCommand((target,), (SandboxMount("bind", target, host_path, readonly=True),))


def execute_run(
    sandbox: Sandbox,
    root: str,
    instruction: Instruction,
    *,
    env: Sequence[str],
    workdir: str = "/",
    user: UserIds = ROOT,
    shell: Sequence[str] = DEFAULT_SHELL,
    mounts: Sequence[SandboxMount] = (),
    network: bool = False,
    timeout_s: float | None = None,
    temp_dir: str | None = None,
    record_owner: RecordOwner | None = None,
    redact: Sequence[str] = (),
) -> RunResult:
    """Run a RUN instruction on `root`; raise `RunFailed` unless it exits with 0.

    `env` is the environment (config Env and build args) as `K=V`; HOME is
    added from /etc/passwd unless `env` sets it. `record_owner` is passed to
    `Sandbox.run`. Each text in `redact` (secret contents) is masked in the
    output that is logged and kept for `RunFailed`.
    """
    command = run_command(instruction, shell=shell, temp_dir=temp_dir)
    environment = list(env)
    if not any(item.startswith("HOME=") for item in environment):
        # Docker sets HOME from the user's passwd entry when the config has none.
        environment.append(f"HOME={home_directory(root, user.uid)}")
    if not os.path.isdir(resolve_in_root(root, workdir)):
        # kaniko runs the command in / when the working directory does not exist.
        logger.debug("line %d: working directory %s is missing; running in /", instruction.start_line, workdir)
        workdir = "/"
    program = command.argv[0]
    if not program_found(root, program, env=environment, workdir=workdir, mounts=(*mounts, *command.scripts)):
        raise _program_missing(instruction, program, shell)
    request = RunRequest(
        argv=command.argv,
        env=tuple(environment),
        workdir=workdir,
        user=user,
        mounts=(*mounts, *command.scripts),
        network=network,
        timeout_s=timeout_s,
        redact=tuple(redact),
    )
    try:
        result = sandbox.run(root, request, record_owner=record_owner)
    finally:
        for script in command.scripts:
            if script.source:
                os.unlink(script.source)
    if result.exit_code != 0 or result.timed_out:
        raise RunFailed(
            instruction.text,
            exit_code=result.exit_code,
            line=instruction.start_line,
            output_tail=result.output_tail,
            timed_out=result.timed_out,
        )
    logger.info("line %d: RUN finished (%s)", instruction.start_line, result.backend)
    return result


def _program_missing(instruction: Instruction, program: str, shell: Sequence[str]) -> RunProgramMissing:
    line = instruction.start_line
    if instruction.exec_form:
        return RunProgramMissing(
            instruction.text, f"the stage has no program {program!r}", program=program, line=line,
            hint="Give the path of a program the stage contains, or COPY the program into the stage first.",
        )
    which = "the default shell of a shell-form RUN" if tuple(shell) == DEFAULT_SHELL else "the shell that SHELL sets"
    return RunProgramMissing(
        instruction.text,
        f"the stage has no {program}, {which} (a stage FROM scratch has no files until COPY adds them)",
        program=program, line=line,
        hint=(
            f"Base the stage on an image that has {program}, COPY a static shell to {program} before this RUN, "
            'or use the exec form with a program the stage contains: RUN ["/path/to/program", "arg"].'
        ),
    )


def network_allowed(instruction: Instruction) -> bool:
    """Tell whether `RUN --network=host` asks for the host network (default: none)."""
    mode = instruction.flag("network")
    if mode in (None, "", "none", "default"):
        return False
    if mode == "host":
        return True
    raise InstructionError(
        f"RUN --network={mode} is not supported",
        hint="Use --network=none (the default here) or --network=host.",
        line=instruction.start_line,
    )
