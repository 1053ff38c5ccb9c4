"""A stand-in Smart Assessor server for the demo and the tests.

It plays a foreign system, so nothing here imports the product (no Django, no ``learners``, no
other ``smartassessor`` module): the standard library only, with its own storage and its own
reading of the contract in ``smart-assessor-api.md``. See ``README.md`` beside this file.
"""
