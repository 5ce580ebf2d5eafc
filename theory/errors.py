"""The one error type that user input can raise: shown as a single line, never a traceback."""


class InputError(ValueError):
    """Bad user input (unknown family or parameter, value outside its domain, ...)."""
