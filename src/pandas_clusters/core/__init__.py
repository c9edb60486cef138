"""Shared helpers every stage uses: config, file I/O, M31 geometry, the PHAT footprint, logs.

No module here imports a stage package (``acquire``, ``detect``, ``learn``, ``catalogue``,
``report``).
"""
