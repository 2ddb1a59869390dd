"""Measuring a function process from outside: CPU time and peak memory of its process group, and
pushing a workload at it with a given number of concurrent clients."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 of /proc/PID/stat: the process group
                members.append(int(entry.name))
    return members


def pin(pgid: int, cores: set[int]) -> None:
    """Every thread of every process in the group onto `cores`. `sched_setaffinity(pid)` moves
    only the thread whose id is `pid`; threads already running (gunicorn's, gRPC's) keep theirs."""
    for pid in group_members(pgid):
        pin_threads(pid, cores)


def pin_threads(pid: int, cores: set[int]) -> None:
    try:
        tasks = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return
    for tid in tasks:
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:  # the thread ended meanwhile
            continue


def cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the group."""
    total = 0
    for pid in group_members(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def peak_rss_mib(pgid: int) -> float:
    """The largest peak resident set (VmHWM) among the group's processes: the serving worker."""
    peak = 0
    for pid in group_members(pgid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


@dataclass(frozen=True)
class Run:
    messages: int
    concurrency: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    statuses: dict[int, int]

    @property
    def billed_s_per_message(self) -> float:
        """Instance time per message when the instance is kept busy (request-based billing)."""
        return self.wall_s / self.messages

    @property
    def cpu_ms_per_message(self) -> float:
        return self.cpu_s / self.messages * 1000


def push(url: str, bodies: Sequence[dict[str, object]], concurrency: int, pgid: int,
         post: Callable[[httpx.Client, str, dict[str, object]], int] | None = None) -> Run:  # fmt: skip
    """POST every body to `url` with `concurrency` clients; measure the process group meanwhile."""

    def default_post(client: httpx.Client, target: str, body: dict[str, object]) -> int:
        return client.post(target, json=body).status_code

    send = post or default_post
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency * 2)) as client:
        send(client, url, bodies[0])  # warm up: imports, clients, secrets
        cpu_before = cpu_seconds(pgid)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            for status in pool.map(lambda body: send(client, url, body), bodies[1:]):
                statuses[status] = statuses.get(status, 0) + 1
        wall = time.perf_counter() - started
        cpu = cpu_seconds(pgid) - cpu_before
    return Run(len(bodies) - 1, concurrency, wall, cpu, peak_rss_mib(pgid), statuses)
