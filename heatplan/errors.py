"""heatplan's exceptions and the exit codes scripts can tell apart.

Every failure a user can cause is raised as a :class:`HeatplanError`
subclass.  The command layer prints ``str(error)`` (never a traceback) and
exits with the class's ``exit_code``.
"""


class ExitCode:
    """Process exit codes, stable for scripts (documented in doc/source)."""

    OK = 0
    #: ``diff`` found differences (like diff(1)); also cliff's generic failure.
    DIFFERENT = 1
    #: Command-line usage error (argparse).
    USAGE = 2
    #: The plan (source, manifest, templates) is invalid; nothing was sent.
    PLAN_INVALID = 3
    #: A safety guard refused the operation (destruction, concurrency, ...).
    REFUSED = 4
    #: Heat rejected the request (validation, limits, conflict, ...).
    HEAT_REJECTED = 5
    #: The deployment ran but failed.
    DEPLOY_FAILED = 6
    #: Waiting for the deployment timed out.
    TIMED_OUT = 7
    #: Heat could not be reached, or authentication failed.
    CONNECTION = 8
    #: The embedded local Heat could not be started or managed.
    LOCAL_HEAT = 9
    #: An output file or directory could not be written.
    OUTPUT = 10
    #: No such stack (nor heatplan history for it), revision or output.
    NOT_FOUND = 11


class HeatplanError(Exception):
    """Base class: a failure with a message for the user and an exit code."""

    exit_code = ExitCode.PLAN_INVALID

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        if self.hint:
            return '%s\n  hint: %s' % (self.message, self.hint)
        return self.message


class UsageError(HeatplanError):
    """Options that do not fit together."""

    exit_code = ExitCode.USAGE


class PlanError(HeatplanError):
    """The plan cannot be read or assembled."""

    exit_code = ExitCode.PLAN_INVALID


class SourceError(PlanError):
    """A plan source (directory or archive) is unreadable or unsafe."""


class ConfinementError(SourceError):
    """A path, reference, symlink or member would leave the plan root."""


class LimitExceeded(SourceError):
    """A configured cap (file count, size, expansion ratio) was exceeded."""


class LintFailed(PlanError):
    """Lint found errors; ``diagnostics`` holds them all."""

    def __init__(self, diagnostics):
        errors = [d for d in diagnostics if d.severity == 'error']
        lines = [d.format() for d in errors[:20]]
        if len(errors) > 20:
            lines.append('... and %d more' % (len(errors) - 20))
        super().__init__(
            'the plan has %d error(s):\n%s' % (len(errors), '\n'.join(lines)),
            hint='run "heatplan validate" for every diagnostic')
        self.diagnostics = diagnostics


class NotFound(HeatplanError):
    """The stack, revision or output named does not exist."""

    exit_code = ExitCode.NOT_FOUND


class OutputError(HeatplanError):
    """An output path cannot be written (exists, not writable, ...)."""

    exit_code = ExitCode.OUTPUT


class RefusedError(HeatplanError):
    """A guard refused the operation."""

    exit_code = ExitCode.REFUSED


class HeatRejected(HeatplanError):
    """Heat answered the request with an error."""

    exit_code = ExitCode.HEAT_REJECTED


class StackDamaged(HeatRejected):
    """Heat fails on a stack's own stored data (e.g. its update preview answers 404)."""


class DeployFailed(HeatplanError):
    exit_code = ExitCode.DEPLOY_FAILED


class DeployTimedOut(HeatplanError):
    exit_code = ExitCode.TIMED_OUT


class ConnectionFailed(HeatplanError):
    """Heat could not be reached or authentication failed."""

    exit_code = ExitCode.CONNECTION


class LocalHeatError(HeatplanError):
    """The embedded local Heat could not be started, stopped or found."""

    exit_code = ExitCode.LOCAL_HEAT


class Aborted(RefusedError):
    """The user answered no at a prompt (or interrupted it): nothing changed.

    Printed as its message alone, not as an error.
    """


class Interrupted(HeatplanError):
    """Ctrl-C: the message says what was in flight and what to run next."""

    exit_code = 130
