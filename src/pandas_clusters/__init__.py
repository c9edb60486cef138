"""pandas-clusters: star-cluster candidates in M31 from PAndAS images with CNNs.

The library is usable on its own (and through the ``pandas-clusters`` CLI);
the Snakemake workflow in ``workflow/`` calls it stage by stage.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
