"""Errors a user can act on. The CLI prints their message (no traceback) and exits 1."""


class UserError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = 1


class LockTimeout(UserError):
    """Another orch process held a project's lock for longer than we were told to wait."""
