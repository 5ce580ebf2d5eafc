"""theory: closed-loop learning and model collapse in exponential families.

Declare a family once (``theory.families``); everything else — cumulants, the
closed-loop recursion, absorbing states, anchored fixed points and stationary
laws — is derived from that declaration with SymPy.

The flat namespace is the notebook API (see docs/python.md)::

    import theory
    bern = theory.get_family("bernoulli")
    d = theory.result("R3.drift.mle", bern)
    theory.evaluate(d["drift"], theta=0.3, M=100, M0=0, theta_star=0)   # a float
    run = theory.simulate("bernoulli", M=100, init={"p": 0.3}, generations=50)
    run.trace_arrays()["t"]                            # 0, 1, ..., 50

Importing ``theory`` loads nothing else and changes nothing in the process: each name below
is imported from its module on first use (PEP 562), and SymPy is left exactly as it was.
"""

import importlib

from .version import __version__  # noqa: F401  (in __all__)

# public name -> the module that defines it
_EXPORTS = {
    "FAMILIES": "families", "get_family": "families",
    "ExponentialFamily": "family",
    "Setting": "setting", "NormalPrior": "setting", "LawPrior": "setting", "parse_prior": "setting",
    "MLE": "setting", "MAP": "setting", "L2": "setting",
    "Derivation": "derivation", "Step": "derivation",
    "InputError": "errors",
    "ClosedLoop": "engine.loop", "Run": "engine.loop", "ChainStats": "engine.loop",
    "ExactChain": "engine.markov", "SumChain": "engine.markov", "GridLaw": "laws",
    "from_params": "params", "NormalGamma": "laws", "StartLaw": "laws",
    "RESULT_IDS": "api", "derivations": "api", "evaluate": "api", "exact_chain": "api", "make_setting": "api", "result": "api",
    "simulate": "api", "stationary_law": "api", "subs": "api", "symbol": "api",
}

__all__ = sorted([*_EXPORTS, "__version__", "symbols"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # once: later lookups do not come here
        return value
    if name == "symbols":
        return importlib.import_module(".symbols", __name__)
    raise AttributeError(f"module 'theory' has no attribute {name!r}")


def __dir__():
    return __all__
