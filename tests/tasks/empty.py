"""A module that forgot to declare its tasks."""


def looks_like_a_task(payload, helpers):
    pass
