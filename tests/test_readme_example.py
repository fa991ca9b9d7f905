"""The README's example of testing a task with run_once, as a real test."""

import pgrun
from tasks import emails


def test_welcome_email_is_sent(dsn):  # dsn: a database with pgrun installed
    with pgrun.WorkerUtils(dsn) as utils:
        utils.add_job("emails.send_welcome", {"to": "ada@example.com"})

    stats = pgrun.run_once(emails, connection=dsn)

    assert stats.completed == 1 and stats.failed == 0
    assert emails.SENT[-1] == {"to": "ada@example.com", "subject": "Welcome!"}
