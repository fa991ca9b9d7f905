"""Tasks declared with a module-level dict, plus one decorated: both forms count."""

from pgrun import task


def greet(payload, helpers):
    helpers.logger.info("hello %s", payload.get("name", "world"))


async def agreet(payload, helpers):
    helpers.logger.info("hello async %s", payload.get("name", "world"))


@task("decorated.too")
def decorated(payload, helpers):
    pass


tasks = {"greet": greet, "greet.async": agreet}
