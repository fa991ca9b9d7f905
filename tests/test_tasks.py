"""Task discovery: the decorator, the tasks dict, and clear errors for bad modules."""

from __future__ import annotations

import sys

import pytest

from pgrun import task
from pgrun.errors import TaskModuleError
from pgrun.tasks import load_tasks


def test_decorator_uses_the_function_name_unless_given():
    @task
    def plain(payload, helpers):
        pass

    @task("emails.send")
    async def send(payload, helpers):
        pass

    found = load_tasks({"a": plain, "b": send})
    assert found["a"].is_async is False
    assert found["b"].is_async is True
    assert plain.__pgrun_task__ == "plain"
    assert send.__pgrun_task__ == "emails.send"


def test_a_module_may_use_the_dict_and_the_decorator_together():
    found = load_tasks("tasks.dict_form")
    assert sorted(found) == ["decorated.too", "greet", "greet.async"]
    assert found["greet.async"].is_async and not found["greet"].is_async


def test_decorated_functions_of_a_module_are_found():
    found = load_tasks("tasks.basic")
    assert {"async_echo", "plain.echo", "flaky", "sleeper"} <= set(found)
    assert found["async_echo"].is_async and not found["plain.echo"].is_async


def test_an_object_with_an_async_call_is_an_async_task():
    class Handler:
        async def __call__(self, payload, helpers):
            pass

    assert load_tasks({"h": Handler()})["h"].is_async


def test_a_missing_module_is_a_clear_error():
    with pytest.raises(TaskModuleError, match="cannot import task module 'no_such_tasks'"):
        load_tasks("no_such_tasks")


def test_a_module_failing_to_import_names_the_missing_dependency():
    with pytest.raises(TaskModuleError, match="importing task module 'tasks.broken_import' failed: "
                                              "ModuleNotFoundError.*this_module_does_not_exist"):
        load_tasks("tasks.broken_import")


def test_a_module_without_tasks_says_how_to_declare_them():
    with pytest.raises(TaskModuleError, match=r"defines no tasks: decorate functions with @pgrun.task"):
        load_tasks("tasks.empty")


def test_a_non_callable_handler_is_refused():
    with pytest.raises(TaskModuleError,
                       match="task 'oops' in task module 'tasks.not_callable' is not callable"):
        load_tasks("tasks.not_callable")


def test_a_task_module_can_be_a_file_path(tmp_path):
    path = tmp_path / "file_tasks.py"
    path.write_text("from pgrun import task\n\n@task\ndef from_file(payload, helpers):\n    pass\n")
    assert list(load_tasks(str(path))) == ["from_file"]


def test_a_task_file_can_import_its_sibling_modules(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "sibling_shout.py").write_text("def shout(text):\n    return text.upper()\n")
    (folder / "shouting_tasks.py").write_text(
        "from pgrun import task\nfrom sibling_shout import shout\n\n"
        "@task\ndef loud(payload, helpers):\n    return shout(payload)\n")
    try:
        found = load_tasks(str(folder / "shouting_tasks.py"))
    finally:
        for name in ("sibling_shout", "shouting_tasks"):
            sys.modules.pop(name, None)

    assert found["loud"].handler("hey", None) == "HEY"
    assert sys.path[0] == str(folder)


def test_a_task_timeout_is_given_in_each_form_of_the_decorator():
    @task(timeout=2)
    def by_name(payload, helpers): ...

    @task("named", timeout=0.5)
    async def with_identifier(payload, helpers): ...

    @task()
    def plain(payload, helpers): ...

    found = load_tasks({"a": by_name, "b": with_identifier, "c": plain})
    assert [(found[k].timeout, by_name.__pgrun_task__) for k in "abc"][0] == (2.0, "by_name")
    assert (found["b"].timeout, found["b"].is_async, found["c"].timeout) == (0.5, True, None)


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_a_task_timeout_must_be_a_positive_number_of_seconds(timeout):
    with pytest.raises(ValueError, match="a task timeout is a number of seconds above 0"):
        task(timeout=timeout)
