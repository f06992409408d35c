"""The answers the lab worker gives for a run that did not answer itself: a failure of the
lab, a run stopped at its wall clock, a child killed by a limit or a crash. Each names the
bound it hit."""

from __future__ import annotations

import os
import signal


def failure(kind: str, message: str, bound: str | None = None, busy: bool = False) -> dict:
    return {
        "ok": False,
        "output": "",
        "result": None,
        "queries": [],
        "repeated": [],
        "error": {"type": kind, "message": message, "line": None},
        "bound": bound,
        "busy": busy,
    }


def timeout_answer(limits: dict) -> dict:
    wall = float(limits.get("wall_seconds", 5))
    return failure(
        "LimitExceeded",
        f"Run time limit: a lab run may take at most {wall:g} s, so it was stopped.",
        "wall_clock",
    )


def death_answer(status: int, limits: dict) -> dict:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            cpu = limits.get("cpu_seconds", 2)
            return failure(
                "LimitExceeded",
                f"CPU time limit: a lab run may use at most {cpu} s of CPU, so it was stopped.",
                "cpu",
            )
        if sig == signal.SIGXFSZ:
            return failure(
                "LimitExceeded", "File size limit: a lab run may not write files.", "file_size"
            )
        return failure("Crashed", f"The run ended abnormally (signal {sig}).", "crash")
    code = os.WEXITSTATUS(status)
    return failure("Crashed", f"The run ended abnormally (exit status {code}).", "crash")
