pytest_plugins = ["pgrun.testing"]
