"""theory: closed-loop learning and model collapse in exponential families.

Declare a family once (``theory.families``); everything else — cumulants, the
closed-loop recursion, absorbing states, anchored fixed points and stationary
laws — is derived from that declaration with SymPy.
"""

from .errors import InputError
from .families import FAMILIES, get_family
from .family import ExponentialFamily

__version__ = "0.1.0"
__all__ = ["FAMILIES", "ExponentialFamily", "InputError", "get_family", "__version__"]
