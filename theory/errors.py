"""The one error type that user input can raise: shown as a single line, never a traceback."""


class InputError(ValueError):
    """Bad user input (unknown family or parameter, value outside its domain, ...)."""


class SettingError(InputError):
    """A valid-looking setting the numerics cannot carry out (e.g. a refit that does not
    converge): reported like bad input, one line naming the setting."""
