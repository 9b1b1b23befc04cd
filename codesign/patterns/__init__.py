"""Board test vectors: the link map of the chain's ports and input/output pattern files (EMP, APx, hex)."""
