"""The `fnhost` command line."""
