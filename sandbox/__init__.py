"""A stand-in Smart Assessor server for the demo and the tests: a separate program.

It plays a foreign system, so nothing here imports the product (no Django, no ``learners``, no
``smartassessor``, no ``picsweb``) nor needs its settings: the server runs on the standard
library alone, with its own storage and its own reading of the contract in
``smart-assessor-api.md``; only ``control.py``, the client of its control endpoints for tests
and benchmarks, uses ``requests``. Start it with ``python -m sandbox``; see ``README.md``.
"""
