"""The one error type that user input can raise: shown as a single line, never a traceback."""


class InputError(ValueError):
    """Bad user input (unknown family or parameter, value outside its domain, ...)."""


class SettingError(InputError):
    """A valid-looking setting the numerics cannot carry out (e.g. a refit that does not
    converge): reported like bad input, one line naming the setting."""


def integer(value, what: str, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (3, 3.0 or numpy's 3; not 2.5, True, None, text, nan or
    1e400), or InputError naming ``what``: counts and sizes checked before any work."""
    try:
        ok = (not isinstance(value, bool | str) and int(value) == value and value >= low
              and (high is None or value <= high))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise InputError(f"{what} must be an integer {bound}, got {value!r}")
    return int(value)
