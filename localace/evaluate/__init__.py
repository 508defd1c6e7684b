"""BFCL-compatible evaluation: AST checker and readers for BFCL question/answer files."""
