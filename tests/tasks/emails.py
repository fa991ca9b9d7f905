"""The task of the README's testing example."""

from pgrun import task

SENT: list[dict] = []


@task("emails.send_welcome")
def send_welcome(payload, helpers):
    SENT.append({"to": payload["to"], "subject": "Welcome!"})
    helpers.logger.info("sent welcome email to %s", payload["to"])
