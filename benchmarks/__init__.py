"""Reproducible performance runs of fnhost against its peers (Celery+Redis, RQ)."""
