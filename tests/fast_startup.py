"""Loaded first by ``pytest`` (``-p fast_startup`` in pyproject.toml), before nbval.

jsonschema, which nbval's nbformat imports, tries ``import rfc3987_syntax`` for its
optional ``iri`` format checker. That package builds some 35 Earley parsers when imported:
about 2 s of CPU in every pytest process (the controller and each xdist worker), before
the first test can start. The notebook schemas use no ``format`` at all, and jsonschema
skips that checker when the import fails (it catches ImportError). So the import is made
to fail in the test processes only; nothing else changes.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
