"""The client commands (functions, call, calls, schedules): they speak a server's HTTP API like
any other client, so they work against any fnhost, local or remote, and import nothing of the
server (an import-linter contract keeps it so)."""
