"""A tasks dict whose value is not a function."""

tasks = {"oops": 42}
