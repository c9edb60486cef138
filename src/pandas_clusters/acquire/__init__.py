"""Acquisition of the real survey: PAndAS images over HTTP(S), catalogues from VizieR or files.

With ``survey: pandas`` the workflow's first stage calls :func:`download_image`
per field and band and :func:`fetch_catalogue` per catalogue; both write their
output atomically, so a failed or interrupted run never leaves a partial file
at an output path. Every part needs network access except local-file
catalogues.

Modules: :mod:`~pandas_clusters.acquire.download` (images),
:mod:`~pandas_clusters.acquire.catalogues` (:func:`fetch_catalogue`, through
:mod:`~pandas_clusters.acquire.vizier` or :mod:`~pandas_clusters.acquire.local`) and
:mod:`~pandas_clusters.acquire.mock` (the simulated survey). Nothing is imported here, so
that each workflow environment imports only what its rules need.
"""
