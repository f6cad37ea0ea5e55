"""What the client commands report instead of a traceback."""


class CliError(Exception):
    """A problem the user can act on; its message says what and how. Printed on stderr, and the
    command exits 1."""
