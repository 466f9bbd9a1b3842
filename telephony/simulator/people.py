"""Who the simulated PBX's calls are between: its agents (the lab's three, or agent1001 … for load) and
its callers (the demo's, or distinct numbers for load calls)."""

from __future__ import annotations

from telephony.simulator.scenario import AgentIdentity

DEFAULT_AGENTS = (
    AgentIdentity("agent1001", "1001", "Anna Agent", "Anna Agent"),
    AgentIdentity("agent1002", "1002", "Ben Agent", "Ben Agent"),
    AgentIdentity("agent1003", "1003", "Chen Agent", "Chen Agent"),
)
DEFAULT_CALLERS = (
    ("49305551001", "张伟"), ("49305551002", "李娜"), ("49305551003", "王芳"),
    ("49305551004", "刘洋"), ("49305551005", "陈静"), ("49305551006", "杨磊"),
    ("49305551011", "赵敏"), ("49305551012", "黄强"),
)
LOAD_CALLERS = 5000  # distinct caller numbers of load calls (`start_load_call`)
_NAMES = ("Anna", "Ben", "Chen", "Dana", "Eli", "Fang", "Gus", "Hui", "Ivy", "Jun", "Kai", "Lei")


def make_callers(n: int) -> tuple[tuple[str, str], ...]:
    """`n` distinct callers (number, name) for load calls: mobile numbers 139 0000 0000 … whose
    last 8 digits (the screen pop's tail key) differ too, so a lookup finds only the caller's own calls."""
    if not 1 <= n <= 10**8:
        raise ValueError(f"callers must be between 1 and 100000000, not {n}")
    return tuple((f"139{i:08d}", f"来电 {i + 1}") for i in range(n))


def make_agents(n: int) -> tuple[AgentIdentity, ...]:
    """agent1001 … agent10NN; the first three are the lab's (Anna, Ben, Chen Agent)."""
    if not 1 <= n <= 8999:
        raise ValueError(f"agents must be between 1 and 8999, not {n}")
    out = []
    for i in range(n):
        number = str(1001 + i)
        name = f"{_NAMES[i % len(_NAMES)]} Agent" + (f" {i // len(_NAMES) + 1}" if i >= len(_NAMES) else "")
        out.append(AgentIdentity(f"agent{number}", number, name, name))
    return tuple(out)
