"""A real ext4 filesystem on a loop device, for storage-fault tests and the soak bench.

    with LoopFS(tmp_path / "disk.img", size_mb=32) as fs:
        ... work under fs.mount ...
        fs.fault()    # an ext4 error: the kernel remounts it read-only (errors=remount-ro)
        fs.repair()   # unmount (unsynced writes are lost, as after a crash), e2fsck, mount

Needs root and a free loop device (CI runs as root); ``loop_unavailable()`` says why not.
Every device and mount this makes is undone by ``close()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

TOOLS = ("losetup", "mkfs.ext4", "e2fsck", "mount", "umount")


def loop_unavailable() -> str | None:
    """Why a loop filesystem cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root to create loop devices"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (run scripts/install-system-deps)"
    if not Path("/dev/loop-control").exists() and not Path("/dev/loop0").exists():
        return "no loop devices in this environment"
    return None


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


class LoopFS:
    """An ext4 image of ``size_mb`` MiB mounted at ``image.parent / 'mnt'``."""

    def __init__(self, image: Path, size_mb: int = 32, *, mount: Path | None = None):
        self.image = Path(image)
        self.size_mb = size_mb
        self.mount = mount or self.image.with_name(self.image.stem + "-mnt")
        self.device: str | None = None
        self.mounted = False

    def __enter__(self) -> LoopFS:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> LoopFS:
        self.image.parent.mkdir(parents=True, exist_ok=True)
        with self.image.open("wb") as handle:
            handle.truncate(self.size_mb * 1024 * 1024)
        _run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
             str(self.image))
        try:
            self.device = _run("losetup", "--find", "--show", str(self.image))
            self.mount.mkdir(parents=True, exist_ok=True)
            self._mount()
        except BaseException:
            self.close()
            raise
        return self

    def _mount(self) -> None:
        _run("mount", "-t", "ext4", "-o", "errors=remount-ro", str(self.device), str(self.mount))
        self.mounted = True
        os.chmod(self.mount, 0o755)

    @property
    def _sysfs(self) -> Path:
        assert self.device is not None
        return Path("/sys/fs/ext4") / Path(self.device).name

    def can_fault(self) -> bool:
        return (self._sysfs / "trigger_fs_error").exists()

    def fault(self) -> None:
        """Raise an ext4 error now: the journal aborts and the kernel makes the fs read-only,
        exactly as a failing disk would; writes not yet on disk are lost."""
        (self._sysfs / "trigger_fs_error").write_text("1\n")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            # newer kernels flag this "emergency_ro" without ST_RDONLY: try a write instead
            try:
                (self.mount / ".fault-check").mkdir()
            except OSError:
                return
            (self.mount / ".fault-check").rmdir()
            time.sleep(0.01)
        raise RuntimeError(f"{self.mount} did not become read-only")

    def remount(self, *, read_only: bool) -> None:
        """A clean remount (everything written first), read-only or back to read-write."""
        _run("mount", "-o", "remount," + ("ro" if read_only else "rw"), str(self.mount))

    def fill(self) -> None:
        """Fill the filesystem to the last block (root's reserve included)."""
        fd = os.open(self.mount / ".fill", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    continue
        finally:
            os.close(fd)

    def repair(self) -> None:
        """Unmount, check and repair with e2fsck, mount again (read-write)."""
        self._umount()
        done = subprocess.run(["e2fsck", "-f", "-y", str(self.device)], capture_output=True,
                              text=True, timeout=120)
        if done.returncode >= 4:  # 1 and 2 mean "errors corrected"
            raise RuntimeError(f"e2fsck failed ({done.returncode}): {done.stdout[-500:]}")
        self._mount()

    def _umount(self) -> None:
        if not self.mounted:
            return
        for _ in range(50):
            done = subprocess.run(["umount", str(self.mount)], capture_output=True, text=True)
            if done.returncode == 0:
                self.mounted = False
                return
            time.sleep(0.1)  # a process we started may still be closing its files
        subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)
        self.mounted = False

    def close(self) -> None:
        self._umount()
        if self.device is not None:
            subprocess.run(["losetup", "-d", self.device], capture_output=True)
            self.device = None
        self.image.unlink(missing_ok=True)
