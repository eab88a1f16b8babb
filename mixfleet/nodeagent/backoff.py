"""Restart back-off, kubelet style: the first restart is immediate, then 10s, 20s, 40s ...
capped at 300s, and reset once a container has run for twice the cap. The restart count
lives on the containers themselves (a label), so it survives an agent restart; only start
and pull failures, which leave no container behind, are remembered in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Mapping

from mixfleet.nodeagent.engines.base import ContainerState

FailureKey = tuple[str, str]  # (pod uid, container name)


@dataclass(frozen=True, slots=True)
class StartFailure:
    reason: str  # ErrImagePull | ErrImageNeverPull | RunContainerError
    message: str  # the engine's own text
    count: int  # consecutive failures
    at: datetime


@dataclass(frozen=True, slots=True)
class BackoffState:
    base_seconds: float = 10.0
    cap_seconds: float = 300.0
    failures: Mapping[FailureKey, StartFailure] = field(default_factory=dict)

    def delay(self, n: int) -> float:
        """Wait before retry number n+1 after n consecutive failures (n=0: none)."""
        if n <= 0:
            return 0.0
        return min(self.cap_seconds, self.base_seconds * 2 ** (n - 1))

    def restart_at(self, c: ContainerState, *, attempt: int) -> datetime:
        """When an exited container (the attempt-th restart) may be replaced."""
        # A container whose start failed never ran: no times (aware, as the clock's are).
        finished = c.finished_at or c.started_at or datetime.min.replace(tzinfo=timezone.utc)
        if (
            c.started_at
            and c.finished_at
            and (c.finished_at - c.started_at).total_seconds() >= 2 * self.cap_seconds
        ):
            return finished  # it ran long enough: forgive earlier crashes
        return finished + timedelta(seconds=self.delay(attempt))

    def retry_at(self, f: StartFailure) -> datetime:
        return f.at + timedelta(seconds=self.delay(f.count))

    def record(
        self, key: FailureKey, *, reason: str, message: str, now: datetime, escalate: bool = True
    ) -> "BackoffState":
        """``escalate=False``: retry at the first step however often it failed."""
        prev = self.failures.get(key)
        count = (prev.count if prev else 0) + 1 if escalate else 1
        f = StartFailure(reason, message, count, now)
        return BackoffState(self.base_seconds, self.cap_seconds, {**self.failures, key: f})

    def clear(self, key: FailureKey) -> "BackoffState":
        if key not in self.failures:
            return self
        rest = {k: v for k, v in self.failures.items() if k != key}
        return BackoffState(self.base_seconds, self.cap_seconds, rest)

    def forget_pods(self, live_uids: set[str]) -> "BackoffState":
        rest = {k: v for k, v in self.failures.items() if k[0] in live_uids}
        return (
            self
            if len(rest) == len(self.failures)
            else BackoffState(self.base_seconds, self.cap_seconds, rest)
        )


def should_restart(policy: str, exit_code: int | None) -> bool:
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return exit_code != 0
    return True  # Always (the default)
