"""Read while fixing what the chaos driver found: a batch of outcomes the database
refuses is written again one by one (outcomes._isolate). A connection lost during
that was raised past the code that puts a batch back on a lost connection, so the
batch was forgotten: its jobs stayed running under a live worker, stuck until it
stopped.

Here a trigger makes the database refuse completions while a row of
refuse_completions exists; the test cuts the runner's connections (and removes
the row) as the one-by-one writes begin. The completion must still land."""

from __future__ import annotations

import asyncio

from fault_support import add_job, db_wait, embedded, terminate
from support import scalar

REFUSER = """
create table refuse_completions (why text);
insert into refuse_completions values ('the test says no');
create function refuse_completion() returns trigger language plpgsql as $$
begin
  -- a completed job is deleted at once (no retention rule), or marked completed
  if (tg_op = 'DELETE' or new.state = 'completed') and exists (select from public.refuse_completions) then
    raise exception 'completion refused by the test';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end $$;
create trigger refuse_completion before update or delete on pgrun._private_jobs
  for each row execute function refuse_completion();
"""


def test_a_connection_lost_while_refused_outcomes_are_written_one_by_one_loses_none(dsn, conn):
    conn.execute(REFUSER)

    async def work(payload, helpers):
        return None

    def gone(job_id: int) -> bool:
        return scalar(conn, "select count(*) from pgrun.jobs where id = %s", (job_id,)) == 0

    async def main():
        async with embedded({"work": work}, dsn, concurrency=2) as worker:
            outcomes = worker.outcomes
            isolate, cuts = outcomes._isolate, []

            def cut() -> int:
                conn.execute("delete from refuse_completions")
                return terminate(conn, "pgrun")

            async def cut_first(conn_, kind, batch, error):
                if not cuts:
                    cuts.append(await asyncio.to_thread(cut))
                return await isolate(conn_, kind, batch, error)

            outcomes._isolate = cut_first
            job_id = (await asyncio.to_thread(add_job, conn, "work"))["id"]
            worker.nudge()
            await db_wait(lambda: gone(job_id), timeout=15, message="the completion to land after the cut")
            assert cuts and cuts[0] >= 1
            assert worker.stats.completed == 1, worker.stats

    asyncio.run(main())
