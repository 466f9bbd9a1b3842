"""How many entries each per-call and per-agent map of the console's event worker keeps (#16, finding 8).

Events that never come (a CallEnded or AgentRingStopped lost with the AMI link) or a stream of distinct
names must not grow them without end: the oldest entry goes first. The maps read these at use time
(`map_limits.NAME`), so a test can make them small. (A ring-all hold lives `WITHDRAW_HOLD_S` per call;
a ring's queued time as long as its event is on the worker's queue of `QUEUE_LIMIT`.)
"""

from __future__ import annotations

LIVE_LINES_KEPT = 200  # finals per live call replayed to a page that (re)connects
LIVE_ENDED_KEPT = 4096  # ended calls remembered so that their late lines are not kept again
MAX_LIVE_CALLS = 2000  # calls whose live transcript finals are kept for pages that (re)connect
MAX_POP_CONTEXTS = 2000  # calls whose pop lookup is kept (their CallEnded drops it)
MAX_UNBUILT_PER_AGENT = 50  # rings of one agent whose pops were not built here
MAX_UNBUILT_AGENTS = 5000  # agents with rings whose pops were not built here
MAX_LEARNED = 5000  # agents, and hotlines, whose queues role mode's prefetch gate remembers
MAX_QUEUES_EACH = 100  # queues remembered per agent or hotline
