"""Errors a user can act on. The CLI prints their message (no traceback) and exits 1."""


class UserError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = 1


class LockTimeout(UserError):
    """Another orch process held a project's lock for longer than we were told to wait."""


class ProjectGone(UserError):
    """The project is no longer registered (destroyed meanwhile): a watcher lets it go, never
    registers it again."""
