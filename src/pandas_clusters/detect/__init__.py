"""Detection: per-field source lists (``sources``) and their image stamps (``stamps``)."""
