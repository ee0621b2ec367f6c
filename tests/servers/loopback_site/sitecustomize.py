"""Loaded by subprocesses of the API tests (on PYTHONPATH): loopback only, or exit 97."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))

from tests.servers import loopback  # noqa: E402


def _violation(what: str) -> None:
    sys.stderr.write(f"LOOPBACK GUARD: {what}\n")
    sys.stderr.flush()
    os._exit(97)


loopback.install(_violation)
