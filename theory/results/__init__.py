"""The results R1–R8 of SPEC section 2."""
