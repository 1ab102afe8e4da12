"""COPY and ADD rules on real files: destinations, wildcards, owners, modes, archives, URLs."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from cachelab.build.copy import execute_copy
from cachelab.build.copyfiles import TreeWriter
from cachelab.build.copysources import SourceRoot
from cachelab.build.errors import ChecksumMismatch, CopyError, CopySourceNotFound, InstructionError
from cachelab.build.snapshot import Snapshotter
from cachelab.dockerfile.lexer import expand_word
from cachelab.dockerfile.model import Instruction
from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.dockerignore import DockerIgnore
from cachelab.keys.parts import expand_heredoc_raw

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "context"
    (ctx / "src" / "pkg").mkdir(parents=True)
    (ctx / "src" / "main.py").write_text("main")
    (ctx / "src" / "pkg" / "mod.py").write_text("mod")
    (ctx / "src" / "pkg" / "notes.txt").write_text("notes")
    (ctx / "a.txt").write_text("a")
    (ctx / "b.txt").write_text("bb")
    (ctx / "c.md").write_text("c")
    (ctx / "secret.env").write_text("x")
    os.chmod(ctx / "a.txt", 0o640)
    os.utime(ctx / "a.txt", (1_600_000_000, 1_600_000_000))
    return ctx


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    root = tmp_path / "stage"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:app\napp:x:1000:\n")
    (root / "existing").mkdir()
    return root


def _instruction(line: str) -> Instruction:
    return parse_dockerfile(f"FROM scratch\n{line}\n").stages[0].instructions[0]


def _copy(line: str, context: Path, stage: Path, **kwargs: object) -> tuple[str, ...]:
    source = kwargs.pop("source", None) or SourceRoot(str(context), f"build context {context}")
    result = execute_copy(_instruction(line), stage_root=str(stage), source=source, **kwargs)  # type: ignore[arg-type]
    return result.touched


def _files(root: Path, below: str) -> list[str]:
    base = root / below.lstrip("/")
    return sorted(str(path.relative_to(base)) for path in base.rglob("*"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("COPY a.txt /dst", {"dst": "a"}),
        ("COPY a.txt /dst/", {"dst/a.txt": "a"}),
        ("COPY a.txt /existing", {"existing/a.txt": "a"}),
        ("COPY a.txt b.txt /dst/", {"dst/a.txt": "a", "dst/b.txt": "bb"}),
        ("COPY *.txt /dst/", {"dst/a.txt": "a", "dst/b.txt": "bb"}),
        ("COPY ?.md /dst/", {"dst/c.md": "c"}),
        ("COPY [ab].txt /dst/", {"dst/a.txt": "a", "dst/b.txt": "bb"}),
        ("COPY src /app", {"app/main.py": "main", "app/pkg/mod.py": "mod", "app/pkg/notes.txt": "notes"}),
        ("COPY src/ /app/", {"app/main.py": "main", "app/pkg/mod.py": "mod", "app/pkg/notes.txt": "notes"}),
        ("COPY src/*/mod.py /m/", {"m/mod.py": "mod"}),
        ("COPY ./src/../a.txt /x/y/z/", {"x/y/z/a.txt": "a"}),
        ("COPY a.txt relative/", {"work/relative/a.txt": "a"}),
        ("COPY a.txt .", {"work/a.txt": "a"}),
        # An --exclude pattern without `**` only matches at the top of the source.
        ("COPY --exclude=*.txt src /app/",
         {"app/main.py": "main", "app/pkg/mod.py": "mod", "app/pkg/notes.txt": "notes"}),
        ("COPY --exclude=**/*.txt src /app/", {"app/main.py": "main", "app/pkg/mod.py": "mod"}),
        ("COPY --exclude=b.txt *.txt /dst/", {"dst/a.txt": "a"}),
        ("COPY --parents src/pkg/mod.py a.txt /p/", {"p/src/pkg/mod.py": "mod", "p/a.txt": "a"}),
        ("COPY --parents src/./pkg/mod.py /p/", {"p/pkg/mod.py": "mod"}),
        ("COPY --link a.txt /l/", {"l/a.txt": "a"}),
    ],
)
def test_copy_rules(line: str, expected: dict[str, str], context: Path, stage: Path) -> None:
    (stage / "work").mkdir()

    _copy(line, context, stage, workdir="/work")

    for path, content in expected.items():
        assert (stage / path).read_text() == content, path
    written = set()
    for top in {path.split("/")[0] for path in expected}:
        candidates = [stage / top, *(stage / top).rglob("*")]
        written |= {str(path.relative_to(stage)) for path in candidates if path.is_file()}
    assert written == set(expected)


def test_copy_keeps_mode_and_mtime(context: Path, stage: Path) -> None:
    _copy("COPY a.txt /dst/", context, stage)

    st = os.lstat(stage / "dst" / "a.txt")
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_mtime == 1_600_000_000


def test_copy_dir_into_existing_keeps_its_mode(context: Path, stage: Path) -> None:
    os.chmod(context / "src", 0o700)
    os.chmod(stage / "existing", 0o751)

    _copy("COPY src /existing/", context, stage)
    _copy("COPY src /created/", context, stage)

    assert stat.S_IMODE(os.lstat(stage / "existing").st_mode) == 0o751
    assert stat.S_IMODE(os.lstat(stage / "created").st_mode) == 0o700
    assert (stage / "existing" / "main.py").read_text() == "main"


def test_copy_chmod(context: Path, stage: Path) -> None:
    _copy("COPY --chmod=0755 src /app", context, stage)

    assert stat.S_IMODE(os.lstat(stage / "app" / "main.py").st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(stage / "app" / "pkg").st_mode) == 0o755


def test_copy_chmod_invalid(context: Path, stage: Path) -> None:
    with pytest.raises(InstructionError, match="--chmod"):
        _copy("COPY --chmod=u+x a.txt /dst/", context, stage)


@pytest.mark.skipif(not AS_ROOT, reason="lchown to other ids needs root")
@pytest.mark.parametrize(
    ("spec", "owner"),
    [("app", (1000, 1000)), ("app:staff", (1000, 50)), ("1234", (1234, 1234)), ("1234:77", (1234, 77))],
)
def test_copy_chown(spec: str, owner: tuple[int, int], context: Path, stage: Path) -> None:
    _copy(f"COPY --chown={spec} src /new/app/", context, stage)

    for path in ("new/app/main.py", "new/app/pkg", "new/app/pkg/mod.py", "new/app", "new"):
        st = os.lstat(stage / path)
        assert (st.st_uid, st.st_gid) == owner, path


def test_copy_chown_unknown_user(context: Path, stage: Path) -> None:
    with pytest.raises(InstructionError, match="ghost"):
        _copy("COPY --chown=ghost a.txt /dst/", context, stage)


def test_chown_without_root_uses_side_table(context: Path, stage: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(stage))
    # A writer that cannot lchown, as when the builder does not run as root.
    writer = TreeWriter(str(stage), chown=(1000, 50), record_owner=snapshotter.record_owner, as_root=False)

    host = writer.destination("/dst/a.txt")
    writer.copy_entry(str(context / "a.txt"), host, os.stat(context / "a.txt"))
    layer = snapshotter.take_paths(["/dst/a.txt"], tmp_path / "layer.tar")

    with tarfile.open(layer.path) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert (members["dst/a.txt"].uid, members["dst/a.txt"].gid) == (1000, 50)
    assert (members["dst"].uid, members["dst"].gid) == (1000, 50)


def test_copy_source_not_found(context: Path, stage: Path) -> None:
    with pytest.raises(CopySourceNotFound) as caught:
        _copy("COPY missing.txt /dst/", context, stage)

    assert "line 2" in str(caught.value)
    assert "missing.txt" in str(caught.value)
    assert str(context) in str(caught.value)


def test_wildcard_matching_nothing(context: Path, stage: Path) -> None:
    with pytest.raises(CopySourceNotFound):
        _copy("COPY *.rs /dst/", context, stage)


def test_invalid_wildcard(context: Path, stage: Path) -> None:
    with pytest.raises(CopyError, match="line 2: invalid wildcard"):
        _copy("COPY [a-.txt /dst/", context, stage)


def test_multiple_sources_need_dir(context: Path, stage: Path) -> None:
    with pytest.raises(CopyError, match="more than one source"):
        _copy("COPY a.txt b.txt /file", context, stage)


def test_source_cannot_leave_context(context: Path, stage: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("outside")

    with pytest.raises(CopySourceNotFound):
        _copy("COPY ../outside.txt /dst/", context, stage)


def test_symlink_source_followed_inside_context(context: Path, stage: Path) -> None:
    os.symlink("/a.txt", context / "link-abs")
    os.symlink("src", context / "dir-link")
    os.symlink("../main.py", context / "src" / "pkg" / "inner-link")

    _copy("COPY link-abs /f", context, stage)
    _copy("COPY dir-link /d/", context, stage)

    assert (stage / "f").read_text() == "a"
    assert not (stage / "f").is_symlink()
    assert os.readlink(stage / "d" / "pkg" / "inner-link") == "../main.py"


def test_dest_symlink_stays_in_root(context: Path, stage: Path, tmp_path: Path) -> None:
    outside = tmp_path / "host-dir"
    outside.mkdir()
    os.symlink(str(outside), stage / "escape")

    snapshotter = Snapshotter(str(stage))
    (outside / "host-secret").write_text("host")

    touched = _copy("COPY a.txt /escape/", context, stage)
    layer = snapshotter.take_paths(touched, tmp_path / "layer.tar")

    assert sorted(path.name for path in outside.iterdir()) == ["host-secret"]
    inside = str(outside).lstrip("/")
    assert (stage / inside / "a.txt").read_text() == "a"
    assert touched == (f"/{inside}/a.txt",)
    with tarfile.open(layer.path) as tar:
        assert not [name for name in tar.getnames() if "host-secret" in name]
    scoped = snapshotter.take_paths(["/escape/host-secret"], tmp_path / "scoped.tar")
    with tarfile.open(scoped.path) as tar:
        assert tar.getnames() == []


def test_dockerignore_filters(context: Path, stage: Path) -> None:
    ignore = DockerIgnore.from_text("*.env\nsrc/pkg/*.txt\n")
    source = SourceRoot(str(context), "context", ignore)

    _copy("COPY . /all/", context, stage, source=source)

    assert _files(stage, "/all") == ["a.txt", "b.txt", "c.md", "src", "src/main.py", "src/pkg", "src/pkg/mod.py"]
    with pytest.raises(CopySourceNotFound):
        _copy("COPY secret.env /x/", context, stage, source=source)


def test_dockerignore_exception(context: Path, stage: Path) -> None:
    ignore = DockerIgnore.from_text("src\n!src/pkg/mod.py\n")
    source = SourceRoot(str(context), "context", ignore)

    _copy("COPY . /all/", context, stage, source=source)

    assert "src/pkg/mod.py" in _files(stage, "/all")
    assert "src/main.py" not in _files(stage, "/all")


def test_heredoc_sources(context: Path, stage: Path) -> None:
    line = "COPY <<EOF <<-\"RAW\" /h/\nhello \"$NAME\"\nEOF\n\tkeep $NAME\n\tRAW"
    instruction = parse_dockerfile(f"FROM scratch\n{line}\n").stages[0].instructions[0]
    env = {"NAME": "world"}

    execute_copy(instruction, stage_root=str(stage), source=SourceRoot(str(context), "context"),
                 expand_body=lambda body: expand_heredoc_raw(body, env))

    assert (stage / "h" / "EOF").read_text() == 'hello "world"\n'
    assert (stage / "h" / "RAW").read_text() == "keep $NAME\n"
    assert stat.S_IMODE(os.lstat(stage / "h" / "EOF").st_mode) == 0o644


def test_heredoc_to_file_unexpanded(context: Path, stage: Path) -> None:
    line = "COPY --chmod=755 <<EOF /usr/local/bin/run\n#!/bin/sh\necho $HOME\nEOF"
    instruction = parse_dockerfile(f"FROM scratch\n{line}\n").stages[0].instructions[0]

    result = execute_copy(instruction, stage_root=str(stage), source=SourceRoot(str(context), "context"))

    assert result.touched == ("/usr/local/bin/run",)
    assert (stage / "usr" / "local" / "bin" / "run").read_text() == "#!/bin/sh\necho $HOME\n"
    assert stat.S_IMODE(os.lstat(stage / "usr" / "local" / "bin" / "run").st_mode) == 0o755


def test_copy_expands_variables(context: Path, stage: Path) -> None:
    env = {"DEST": "/opt/app", "SRC": "a"}

    _copy("COPY ${SRC}.txt $DEST/", context, stage, expand=lambda word: expand_word(word, env))

    assert (stage / "opt" / "app" / "a.txt").read_text() == "a"


def test_copy_from_stage_keeps_links_and_owners(stage: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    (deps / "usr" / "lib").mkdir(parents=True)
    (deps / "usr" / "lib" / "libx.so.1").write_text("lib")
    os.symlink("libx.so.1", deps / "usr" / "lib" / "libx.so")
    if AS_ROOT:
        os.chown(deps / "usr" / "lib" / "libx.so.1", 7, 8)
    source = SourceRoot(str(deps), "stage 0 (builder)")

    _copy("COPY --from=builder /usr/lib /usr/lib", deps, stage, source=source)

    assert os.readlink(stage / "usr" / "lib" / "libx.so") == "libx.so.1"
    if AS_ROOT:
        st = os.lstat(stage / "usr" / "lib" / "libx.so.1")
        assert (st.st_uid, st.st_gid) == (7, 8)


def _tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("pkg/one.txt", b"one"), ("pkg/two.txt", b"two")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("plain.tar", lambda data: data),
        ("gz.tar.gz", gzip.compress),
        ("bz.tar.bz2", bz2.compress),
        ("xz.tar.xz", lzma.compress),
        ("zst.tar.zst", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_add_local_archive_unpacks(name: str, compress: object, context: Path, stage: Path) -> None:
    (context / name).write_bytes(compress(_tar_bytes()))  # type: ignore[operator]

    touched = _copy(f"ADD {name} /unpacked/", context, stage)

    assert touched == ("/unpacked",)
    assert (stage / "unpacked" / "pkg" / "one.txt").read_text() == "one"
    assert stat.S_IMODE(os.lstat(stage / "unpacked" / "pkg" / "two.txt").st_mode) == 0o600


def test_add_archive_unpack_false_and_copy(context: Path, stage: Path) -> None:
    (context / "plain.tar").write_bytes(_tar_bytes())
    (context / "notatar.gz").write_bytes(gzip.compress(b"just text"))

    _copy("ADD --unpack=false plain.tar /keep/", context, stage)
    _copy("COPY plain.tar /copied/", context, stage)
    _copy("ADD notatar.gz /gz/", context, stage)

    assert (stage / "keep" / "plain.tar").is_file()
    assert (stage / "copied" / "plain.tar").is_file()
    assert gzip.decompress((stage / "gz" / "notatar.gz").read_bytes()) == b"just text"


def test_add_archive_cannot_escape(context: Path, stage: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (context / "evil.tar").write_bytes(buffer.getvalue())

    with pytest.raises(Exception, match="escaped|\\.\\."):
        _copy("ADD evil.tar /unpacked/", context, stage)
    assert not (tmp_path / "escaped.txt").exists()


PAYLOAD = b"downloaded payload\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/files/tool.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_add_url_with_checksum(http_server: str, context: Path, stage: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(PAYLOAD).hexdigest()

    touched = _copy(f"ADD --checksum=sha256:{digest} {http_server}/files/tool.bin /opt/", context, stage,
                    temp_dir=str(tmp_path))

    assert touched == ("/opt/tool.bin",)
    target = stage / "opt" / "tool.bin"
    assert target.read_bytes() == PAYLOAD
    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o600
    assert os.lstat(target).st_mtime == 1445412480


def test_add_url_bad_checksum(http_server: str, context: Path, stage: Path, tmp_path: Path) -> None:
    wrong = "0" * 64

    with pytest.raises(ChecksumMismatch) as caught:
        _copy(f"ADD --checksum=sha256:{wrong} {http_server}/files/tool.bin /opt/x", context, stage,
              temp_dir=str(tmp_path))

    assert hashlib.sha256(PAYLOAD).hexdigest() in str(caught.value)
    assert "line 2" in str(caught.value)
    assert not (stage / "opt" / "x").exists()
    assert list(tmp_path.glob("add-*")) == []


def test_add_url_not_found(http_server: str, context: Path, stage: Path, tmp_path: Path) -> None:
    with pytest.raises(CopyError, match="HTTP 404"):
        _copy(f"ADD {http_server}/missing /opt/", context, stage, temp_dir=str(tmp_path))


def test_copy_rejects_url(context: Path, stage: Path) -> None:
    with pytest.raises(CopyError, match="use ADD"):
        _copy("COPY http://127.0.0.1:1/x /opt/", context, stage)


def test_touched_paths_feed_fast_snapshot(context: Path, stage: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(stage))

    touched = _copy("COPY src /app/", context, stage)
    layer = snapshotter.take_paths(touched, tmp_path / "layer.tar")

    with tarfile.open(layer.path) as tar:
        names = tar.getnames()
    assert names == ["app", "app/main.py", "app/pkg", "app/pkg/mod.py", "app/pkg/notes.txt"]
