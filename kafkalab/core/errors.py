"""Errors a user can act on. The CLI prints their message as one line and exits non-zero."""


class KafkalabError(Exception):
    """A failure explained in one line: what is wrong and, where it helps, what to do."""


class SpecError(KafkalabError):
    """The experiment spec (or a --set value) is invalid; the message names the field."""

    def __init__(self, message: str = "", *args: object):
        # One line, even when the spec's keys or values hold line breaks.
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"), *args)


class EnvironmentProblem(KafkalabError):
    """Something the machine lacks: Java, Maven, a Kafka jar, a reachable database."""


class ClusterError(KafkalabError):
    """A Kafka cluster did not start, become ready, or answer in time."""


class ToolFailed(KafkalabError):
    """A perf tool exited non-zero or printed no result."""
