"""The compiled part of runhost: the C++ core (``_core``) and, beside it, the bundled plugins in
``../lib/runhost/plugins``."""
