"""Report jobs per user: at most `report_jobs_per_user` queued, running or retrying at once.

Rendering a year of reports as PDF costs a worker minutes; one user asking for period after period
(each a job of its own) would queue work for everyone else to wait behind. A request that only finds
a job already there (the same report, period, zone and format: agent_console.report_jobs) costs
nothing and is always served; one that would queue a new job beyond the user's limit is refused
(`TooManyReportJobs`, a 429 with Retry-After).

The jobs counted are those this console submitted for the user (with processes by role each web
process counts its own: a user spread over W web processes may have W times the limit queued), read
back from the runner, so a job done or failed no longer counts. Users and their job ids are bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from agent_console.report_jobs import JobView, ReportRequest, ReportRunner

ACTIVE = ("queued", "running", "retrying")
MAX_USERS = 10_000  # users remembered (least recently submitting dropped first)


class TooManyReportJobs(Exception):
    """The user has `limit` report jobs queued or running: a new one is refused."""

    def __init__(self, user: str, limit: int) -> None:
        super().__init__(f"{user} has {limit} report jobs queued or running; at most {limit} at once")
        self.user = user
        self.limit = limit


class ReportQuota:
    def __init__(self, per_user: int, max_users: int = MAX_USERS) -> None:
        if per_user < 1:
            raise ValueError("per_user must be >= 1")
        self.per_user = per_user
        self._max_users = max_users
        self._jobs: OrderedDict[str, list[str]] = OrderedDict()  # user -> ids of jobs submitted
        self._lock = threading.Lock()

    def submit(self, runner: ReportRunner, req: ReportRequest, user: str, *, again: bool = False) -> JobView:
        """`runner.submit(req)` for `user`, unless that queues a job beyond the user's limit."""
        with self._lock:
            found = runner.find(req)
            new_work = found is None or (again and found.state in ("done", "failed"))
            active = [j for j in self._jobs.get(user, []) if _active(runner, j)]
            if new_work and len(active) >= self.per_user:
                self._jobs[user] = active
                raise TooManyReportJobs(user, self.per_user)
            view = runner.submit(req, again=again)
            if view.id not in active:
                active.append(view.id)
            self._jobs[user] = active
            self._jobs.move_to_end(user)
            while len(self._jobs) > self._max_users:
                self._jobs.popitem(last=False)
            return view

    def users(self) -> int:
        with self._lock:
            return len(self._jobs)


def _active(runner: ReportRunner, job_id: str) -> bool:
    view = runner.view(job_id)
    return view is not None and view.state in ACTIVE
