"""Any other program: screen only, as orch always did. Claude Code's texts are recognised (the
toy agent and many wrappers print them); nothing is injected into the command."""

from __future__ import annotations

from reconciler.drivers import Driver, claude

DRIVER: Driver = Driver("generic", (), claude.LIMIT_PATTERNS, claude.JOINS_NEXT)
