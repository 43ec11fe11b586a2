"""Listener counters and ACK latency, rendered in the Prometheus text format."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

# ACK latency buckets, seconds (upper bounds).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    counters: dict[str, int] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0
    commits: int = 0  # transactions (groups); received / commits is the mean group size

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def count(self, status: str) -> None:
        """status: processed | duplicate | error | rejected (each is also one received)."""
        with self._lock:
            self.counters["received"] = self.counters.get("received", 0) + 1
            self.counters[status] = self.counters.get(status, 0) + 1

    def count_commit(self) -> None:
        with self._lock:
            self.commits += 1

    def count_ack(self, code: str) -> None:
        with self._lock:
            self.acks[code] = self.acks.get(code, 0) + 1

    def ack_latency(self, seconds: float) -> None:
        with self._lock:
            self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def quantile(self, q: float) -> float | None:
        """An upper bound of the q-quantile from the buckets (None before any ACK)."""
        with self._lock:
            if not self.latency_count:
                return None
            target = q * self.latency_count
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), self.buckets, strict=True):
                running += n
                if running >= target:
                    return bound
            return float("inf")

    def prometheus(self) -> str:
        with self._lock:
            lines = [
                "# HELP dermrcm_hl7_messages_total HL7 v2 messages received, by outcome",
                "# TYPE dermrcm_hl7_messages_total counter",
            ]
            for status in ("received", "processed", "duplicate", "error", "rejected"):
                lines.append(
                    f'dermrcm_hl7_messages_total{{outcome="{status}"}} {self.counters.get(status, 0)}'
                )
            lines += [
                "# HELP dermrcm_hl7_acks_total acknowledgements sent, by MSA-1 code",
                "# TYPE dermrcm_hl7_acks_total counter",
            ]
            for code in ("AA", "AE", "AR", "CA", "CE", "CR"):
                lines.append(f'dermrcm_hl7_acks_total{{code="{code}"}} {self.acks.get(code, 0)}')
            lines += [
                "# HELP dermrcm_hl7_commits_total transactions that stored messages (group commit)",
                "# TYPE dermrcm_hl7_commits_total counter",
                f"dermrcm_hl7_commits_total {self.commits}",
            ]
            lines += [
                "# HELP dermrcm_hl7_ack_seconds time from a frame's arrival to its ACK being ready",
                "# TYPE dermrcm_hl7_ack_seconds histogram",
            ]
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), self.buckets, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'dermrcm_hl7_ack_seconds_bucket{{le="{le}"}} {running}')
            lines.append(f"dermrcm_hl7_ack_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"dermrcm_hl7_ack_seconds_count {self.latency_count}")
            return "\n".join(lines) + "\n"
