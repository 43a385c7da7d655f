"""Who holds a lease: the owner identity an opened queue stamps on its leases, and whether an
owner is *known* dead, so that its leases can be released at once instead of expiring.

An owner names its process as the operating system sees it: host name (for people), process
id, the process's start time (``/proc/<pid>/stat`` field 22, in clock ticks since boot) and
the *machine*: the kernel's boot id and the process-id namespace, the scope within which two
process ids can be compared (a container has its own pid namespace; a reboot starts the ids
over). A random part tells apart two queues opened by one process.

:func:`known_dead` answers True only when it is sure: the owner ran in this machine's pid
namespace, and its process is gone, a zombie, or its pid now belongs to a process that started
at another time (a recycled pid). Anything it cannot tell — another machine, another container,
a platform without ``/proc``, a process it may not inspect — counts as alive, and such leases
expire as before. Owners on other machines are the queue backend's business (the Redis
backend keeps a liveness record per owner).
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
from dataclasses import dataclass

#: The start of every owner's text, as the Redis backend's worker consumers are named.
PREFIX = "w"


@dataclass(frozen=True, slots=True)
class Owner:
    """One opened queue of one process; ``str(owner)`` is what a lease is stamped with."""

    host: str
    pid: int
    #: The process's start time in clock ticks since boot; 0 when it could not be read.
    started: int
    #: Boot id and pid namespace (see the module docstring); ``""`` when unknown.
    machine: str
    nonce: str

    def __str__(self) -> str:
        return f"{PREFIX}:{self.host}:{self.pid}:{self.started}:{self.machine}:{self.nonce}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner written as ``text`` by :meth:`__str__`, or None if it is not one."""
        head, _, rest = text.partition(":")
        parts = rest.rsplit(":", 4)
        if head != PREFIX or len(parts) != 5:
            return None
        host, pid, started, machine, nonce = parts
        if not (pid.isdigit() and started.isdigit()):
            return None
        return cls(host, int(pid), int(started), machine, nonce)

    @classmethod
    def of_process(cls, pid: int | None = None) -> Owner:
        """A new owner for process ``pid`` (this one by default) with a fresh random part."""
        pid = os.getpid() if pid is None else pid
        return cls(
            socket.gethostname().replace(":", "_"),
            pid,
            _start_time(pid) or 0,
            this_machine(),
            secrets.token_hex(3),
        )


@functools.cache
def this_machine() -> str:
    """The boot id and pid namespace of this process, or ``""`` where ``/proc`` has neither."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot_id}.{namespace}" if boot_id else ""


def _stat(pid: int) -> tuple[str, int] | None:
    """State letter and start time of ``pid`` from ``/proc/<pid>/stat``; None if none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0].decode(), int(fields[19])


def _start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[1]


def known_dead(owner: Owner | str | None) -> bool:
    """Whether ``owner``'s process is surely gone; see the module docstring. False for an
    owner on another machine (or in another container), or one that cannot be parsed."""
    if isinstance(owner, str):
        owner = Owner.parse(owner)
    if owner is None or owner.pid <= 0 or not owner.machine or owner.machine != this_machine():
        return False
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # another user's process: it exists; its stat may still be readable
    except OSError:
        return False
    stat = _stat(owner.pid)
    if stat is None:
        return False  # exists but hidden (hidepid): cannot tell, so alive
    state, started = stat
    if state in ("Z", "X"):
        return True  # killed, not yet reaped by its parent
    return bool(owner.started) and started != owner.started
