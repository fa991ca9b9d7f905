"""The books of a chaos run, from chaos_jobs (every job added), chaos_runs (every run
a handler recorded) and pgrun's own jobs (kept after completion by the run's
retention rule):

- lost: a job added that is not completed, or completed without a recorded run
  of its final attempt;
- stuck: a job left in any state but completed, or still locked;
- duplicates: runs of a job besides the run of its final attempt. Each must be of
  an earlier attempt (one that ended without completing: cut mid-run), and no
  attempt may run twice or overlap a later attempt of its job;
- recovery after each fault: the first run recorded after the fault ended, and
  for a SIGKILL, when the last job the dead worker held ran again."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from .faults import Fault, Pool


@dataclass
class Summary:
    jobs: int = 0
    completed: int = 0
    lost: int = 0
    stuck: int = 0
    runs: int = 0
    duplicates: int = 0             # extra runs, all of earlier (cut) attempts
    duplicates_killed: int = 0      # of those: the run's worker was SIGKILLed
    unexplained: list[str] = field(default_factory=list)   # duplicates that break the rules
    faults: list[Fault] = field(default_factory=list)
    resume: list[float | None] = field(default_factory=list)      # per fault, seconds
    held_rerun: list[float | None] = field(default_factory=list)  # per fault, seconds (SIGKILL)
    unexpected_exits: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)   # workers SIGTERM did not stop
    over_held: dict[str, int] = field(default_factory=dict)   # workers that held jobs they forgot
    sigterm_codes: list[int] = field(default_factory=list)
    seconds: float = 0.0            # first fault to the last job, database time
    wall_seconds: float = 0.0

    @property
    def kills(self) -> int:
        return sum(f.kind.startswith("SIGKILL") for f in self.faults)

    @property
    def restarts(self) -> int:
        return sum(f.kind.startswith("pg_ctl restart") for f in self.faults)

    def table(self) -> str:
        rows = [("jobs", self.jobs), ("completed", self.completed), ("runs recorded", self.runs),
                ("faults", len(self.faults)), ("worker SIGKILLs", self.kills),
                ("worker SIGTERMs", sum(f.kind.startswith("SIGTERM") for f in self.faults)),
                ("PostgreSQL restarts", self.restarts),
                ("duplicates (cut attempts)", f"{self.duplicates} ({self.duplicates_killed} by SIGKILL)"),
                ("unexplained duplicates", len(self.unexplained)), ("lost", self.lost), ("stuck", self.stuck),
                ("workers that died on their own", len(self.unexpected_exits)),
                ("workers SIGTERM did not stop", len(self.hung)),
                ("workers holding over 2x (slots + prefetch)", len(self.over_held)),
                ("SIGTERM exit codes", ",".join(map(str, self.sigterm_codes))),
                ("throughput", f"{self.completed / self.seconds:.0f} jobs/s" if self.seconds else "-"),
                ("wall time", f"{self.wall_seconds:.0f} s")]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {name:<{width}} | {value} |" for name, value in rows]
        lines += ["", "| # | fault | detail | lasted | first job after | held jobs ran again after |",
                  "|---|---|---|---|---|---|"]
        for i, (fault, resume, held) in enumerate(zip(self.faults, self.resume, self.held_rerun,
                                                      strict=True), start=1):
            lines.append(f"| {i} | {fault.kind} | {fault.detail} | {fault.ended - fault.started:.2f} s | "
                         f"{_seconds(resume)} | {_seconds(held) if fault.held else '-'} |")
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def _one(conn: psycopg.Connection, sql: str, params=None):
    return conn.execute(sql, params).fetchone()[0]


def check(conn: psycopg.Connection, faults: list[Fault], pool: Pool, started_at: float,
          drained_at: float) -> Summary:
    s = Summary(faults=faults, unexpected_exits=pool.unexpected, sigterm_codes=pool.sigterm_codes,
                hung=pool.hung)
    s.jobs = _one(conn, "select count(*) from chaos_jobs")
    s.runs = _one(conn, "select count(*) from chaos_runs")
    s.seconds = drained_at - started_at
    s.completed = _one(conn, "select count(*) from chaos_jobs c join pgrun.jobs j using (id) "
                             "where j.state = 'completed'")
    s.lost = _one(conn, """
        select count(*) from chaos_jobs c left join pgrun.jobs j using (id)
        where j.id is null or j.state <> 'completed'
           or not exists (select from chaos_runs r where r.job_id = c.id and r.attempt = j.attempts)""")
    s.stuck = _one(conn, "select count(*) from pgrun.jobs "
                         "where state <> 'completed' or locked_by is not null")
    # every run but the final attempt's, with what the rules say of it
    extra = conn.execute("""
        select r.job_id, r.attempt, r.pid, j.attempts as final,
               count(*) over (partition by r.job_id, r.attempt) as same_attempt,
               lead(r.started_at) over w < r.at as overlaps_next
        from chaos_runs r join pgrun.jobs j on j.id = r.job_id
        window w as (partition by r.job_id order by r.attempt, r.id)""").fetchall()
    for job_id, attempt, pid, final, same_attempt, overlaps_next in extra:
        if attempt == final and same_attempt == 1 and not overlaps_next:
            continue
        if attempt < final and same_attempt == 1 and not overlaps_next:
            s.duplicates += 1
            s.duplicates_killed += pid in pool.killed_pids
            continue
        s.unexplained.append(f"job {job_id} attempt {attempt}/{final} (pid {pid}): "
                             f"{same_attempt} runs of this attempt, overlaps the next: {overlaps_next}")
    for fault in faults:
        s.resume.append(_one(conn, "select extract(epoch from min(at))::float8 - %s from chaos_runs "
                                   "where at > to_timestamp(%s)", (fault.ended, fault.ended)))
        if not fault.held:
            s.held_rerun.append(None)
            continue
        ids = [job for job, _ in fault.held]
        attempts = [attempt for _, attempt in fault.held]
        s.held_rerun.append(_one(conn, """
            select case when bool_and(first is not null) then max(first)::float8 - %s end from (
              select (select extract(epoch from min(r.at)) from chaos_runs r
                      where r.job_id = h.id and r.attempt > h.attempt) as first
              from unnest(%s::bigint[], %s::int[]) as h(id, attempt)) as t""",
                                 (fault.started, ids, attempts)))
    return s
