"""The results R1–R9 of the closed loop, each a pure function ``family or setting -> Derivation``
(kept once per process and on disk: :func:`theory.results.common.result`); the store
(:mod:`theory.store`) lists them by id."""
