"""theory: closed-loop learning and model collapse in exponential families.

Declare a family once (``theory.families``); everything else — cumulants, the
closed-loop recursion, absorbing states, anchored fixed points and stationary
laws — is derived from that declaration with SymPy.

The flat namespace is the notebook API (see the README, "Python")::

    import theory
    bern = theory.get_family("bernoulli")
    d = theory.result("R3.drift.mle", bern)           # or bern.result("R3.drift.mle")
    theory.evaluate(d["drift"], theta=0.3, M=100)
    run = theory.simulate("bernoulli", M=100, init={"p": 0.3}, generations=50)
    run.trace_arrays()["t"]                            # 0, 1, ..., 50
"""

from . import symbols
from .api import RESULT_IDS, derivations, evaluate, family, result, setting, simulate, stationary_law, subs, symbol
from .derivation import Derivation, Step
from .engine.loop import ClosedLoop, Run, from_params
from .errors import InputError
from .families import FAMILIES, get_family
from .family import ExponentialFamily
from .setting import LawPrior, NormalPrior, Setting, parse_prior

__version__ = "0.1.0"
__all__ = ["FAMILIES", "RESULT_IDS", "ClosedLoop", "Derivation", "ExponentialFamily", "InputError",
           "LawPrior", "NormalPrior", "Run", "Setting", "Step", "__version__", "derivations", "evaluate",
           "family", "from_params", "get_family", "parse_prior", "result", "setting", "simulate",
           "stationary_law", "subs", "symbol", "symbols"]
