"""Wire formats: one module per format, pure translation (no I/O)."""
