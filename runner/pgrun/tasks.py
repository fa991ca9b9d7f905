"""Task discovery: the `@task` decorator, a module-level `tasks` dict, or both.

    from pgrun import task

    @task
    def hello(payload, helpers): ...          # identifier "hello"

    @task("emails.send")
    async def send(payload, helpers): ...     # identifier "emails.send"

    tasks = {"reports.build": build_report}   # the dict form
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, overload

from .errors import TaskModuleError
from .retry import RetryPolicy, check_policy
from .typed import payload_decoder

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__pgrun_task__"


_OPTIONS = "__pgrun_task_options__"


@overload
def task(arg: F, /) -> F: ...
@overload
def task(arg: str | None = None, /, *, timeout: float | None = None, isolation: str | None = None,
         memory_limit_mb: int | None = None, retry: RetryPolicy | None = None) -> Callable[[F], F]: ...


def task(arg=None, /, *, timeout=None, isolation=None, memory_limit_mb=None, retry=None):
    """Marks a function as a task; the identifier is its name unless given.

    `timeout` (seconds): an attempt that runs longer is stopped like a cancel and recorded as
    failed with "timed out after N s" (retried by its policy); a job's own timeout, given when
    it is added, wins over it. `isolation="process"`: a plain handler runs in a child process
    (docs/runner.md "Process isolation"); `memory_limit_mb` limits that process's address space
    (it implies isolation="process"). Forms: @task, @task("id"), @task("id", timeout=30),
    @task(timeout=30, isolation="process", memory_limit_mb=256).
    `retry`: the task's retry policy (pgrun.exponential, linear, fixed, custom; retry.py).
    """
    options = _task_options(timeout=timeout, isolation=isolation, memory_limit_mb=memory_limit_mb)
    options["retry"] = check_policy(retry, "@task(retry=...)")
    if callable(arg):
        return _mark(arg, arg.__name__, options)
    if arg is not None and not isinstance(arg, str):
        raise TypeError(f"@task takes a function or an identifier string, got {type(arg).__name__}")
    if arg == "":
        raise ValueError("a task identifier must not be empty")

    def decorator(fn: F) -> F:
        return _mark(fn, arg or fn.__name__, options)
    return decorator


def _task_options(*, timeout: float | None, isolation: str | None,
                  memory_limit_mb: int | None) -> dict[str, Any]:
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"a task timeout is a number of seconds above 0 (got {timeout!r})")
    if isolation not in (None, "thread", "process"):
        raise ValueError(f'a task isolation is "thread" or "process" (got {isolation!r})')
    if memory_limit_mb is not None:
        if isinstance(memory_limit_mb, bool) or not isinstance(memory_limit_mb, int) or memory_limit_mb < 1:
            raise ValueError(f"a task memory limit is a whole number of MB above 0 (got {memory_limit_mb!r})")
        if isolation == "thread":
            raise ValueError('memory_limit_mb needs isolation="process" (a thread cannot be limited)')
        isolation = "process"
    return {"timeout": None if timeout is None else float(timeout), "isolation": isolation,
            "memory_limit_mb": memory_limit_mb}


def _mark(fn: F, identifier: str, options: dict[str, Any]) -> F:
    setattr(fn, _MARK, identifier)
    setattr(fn, _OPTIONS, options)
    return fn


@dataclass(frozen=True, slots=True)
class TaskDef:
    identifier: str
    handler: Callable[..., Any]
    is_async: bool
    timeout: float | None = None    # seconds an attempt may run (a job's own timeout wins)
    isolation: str | None = None    # "process": a plain handler runs in a child; None: the worker's
    memory_limit_mb: int | None = None   # the child's address space limit (isolation="process")
    # typed payloads (typed.py): JSON payload -> the handler's model instance; None: untyped
    decode: Callable[[Any], Any] | None = None
    retry: RetryPolicy | None = None     # None: the database's (a task row set by hand, or the default)


TaskSource = str | ModuleType | Mapping[str, Callable[..., Any]]


def load_tasks(source: TaskSource) -> dict[str, TaskDef]:
    """Tasks from a module name (or .py path), a module object or a dict {identifier: handler}."""
    if isinstance(source, Mapping):
        found = _check_dict(dict(source), "the tasks dict")
        where = "the tasks dict"
    else:
        module = import_task_module(source) if isinstance(source, str) else source
        where = f"task module {module.__name__!r}"
        found = _from_module(module, where)
    if not found:
        raise TaskModuleError(
            f"{where} defines no tasks: decorate functions with @pgrun.task "
            'or define a module-level dict tasks = {"identifier": handler}'
        )
    # a handler's signature is read here, once: nothing is inspected per job
    defs = {name: TaskDef(name, fn, _is_async(fn), **getattr(fn, _OPTIONS, {}),
                          decode=payload_decoder(name, fn)) for name, fn in found.items()}
    for taskdef in defs.values():
        if taskdef.isolation == "process":
            check_isolatable(taskdef)
    return defs


def check_isolatable(taskdef: TaskDef) -> None:
    """TaskModuleError unless the task can run in a child process (a plain, importable function)."""
    if taskdef.is_async:
        raise TaskModuleError(f"task {taskdef.identifier!r} is async: async handlers run on the worker's "
                              "loop and cannot be isolated in a process")
    from .isolation import handler_reference

    handler_reference(taskdef.identifier, taskdef.handler)


def import_task_module(name: str) -> ModuleType:
    """Imports `name` from the current directory or PYTHONPATH, or the .py file at that path
    (its directory then comes first on sys.path, as for `python path/to/file.py`, so that it
    imports its sibling modules)."""
    if name.endswith(".py") or os.sep in name:
        return _import_file(Path(name))
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise TaskModuleError(
                f"cannot import task module {name!r}: no module named {error.name!r} "
                f"(looked in {cwd} and on PYTHONPATH)"
            ) from None
        raise TaskModuleError(f"importing task module {name!r} failed: {_one_line(error)}") from None
    except Exception as error:
        raise TaskModuleError(f"importing task module {name!r} failed: {_one_line(error)}") from None


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TaskModuleError(f"cannot import task module: file {path} not found")
    directory = str(path.resolve().parent)
    if sys.path[:1] != [directory]:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise TaskModuleError(f"cannot import task module from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(path.stem, None)
        raise TaskModuleError(f"importing task module {str(path)!r} failed: {_one_line(error)}") from None
    return module


def _one_line(error: BaseException) -> str:
    """The error and where the user's code raised it, on one line."""
    text = f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    user = [f for f in frames if "importlib" not in f.filename]
    if user and not isinstance(error, SyntaxError):
        text += f" (at {user[-1].filename}:{user[-1].lineno})"
    return " ".join(text.split())


def _from_module(module: ModuleType, where: str) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for value in list(vars(module).values()):
        identifier = getattr(value, _MARK, None) if callable(value) else None
        if isinstance(identifier, str):
            _add(found, identifier, value, where)
    declared = getattr(module, "tasks", None)
    if declared is not None and not isinstance(declared, ModuleType):
        if not isinstance(declared, Mapping):
            raise TaskModuleError(
                f"'tasks' in {where} must be a dict of {{identifier: handler}}, "
                f"got {type(declared).__name__}"
            )
        for identifier, handler in _check_dict(dict(declared), where).items():
            _add(found, identifier, handler, where)
    return found


def _check_dict(tasks: dict[Any, Any], where: str) -> dict[str, Callable[..., Any]]:
    for identifier, handler in tasks.items():
        if not isinstance(identifier, str) or not identifier:
            raise TaskModuleError(
                f"task identifiers in {where} must be non-empty strings, got {identifier!r}")
        if len(identifier) > 128:
            raise TaskModuleError(f"task identifier {identifier[:40]!r}... in {where} is over 128 characters")
        if not callable(handler):
            raise TaskModuleError(
                f"task {identifier!r} in {where} is not callable (got {type(handler).__name__}); "
                "a handler is a function handler(payload, helpers)"
            )
    return tasks


def _add(found: dict[str, Callable[..., Any]], identifier: str, handler: Callable[..., Any],
         where: str) -> None:
    if identifier in found and found[identifier] is not handler:
        raise TaskModuleError(f"task {identifier!r} is defined twice in {where}")
    found[identifier] = handler


def _is_async(handler: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    # an object whose __call__ is async
    return not inspect.isfunction(handler) and inspect.iscoroutinefunction(type(handler).__call__)
