"""The user-facing error type: the CLI prints it as one line and exits with code 2."""


class KwspotError(Exception):
    """A problem with the user's input (a path, a file, a flag), worded for the user.

    The message names the file or value and what is wrong with it; the CLI prints
    ``kwspot: error: <message>`` with no traceback.
    """
