"""Every internal period, grace time and margin, named in one place.

These are not settings: they pace fnhost's own loops and guard its own processes, and none of
them limits what a user may do (the limits are settings, in settings.py).
"""

# Dispatcher: how soon calls queued by another process are found (this process's own wake it at
# once), how often a dispatcher proves it lives, and after how long without a beat it is dead
# (and the calls it was running with it).
DISPATCHER_POLL_SECONDS = 1.0
DISPATCHER_HEARTBEAT_SECONDS = 5.0
DISPATCHER_STALE_AFTER_SECONDS = 30.0

# Builder: how soon functions queued by another process are built.
BUILDER_POLL_SECONDS = 5.0

# Warm instances: how often idle ones are looked for.
INSTANCE_REAP_SECONDS = 5.0

# A call's pipes may stay open this long after it ended (a grandchild may hold them).
CALL_DRAIN_SECONDS = 2.0
# A killed call must be reported dead within this long, else its whole instance is stopped.
CALL_KILL_GRACE_SECONDS = 5.0
# A running call's log lines are written to the database at most this often.
CALL_LOG_FLUSH_SECONDS = 0.2
# A call's token outlives its deadline by this much (its last requests may be in flight).
CALL_TOKEN_MARGIN_SECONDS = 60
# A call's session outlives twice its deadline by this much: it may wait queued a while first.
CALL_SESSION_MARGIN_SECONDS = 3600

# Retention is counted in days: pruning this often keeps each pass small.
RETENTION_PRUNE_SECONDS = 600.0

# Longest the start-up check of the sandbox may take.
SANDBOX_PROBE_SECONDS = 20.0

# Console: a quiet live stream gets a comment this often, so proxies keep it open; a console
# session's last use is written at most this often (not on every page view).
CONSOLE_HEARTBEAT_SECONDS = 15.0
CONSOLE_SESSION_TOUCH_SECONDS = 60

# At a server's stop, how long the last processes of its instances may take to leave its
# cgroups (they are killed), and how often their removal is tried meanwhile.
CGROUPS_CLOSE_SECONDS = 2.0
CGROUPS_CLOSE_RETRY_SECONDS = 0.02

# Ray executor. A running call's printed lines wait this long for the call's end, so a short
# chatty call is one report to the dispatcher.
RAY_REPORT_GATHER_SECONDS = 0.1
# How often an instance actor checks that its node's raylet still owns it (else it stops).
RAY_FENCE_SECONDS = 0.5
# How stale the list of nodes may be when an instance is placed.
RAY_NODES_MAX_AGE_SECONDS = 1.0
# How often an instance that Ray reports unreachable (not yet dead) is asked again.
RAY_UNREACHABLE_RETRY_SECONDS = 0.5
# When an instance's worker dies, how long its node is watched before the call is said to have
# lost only its worker: the worker of a killed node dies at once, while Ray declares the node
# dead only after its failed health checks (about 3 s with the settings the README gives the
# head). A worker that really died alone is reported this much later.
RAY_NODE_DEATH_WAIT_SECONDS = 5.0
# How long a retiring instance may take to stop its zygote before its actor is killed.
RAY_INSTANCE_STOP_SECONDS = 5.0

# PostgreSQL's dedicated connections (LISTEN, the dispatchers' lock): how often each is
# checked, how long a check may take before the connection counts as gone, and how soon a
# lost one is opened again. The lock's holder gives up at most 1 + 5 = 6 s after its last
# answered check, before the server (keepalives: about 11 s of silence, store/dedicated.py)
# releases the lock to a standby; 5 s, not less, because a loaded machine (a busy dispatcher,
# a busy database) can take seconds to answer, and a holder that gives up on a slow answer
# hands over dispatching for nothing.
CONNECTION_CHECK_SECONDS = 1.0
CONNECTION_CHECK_TIMEOUT_SECONDS = 5.0
CONNECTION_RETRY_SECONDS = 1.0
# A standby dispatcher tries to become the active one this often; one that lost the lock (its
# connection failed) waits this long before it stands by again, so a healthy one takes over.
STANDBY_POLL_SECONDS = 0.5
LOCK_LOST_BACKOFF_SECONDS = 3.0
