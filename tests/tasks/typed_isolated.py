"""A typed task whose handler runs in a child process (tests/test_typed.py)."""

from pydantic import BaseModel

from pgrun import task


class Point(BaseModel):
    x: int
    y: int


@task("typed.isolated", isolation="process")
def add_up(payload: Point, helpers):
    return {"type": type(payload).__name__, "sum": payload.x + payload.y}
