"""Audit-store schema revisions, in order: ``NNNN_<slug>.py``, each naming the previous in ``down_revision``."""
