"""What the lab worker does to a child before it runs anyone's code: close every inherited
descriptor it does not need, drop to a uid of its own, and set CPU, memory, file, process and
descriptor limits (wall 2 of sandbox/lab/README.md)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource


def close_other_descriptors(keep: set[int]) -> None:
    """Every inherited descriptor but ``keep`` and stdio: the listening socket, other runs'
    clients, keepers' control sockets and connections."""
    keep = keep | {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def limit_process(limits: dict, uid: int | None, nproc: int = 1) -> None:
    """The child's OS limits; with ``uid``, drop to it (and no groups) first."""
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() == 0 or os.geteuid() == 0:
            raise RuntimeError("could not drop privileges")
    _no_dumps()
    cpu = int(limits.get("cpu_seconds", 2))
    memory = int(limits.get("memory_mb", 512)) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits.get("open_files", 16)),) * 2)
    if uid is not None:
        # Per real uid, and this uid is the child's alone: it cannot fork at all (a keeper:
        # one run at a time, which cannot fork).
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    else:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _no_dumps() -> None:
    """Not traceable, not readable through /proc by others of the same uid."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS


def _address_space() -> int:
    """The child's address space now (inherited from the warm worker), in bytes."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")
