"""RUN steps in a real sandbox on a busybox root: isolation, mounts, users, failures."""

from __future__ import annotations

import os
import random
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from cachelab.build import fsstate
from cachelab.build import sandbox as sandbox_module
from cachelab.build.errors import InstructionError, RunFailed, SandboxUnavailable
from cachelab.build.mounts import MountSources, resolve_mounts
from cachelab.build.run import execute_run, network_allowed, run_command
from cachelab.build.sandbox import RunRequest, Sandbox
from cachelab.build.users import UserIds, resolve_user
from cachelab.dockerfile.model import Heredoc, Instruction, Mount

pytestmark = pytest.mark.sandbox

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _backends() -> list[str]:
    found = []
    if shutil.which("bwrap"):
        found.append("bwrap")
    if os.geteuid() == 0 and shutil.which("unshare"):
        found.append("unshare")
    return found


@pytest.fixture(params=_backends() or ["none"])
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    if request.param == "none":
        pytest.skip("no sandbox backend on this machine")
    return Sandbox(backend=request.param)


def _run(text: str, *, line: int = 1) -> Instruction:
    return Instruction(kind="RUN", text=f"RUN {text}", args=(text,), start_line=line, end_line=line)


def _sh(sandbox: Sandbox, root: Path, script: str, **changes: object) -> list[str]:
    request = RunRequest(argv=("/bin/sh", "-c", script), env=(PATH_ENV,), **changes)  # type: ignore[arg-type]
    result = sandbox.run(root, request)
    assert result.exit_code == 0, result.output_tail
    return result.output_tail


def test_run_writes_inside_root(sandbox: Sandbox, busybox_root: Path) -> None:
    _sh(sandbox, busybox_root, "echo hello > /tmp/out")

    assert (busybox_root / "tmp" / "out").read_text() == "hello\n"


def test_run_leaves_no_mount_stubs(sandbox: Sandbox, busybox_root: Path) -> None:
    for name in ("proc", "dev"):
        (busybox_root / name).rmdir()

    _sh(sandbox, busybox_root, "true")

    assert not (busybox_root / "proc").exists()
    assert not (busybox_root / "dev").exists()


def test_host_paths_invisible(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "outside" / "marker.txt"
    marker.parent.mkdir()
    marker.write_text("host")

    output = _sh(
        sandbox, busybox_root,
        f"cat {marker} 2>/dev/null && echo READ; echo x > {marker} 2>/dev/null && echo WROTE; "
        f"ls {tmp_path} 2>/dev/null | head -1; echo done",
    )

    assert "READ" not in output
    assert "WROTE" not in output
    assert output[-1] == "done"
    assert marker.read_text() == "host"


def test_no_network(sandbox: Sandbox, busybox_root: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted: list[bool] = []

    def accept() -> None:
        listener.settimeout(5)
        try:
            listener.accept()
            accepted.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    output = _sh(
        sandbox, busybox_root,
        f"if echo hi | nc -w 2 127.0.0.1 {port}; then echo CONNECTED; else echo FAILED; fi",
    )
    listener.close()
    thread.join()

    assert output[-1] == "FAILED"
    assert accepted == []


def _processes_with_cmdline(wanted: bytes) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path("/proc", pid, "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline == wanted:
                found.append(pid)
    return found


def test_no_process_left_behind(sandbox: Sandbox, busybox_root: Path) -> None:
    # A random duration makes the sleep's command line unique to this run, so a
    # concurrent test run on the same machine cannot be mistaken for a leftover.
    seconds = str(random.SystemRandom().randrange(100_000, 1_000_000))
    _sh(sandbox, busybox_root, f"sleep {seconds} >/dev/null 2>&1 & echo started")

    # The kernel kills what is left in the sandbox's PID namespace after bwrap has
    # returned, so a loaded machine can still list the dying sleep for a moment.
    # A sleep that survives the teardown is still listed after the wait.
    wanted = f"sleep\0{seconds}\0".encode()
    deadline = time.monotonic() + 10
    leftovers = _processes_with_cmdline(wanted)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.05)
        leftovers = _processes_with_cmdline(wanted)
    assert leftovers == []


def test_timeout_kills_command(sandbox: Sandbox, busybox_root: Path) -> None:
    request = RunRequest(argv=("/bin/sh", "-c", "sleep 60"), env=(PATH_ENV,), timeout_s=1)

    result = sandbox.run(busybox_root, request)

    assert result.timed_out
    assert result.exit_code == -9


def test_failed_run_reports_code_and_tail(sandbox: Sandbox, busybox_root: Path) -> None:
    script = "for i in $(seq 1 30); do echo line$i; done; exit 3"
    instruction = _run(script, line=7)

    with pytest.raises(RunFailed) as caught:
        execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,))

    error = caught.value
    assert error.exit_code == 3
    assert error.line == 7
    assert error.output_tail[0] == "line11"
    assert error.output_tail[-1] == "line30"
    assert "line 7:" in str(error)
    assert "exit code 3" in str(error)
    assert error.hint


def test_env_and_workdir(sandbox: Sandbox, busybox_root: Path) -> None:
    (busybox_root / "work").mkdir()

    request = RunRequest(
        argv=("/bin/sh", "-c", 'echo "$GREETING"; pwd; env | grep -c CACHELAB_HOST_ONLY || true'),
        env=(PATH_ENV, "GREETING=hi there"),
        workdir="/work",
    )
    os.environ["CACHELAB_HOST_ONLY"] = "1"
    try:
        result = sandbox.run(busybox_root, request)
    finally:
        del os.environ["CACHELAB_HOST_ONLY"]

    assert result.output_tail == ["hi there", "/work", "0"]


@pytest.mark.skipif(os.geteuid() != 0, reason="owners other than the caller need root")
def test_user_switch_owns_created_files(sandbox: Sandbox, busybox_root: Path) -> None:
    user = resolve_user(busybox_root, "app")

    output = _sh(sandbox, busybox_root, "id -u; id -g; touch /tmp/made; mkdir /tmp/d", user=user)

    assert output[:2] == ["1000", "1000"]
    made = os.lstat(busybox_root / "tmp" / "made")
    assert (made.st_uid, made.st_gid) == (1000, 1000)
    directory = os.lstat(busybox_root / "tmp" / "d")
    assert (directory.st_uid, directory.st_gid) == (1000, 1000)
    untouched = os.lstat(busybox_root / "tmp")
    assert (untouched.st_uid, untouched.st_gid) == (0, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="owners other than the caller need root")
def test_user_writes_own_home(busybox_root: Path) -> None:
    user = resolve_user(busybox_root, "app")

    _sh(Sandbox(), busybox_root, "touch /home/app/made", user=user)

    made = os.lstat(busybox_root / "home" / "app" / "made")
    assert (made.st_uid, made.st_gid) == (1000, 1000)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to fake an unprivileged caller's files")
def test_owner_restore_without_root_uses_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "old").mkdir(parents=True)
    before = fsstate.scan(root)
    (root / "old" / "new-file").write_text("x")
    os.chown(root / "old" / "new-file", 1000, 1000)  # as a user namespace run leaves it
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sandbox_module.os, "getegid", lambda: 1000)
    recorded: dict[str, tuple[int, int]] = {}

    sandbox_module._restore_owners(str(root), before, UserIds(0, 0),
                                   lambda rel, uid, gid: recorded.__setitem__(rel, (uid, gid)))

    assert recorded == {"old/new-file": (0, 0)}
    assert os.lstat(root / "old" / "new-file").st_uid == 1000


def test_user_cannot_write_root_files(busybox_root: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for a real uid switch")
    sandbox = Sandbox()
    user = resolve_user(busybox_root, "1000:1000")

    output = _sh(sandbox, busybox_root, "echo x >> /etc/passwd && echo WROTE; echo end", user=user)

    assert "WROTE" not in output
    assert output[-1] == "end"
    assert "x" not in (busybox_root / "etc" / "passwd").read_text().split("\n")


def test_home_from_passwd(sandbox: Sandbox, busybox_root: Path) -> None:
    instruction = _run('echo "$HOME"')

    as_root = execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,))
    given = execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV, "HOME=/custom"))

    assert as_root.output_tail == ["/root"]
    assert given.output_tail == ["/custom"]
    if os.geteuid() == 0:
        as_app = execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,),
                             user=resolve_user(busybox_root, "app"))
        assert as_app.output_tail == ["/home/app"]


def test_no_backend_explains_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cachelab.build.sandbox.shutil.which", lambda name: None)
    monkeypatch.setattr("cachelab.build.sandbox.os.geteuid", lambda: 1000)

    with pytest.raises(SandboxUnavailable) as caught:
        Sandbox()

    assert "bwrap" in str(caught.value)
    assert caught.value.hint is not None
    assert "bubblewrap" in caught.value.hint


def test_unknown_backend_rejected() -> None:
    with pytest.raises(SandboxUnavailable, match="docker"):
        Sandbox(backend="docker")


def test_network_flag() -> None:
    def flagged(value: str) -> Instruction:
        return Instruction(kind="RUN", text=f"RUN --network={value} true", args=("true",), start_line=5,
                           end_line=5, flags=(("network", (value,)),))

    assert network_allowed(_run("true")) is False
    assert network_allowed(flagged("none")) is False
    assert network_allowed(flagged("host")) is True
    with pytest.raises(InstructionError, match="line 5"):
        network_allowed(flagged("bridge"))


def test_resolve_user_forms(busybox_root: Path) -> None:
    assert resolve_user(busybox_root, "app") == UserIds(1000, 1000, (50,))
    assert resolve_user(busybox_root, "app:staff") == UserIds(1000, 50)
    assert resolve_user(busybox_root, "1000") == UserIds(1000, 1000, (50,))
    assert resolve_user(busybox_root, "4242") == UserIds(4242, 0)
    assert resolve_user(busybox_root, "4242:7") == UserIds(4242, 7)
    with pytest.raises(InstructionError):
        resolve_user(busybox_root, "ghost")


def _sources(tmp_path: Path, **changes: object) -> MountSources:
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    for name in ("cache", "temp"):
        (tmp_path / name).mkdir(exist_ok=True)
    values: dict[str, object] = {
        "context": str(context),
        "cache_dir": str(tmp_path / "cache"),
        "temp_dir": str(tmp_path / "temp"),
    }
    values.update(changes)
    return MountSources(**values)  # type: ignore[arg-type]


def test_bind_mount_from_context_read_only(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    (Path(sources.context) / "data.txt").write_text("from context\n")
    mounts = resolve_mounts([Mount(type="bind", target="/src", readonly=True)], sources)

    output = _sh(sandbox, busybox_root, "cat /src/data.txt; echo x > /src/new && echo WROTE; echo end",
                 mounts=mounts)

    assert output[0] == "from context"
    assert "WROTE" not in output
    assert output[-1] == "end"
    assert not (Path(sources.context) / "new").exists()
    assert not (busybox_root / "src").exists()


def test_bind_mount_rw_discards_writes(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    (Path(sources.context) / "data.txt").write_text("original\n")
    mounts = resolve_mounts(
        [Mount(type="bind", target="/src", readonly=False, options=(("rw", ""),))], sources
    )

    _sh(sandbox, busybox_root, "echo changed > /src/data.txt", mounts=mounts)

    assert (Path(sources.context) / "data.txt").read_text() == "original\n"


def test_bind_mount_from_stage_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sources = _sources(tmp_path)

    with caplog.at_level("WARNING", logger="cachelab.build.mounts"):
        mounts = resolve_mounts(
            [Mount(type="bind", target="/mnt", source="/opt", from_="builder", readonly=True)], sources, line=3,
        )

    assert mounts == []
    assert "line 3: RUN --mount=type=bind,from=builder is skipped" in caplog.text


def test_bind_mount_source_cannot_escape(tmp_path: Path) -> None:
    sources = _sources(tmp_path)

    with pytest.raises(InstructionError, match="leaves"):
        resolve_mounts([Mount(type="bind", target="/x", source="../../etc")], sources, line=4)


def test_cache_mount_persists(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    mount = Mount(type="cache", target="/var/cache/app", id="appcache")

    _sh(sandbox, busybox_root, "echo 1 >> /var/cache/app/count", mounts=resolve_mounts([mount], sources))
    output = _sh(sandbox, busybox_root, "cat /var/cache/app/count", mounts=resolve_mounts([mount], sources))

    assert output == ["1"]
    assert not (busybox_root / "var" / "cache" / "app" / "count").exists()


def test_cache_mount_bad_mode(tmp_path: Path) -> None:
    mount = Mount(type="cache", target="/c", options=(("target", "/c"), ("mode", "rwx")))

    with pytest.raises(InstructionError, match="line 9"):
        resolve_mounts([mount], _sources(tmp_path), line=9)


def test_tmpfs_mount_is_empty_and_discarded(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    (busybox_root / "scratch").mkdir()
    (busybox_root / "scratch" / "old").write_text("old")
    mounts = resolve_mounts([Mount(type="tmpfs", target="/scratch")], _sources(tmp_path))

    output = _sh(sandbox, busybox_root, "ls /scratch | wc -l; echo new > /scratch/new", mounts=mounts)

    assert output == ["0"]
    assert sorted(os.listdir(busybox_root / "scratch")) == ["old"]


def test_secret_mount(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t")
    sources = _sources(tmp_path, secrets={"token": str(secret)})
    mounts = resolve_mounts([Mount(type="secret", id="token")], sources)

    output = _sh(sandbox, busybox_root, "cat /run/secrets/token; echo", mounts=mounts)

    assert output == ["s3cr3t"]
    assert not (busybox_root / "run").exists()


def test_secret_required_missing(tmp_path: Path) -> None:
    mount = Mount(type="secret", id="absent", options=(("id", "absent"), ("required", "true")))

    with pytest.raises(InstructionError, match="absent"):
        resolve_mounts([mount], _sources(tmp_path), line=3)
    assert resolve_mounts([Mount(type="secret", id="absent")], _sources(tmp_path)) == []


def test_exec_form_and_custom_shell(sandbox: Sandbox, busybox_root: Path) -> None:
    exec_form = Instruction(kind="RUN", text='RUN ["echo", "a  b"]', args=("echo", "a  b"),
                            start_line=1, end_line=1, exec_form=True)
    shell_form = _run("echo $0")

    result = execute_run(sandbox, str(busybox_root), exec_form, env=(PATH_ENV,))
    shelled = execute_run(sandbox, str(busybox_root), shell_form, env=(PATH_ENV,),
                          shell=("/bin/ash", "-c"))

    assert result.output_tail == ["a  b"]
    assert shelled.output_tail == ["/bin/ash"]


def test_missing_workdir_runs_in_root(sandbox: Sandbox, busybox_root: Path) -> None:
    result = execute_run(sandbox, str(busybox_root), _run("pwd"), env=(PATH_ENV,), workdir="/not/there")

    assert result.output_tail == ["/"]
    assert not (busybox_root / "not").exists()


def test_heredoc_script(sandbox: Sandbox, busybox_root: Path) -> None:
    body = "echo one\necho two > /tmp/two\n"
    instruction = Instruction(kind="RUN", text="RUN <<EOF", args=("<<EOF",), start_line=1,
                              end_line=4, heredocs=(Heredoc(name="EOF", body=body),))

    result = execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,))

    assert result.output_tail == ["one"]
    assert (busybox_root / "tmp" / "two").read_text() == "two\n"


def test_heredoc_with_shebang(sandbox: Sandbox, busybox_root: Path) -> None:
    body = "#!/bin/ash\necho \"$0\"\n"
    instruction = Instruction(kind="RUN", text="RUN <<EOF", args=("<<EOF",), start_line=1,
                              end_line=4, heredocs=(Heredoc(name="EOF", body=body),))

    result = execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,))

    assert result.output_tail[0].startswith("/dev/.cachelab-heredoc/")
    assert os.listdir(busybox_root / "dev") == []


def test_heredoc_inside_command(sandbox: Sandbox, busybox_root: Path) -> None:
    instruction = Instruction(kind="RUN", text="RUN cat <<EOF > /tmp/out", args=("cat <<EOF > /tmp/out",),
                              start_line=1, end_line=4, heredocs=(Heredoc(name="EOF", body="a\nb\n"),))

    execute_run(sandbox, str(busybox_root), instruction, env=(PATH_ENV,))

    assert (busybox_root / "tmp" / "out").read_text() == "a\nb\n"


def test_run_command_forms() -> None:
    assert run_command(_run("echo hi")).argv == ("/bin/sh", "-c", "echo hi")
    chomped = Instruction(kind="RUN", text="RUN <<-EOF", args=("<<-EOF",), start_line=1, end_line=3,
                          heredocs=(Heredoc(name="EOF", body="\techo hi\n", chomp=True),))
    assert run_command(chomped).argv == ("/bin/sh", "-c", "echo hi\n")
