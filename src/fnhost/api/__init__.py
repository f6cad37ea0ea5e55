"""The HTTP API: thin routes over the services, CDF error shapes, gzip request bodies."""
