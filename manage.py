#!/usr/bin/env python
"""Querylab's command-line entry point: `uv run manage.py serve`, `db`, `content`, …"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.infra.startup import run_command_line

    run_command_line(sys.argv)


if __name__ == "__main__":
    main()
