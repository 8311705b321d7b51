"""Live FUSE mount of an emulated machine's tree (``numa-hpe mount DIR``).

Reads and writes go to the emulator, so a shell on the host drives the emulated kernel the way
a shell on the guest drives sysfs::

    numa-hpe mount /tmp/sys --background
    echo online > /tmp/sys/devices/system/memory/memory16/state
    cat /tmp/sys/devices/system/node/has_memory
    umount /tmp/sys

A refused store returns the kernel's errno to the writer (``sh: write error: Invalid
argument``). Attributes look like sysfs: regular files of size 4096 with mode 0444 / 0644 /
0200, directories 0755, relative symlinks. Files are opened ``direct_io`` and attributes are not
cached, so every ``read`` shows the current state.

Tools without a sysroot option (``chmem``, ``numactl``) read ``/sys/devices/system`` itself:
:func:`run_bind_sys` runs them in a private mount namespace where the emulated
``/sys/devices/system/{cpu,memory,node}`` are bind-mounted over the real ones (``numa-hpe mount
DIR --bind-sys -- chmem -e 128M``); the binds vanish with the command's process.

Uses ``mfusepy`` (ctypes bindings of libfuse 3 or 2; ``pip install mfusepy``). Mounting needs
``/dev/fuse`` and root (or libfuse's ``fusermount3`` helper).
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Sequence, TypeVar

from .machine import Machine

F = TypeVar("F", bound=Callable[..., Any])


def _fuse_errors(fn: F) -> F:
    """Turn emulator errors into the errno FUSE returns; anything unexpected becomes EIO
    instead of taking the mount down (mfusepy aborts on BaseException, e.g. a Rust panic)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mfusepy import FuseOSError

        try:
            return fn(*args, **kwargs)
        except FuseOSError:
            raise
        except OSError as e:
            raise FuseOSError(e.errno if isinstance(e.errno, int) and e.errno > 0 else errno.EIO) from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - a filesystem must answer, never die
            raise FuseOSError(errno.EIO) from None

    return wrapper  # type: ignore[return-value]


def operations(machine: Machine, root: str = "/sys") -> Any:
    """An ``mfusepy.Operations`` serving ``machine``'s tree below ``root``."""
    import mfusepy

    class SysfsOperations(mfusepy.Operations):  # type: ignore[misc]
        use_ns = True

        def __init__(self) -> None:
            self.m = machine
            self.root = root.rstrip("/")
            self.t_ns = time.time_ns()

        def _full(self, path: str) -> str:
            return self.root + path if path != "/" else (self.root or "/")

        def _mode(self, path: str) -> int:
            mode = self.m._m.st_mode(self._full(path))
            if mode is None:
                raise mfusepy.FuseOSError(errno.ENOENT)
            return int(mode)

        @_fuse_errors
        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            mode = self._mode(path)
            size = 0
            if stat.S_ISREG(mode):
                size = 4096
            elif stat.S_ISLNK(mode):
                size = len(self.m.readlink(self._full(path)))
            t = self.t_ns
            return {"st_mode": mode, "st_nlink": 2 if stat.S_ISDIR(mode) else 1, "st_size": size,
                    "st_uid": 0, "st_gid": 0, "st_atime": t, "st_mtime": t, "st_ctime": t}

        @_fuse_errors
        def readdir(self, path: str, fh: int) -> list[str]:
            return [".", "..", *self.m.listdir(self._full(path))]

        @_fuse_errors
        def readlink(self, path: str) -> str:
            return self.m.readlink(self._full(path))

        @_fuse_errors
        def open(self, path: str, flags: int) -> int:
            mode = self._mode(path)
            if stat.S_ISDIR(mode):
                raise mfusepy.FuseOSError(errno.EISDIR)
            acc = flags & os.O_ACCMODE
            if acc in (os.O_RDONLY, os.O_RDWR) and not mode & 0o444:
                raise mfusepy.FuseOSError(errno.EACCES)
            if acc in (os.O_WRONLY, os.O_RDWR) and not mode & 0o200:
                raise mfusepy.FuseOSError(errno.EACCES)
            return 0

        @_fuse_errors
        def create(self, path: str, mode: int, fi: Any = None) -> int:
            # kernfs: no new files; an existing attribute reaches open() instead
            raise mfusepy.FuseOSError(errno.EACCES)

        @_fuse_errors
        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            data = self.m.read(self._full(path)).encode()
            return data[offset : offset + size]

        @_fuse_errors
        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            return self.m.write(self._full(path), bytes(data))

        @_fuse_errors
        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            self._mode(path)  # `>` truncates; sysfs ignores it
            return 0

        @_fuse_errors
        def statfs(self, path: str) -> dict[str, Any]:
            return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

        def _eperm(self, *args: Any, **kwargs: Any) -> int:
            raise mfusepy.FuseOSError(errno.EPERM)

        mkdir = rmdir = unlink = rename = symlink = link = chmod = chown = _eperm

    return SysfsOperations()


def serve(machine: Machine, mountpoint: str | Path, root: str = "/sys", debug: bool = False,
          save_to: str | Path | None = None) -> int:
    """Mount and serve in the foreground until unmounted (``umount DIR``) or interrupted; then
    write ``machine.save()`` to ``save_to`` (if given), so the final state can be inspected."""
    import mfusepy

    mfusepy.FUSE(operations(machine, root), str(mountpoint), foreground=True, nothreads=True,
                 debug=debug, direct_io=True, attr_timeout=0, entry_timeout=0,
                 negative_timeout=0, fsname="numa_hpe", subtype="numa_hpe")
    if save_to is not None:
        tmp = Path(f"{save_to}.tmp")
        tmp.write_bytes(machine.save())
        tmp.replace(save_to)  # whole or absent, never half written
    return 0


def wait_mounted(mountpoint: str | Path, proc: subprocess.Popen[bytes] | None = None,
                 timeout: float = 20.0, errlog: IO[bytes] | None = None) -> None:
    """Poll (bounded) until ``mountpoint`` is a mount point; RuntimeError with the server's
    stderr (``errlog``) when ``proc`` exits first, TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not os.path.ismount(mountpoint):
        if proc is not None and proc.poll() is not None:
            err = ""
            if errlog is not None:
                errlog.seek(0)
                err = errlog.read().decode(errors="replace")
            raise RuntimeError(f"mount server exited with {proc.returncode}: {err.strip()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{mountpoint} not mounted after {timeout} s")
        time.sleep(delay)  # a bounded poll, not synchronisation by sleeping
        delay = min(delay * 2, 0.1)


def spawn(machine: Machine, mountpoint: str | Path, root: str = "/sys",
          timeout: float = 20.0, save_to: str | Path | None = None) -> subprocess.Popen[bytes]:
    """Serve ``machine`` (a saved copy) from a child process; returns once mounted. With
    ``save_to``, the child writes its machine there once unmounted (``Machine.load`` reads it)."""
    save = ["--save-on-exit", str(save_to)] if save_to is not None else []
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-m", "numa_hpe.mount", str(mountpoint), "--root", root, *save],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errlog, start_new_session=True)
        assert proc.stdin is not None
        with proc.stdin:
            proc.stdin.write(machine.save())
        try:
            wait_mounted(mountpoint, proc, timeout, errlog)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise
    return proc


def unmount(mountpoint: str | Path) -> None:
    """``fusermount3 -u`` / ``fusermount -u`` / ``umount``, whichever exists and works."""
    errors = []
    for cmd in (["fusermount3", "-u"], ["fusermount", "-u"], ["umount"]):
        if shutil.which(cmd[0]) is None:
            continue
        r = subprocess.run([*cmd, str(mountpoint)], capture_output=True, text=True)
        if r.returncode == 0:
            return
        errors.append(f"{cmd[0]}: {r.stderr.strip()}")
    raise OSError(errno.EBUSY, f"cannot unmount {mountpoint}: {'; '.join(errors) or 'no unmount tool'}")


def stop(mountpoint: str | Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Unmount (if still mounted) and reap the server; kill it if it does not exit."""
    try:
        if os.path.ismount(mountpoint):
            unmount(mountpoint)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


#: The emulated directories :func:`run_bind_sys` puts over the real ``/sys/devices/system/*``.
BIND_SYS_DIRS = ("cpu", "memory", "node")

# Runs in the new namespace: `mount --bind SRC DST` for each pair before `--`, then exec the rest.
_BIND_AND_EXEC = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"'


def bind_sys_argv(sys_dir: str | Path, cmd: Sequence[str]) -> list[str]:
    """The argv running ``cmd`` in a private mount namespace (``unshare -m --propagation
    private``) where ``/sys/devices/system/{cpu,memory,node}`` are ``sys_dir``'s (a mount point of
    ``numa-hpe mount`` or an export's ``DIR/sys``). Where the host lacks one of them (a kernel
    without memory hotplug), the whole ``/sys/devices/system`` is covered instead. Needs root."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise FileNotFoundError(errno.ENOENT, "unshare (util-linux) is not installed", "unshare")
    if not cmd:
        raise ValueError("no command to run")
    src = Path(sys_dir).absolute() / "devices/system"
    real = Path("/sys/devices/system")
    pairs = [(src / d, real / d) for d in BIND_SYS_DIRS]
    if not all(dst.is_dir() for _, dst in pairs):
        pairs = [(src, real)]
    binds = [str(p) for pair in pairs for p in pair]
    return [unshare, "-m", "--propagation", "private", "sh", "-c", _BIND_AND_EXEC, "sh", *binds, "--", *cmd]


def run_bind_sys(sys_dir: str | Path, cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """Run ``cmd`` as :func:`bind_sys_argv` says (``kwargs`` go to ``subprocess.run``). Exit
    status 125 with ``mount``'s message when a bind fails."""
    return subprocess.run(bind_sys_argv(sys_dir, cmd), **kwargs)


def mount(machine: Machine, mountpoint: str | Path, foreground: bool = True, root: str = "/sys",
          bind_sys_cmd: Sequence[str] | None = None) -> int:
    """``numa-hpe mount``: serve in the foreground, or from a child process (``foreground=False``).
    With ``bind_sys_cmd``: mount, run it under :func:`run_bind_sys`, unmount, and return its
    exit status."""
    if bind_sys_cmd:
        proc = spawn(machine, mountpoint, root)
        try:
            return run_bind_sys(mountpoint, bind_sys_cmd).returncode
        finally:
            stop(mountpoint, proc)
    if foreground:
        return serve(machine, mountpoint, root)
    proc = spawn(machine, mountpoint, root)
    print(f"mounted on {mountpoint} (server pid {proc.pid}); unmount with `umount {mountpoint}`")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Child-process entry: read a saved machine from stdin and serve it."""
    ap = argparse.ArgumentParser(prog="python -m numa_hpe.mount")
    ap.add_argument("mountpoint")
    ap.add_argument("--root", default="/sys")
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--save-on-exit", metavar="FILE", help="write the machine (Machine.save) here once unmounted")
    a = ap.parse_args(argv)
    m = Machine.load(sys.stdin.buffer.read())
    sys.stdin.close()
    return serve(m, a.mountpoint, a.root, a.debug, a.save_on_exit)


if __name__ == "__main__":
    sys.exit(main())
