"""Use cases. Each owns its transaction, raises domain errors, and knows nothing of HTTP."""
