"""The scenarios behind the vectors in ``vectors/``, one module per area.

Each module defines functions named ``vector_...`` that take a :class:`Recorder`-making
function and record one vector each; :mod:`tests.conformance.record` plays them all and
writes the files.
"""
