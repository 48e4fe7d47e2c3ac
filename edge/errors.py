"""Errors that reach the user as one clear line."""


class CribsideError(Exception):
    """A problem with the user's input, files or set-up, reported as one line.

    The CLI prints ``cribside <command>: error: <message>`` and exits with code 2.
    The message names the thing at fault (file, field, model, device).
    """
