"""Lower the CPU priority of a sandbox server's backends on this machine.

Learner SQL may burn CPU until its timeout; the site's pages must not wait for it. Niceness
alone does not do that: PostgreSQL makes every backend the leader of a session of its own
(``setsid``), and with the kernel's autogroup scheduling (on by default on many kernels) CPU is
shared fairly between sessions *before* niceness counts within one. Five learner backends
burning CPU then got five shares against the web server's one, whatever their nice value
(measured with bench/load.py: the sandbox server took 118 % of the 200 % of two cores while
page views waited up to a second). So each backend the app connects to on the embedded
sandbox server gets its process and its session niced (``SANDBOX_SERVER_NICE``) as it is made.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def lower(pid: int, niceness: int) -> None:
    """Nice one local PostgreSQL backend and its session to ``niceness``. Never raises: a
    backend that cannot be niced (another user's, no /proc) runs as it is."""
    if niceness <= 0:
        return
    try:
        if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"postgres"):
            return  # not a PostgreSQL backend of this machine
    except OSError:
        return
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, pid) < niceness:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))
