"""The user-facing error type: the CLI prints it as one line and exits with code 2."""


class KwspotError(Exception):
    """A problem with the user's input (a path, a file, a flag), worded for the user.

    The message names the file or value and what is wrong with it; the CLI prints
    ``kwspot: error: <message>`` with no traceback.
    """


class SettingError(KwspotError):
    """A bad value of one setting, named as the library names it (``threads``, ``words``).

    The command line words it with the flag that sets it (``--threads``) instead."""

    def __init__(self, setting: str, problem: str, *, mentions: tuple[str, ...] = ()) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
        self.mentions = mentions  # other settings named in ``problem``
