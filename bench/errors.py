"""The one exception type for mistakes a user can fix: the CLI prints it as one line and exits 2."""


class BenchError(Exception):
    """A user error (bad name, value, file or folder); its message is the whole story."""
