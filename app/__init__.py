"""The application layer: what a person runs. The pipeline (``leanspike.app.pipeline``), the
command line (``leanspike.app.cli``), plots and text tables.

It may use the core and every adapter; nothing below imports it (the layer contract in
pyproject.toml, checked by the test suite). Library code a user calls from Python lives in
the core (``leanspike``) or an adapter (``leanspike.adapters.*``).
"""
