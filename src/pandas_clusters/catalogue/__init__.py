"""The catalogue: per-field inference, survey selection, cross-match and the CDS table."""
