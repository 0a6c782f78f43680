"""Errors a user can act on. The CLI prints their message as one line and exits non-zero."""


class KafkalabError(Exception):
    """A failure explained in one line: what is wrong and, where it helps, what to do."""


class SpecError(KafkalabError):
    """The experiment spec (or a --set value) is invalid; the message names the field."""


class EnvironmentProblem(KafkalabError):
    """Something the machine lacks: Java, Maven, a Kafka jar, a reachable database."""


class ClusterError(KafkalabError):
    """A Kafka cluster did not start, become ready, or answer in time."""


class ToolFailed(KafkalabError):
    """A perf tool exited non-zero or printed no result."""
