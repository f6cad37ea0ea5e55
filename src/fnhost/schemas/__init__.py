"""CDF wire models: camelCase on the wire, snake_case in Python."""
