"""Built-in checks, one module per input kind; each module exports ``CHECKS``."""
