"""Typed payloads: a handler whose payload parameter is annotated with a pydantic model, a
TypedDict or a dataclass gets a validated instance of it.

    class Email(pydantic.BaseModel):
        to: str
        subject: str = "Hello"

    @task("emails.send")
    async def send(payload: Email, helpers): ...      # payload is an Email

    SEND = task_ref(send)                              # TaskRef[Email], for typed enqueueing
    utils.add_job(SEND, Email(to="ada@example.com"))   # a type checker refuses another model

The annotation is read once, when the task is loaded (`payload_decoder`); a task without one
(or with `dict`, `Any`, ...) gets the decoded JSON as before, at no extra cost per job. A
payload that does not validate fails the job for good (`InvalidPayload`, a `PermanentFailure`):
another attempt would read the same payload. Validation uses pydantic (`pip install
pgrun[pydantic]`), also for TypedDicts and dataclasses.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypedDict, TypeVar

from .errors import PermanentFailure, TaskModuleError
from .job import JobKeyMode
from .retry import RetryPolicy

P = TypeVar("P")

_MARK = "__pgrun_task__"   # tasks.py's mark: the identifier a @task gave the handler


class InvalidPayload(PermanentFailure):
    """A job's payload does not validate as its handler's payload type; it fails for good."""

    def __init__(self, identifier: str, payload_type: Any, error: Exception) -> None:
        self.identifier, self.payload_type, self.validation_error = identifier, payload_type, error
        super().__init__(f"the payload of task {identifier!r} is not a valid "
                         f"{_name(payload_type)} (retrying cannot fix it): {error}")

    def __reduce__(self):  # pickled from an isolated handler's process
        return PermanentFailure, (str(self),)


def payload_type(handler: Callable[..., Any]) -> Any | None:
    """The pydantic model, TypedDict or dataclass that annotates the handler's first parameter,
    or None if it has none of these."""
    function = handler if inspect.isfunction(handler) or inspect.ismethod(handler) else None
    if function is None and callable(handler):
        function = type(handler).__call__   # an object with __call__
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return None
    if not parameters:
        return None
    annotation = parameters[0].annotation
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):   # `from __future__ import annotations`: resolve it
        try:
            annotation = typing.get_type_hints(function or handler).get(parameters[0].name)
        except Exception:
            return None
    return annotation if _is_typed(annotation) else None


def _is_typed(annotation: Any) -> bool:
    if not isinstance(annotation, type):
        return False
    # (any TypedDict: typing's, or typing_extensions' that typing.is_typeddict does not know)
    typed_dict = issubclass(annotation, dict) and hasattr(annotation, "__required_keys__")
    if typed_dict or dataclasses.is_dataclass(annotation):
        return True
    return any(base.__module__.startswith("pydantic") and base.__name__ == "BaseModel"
               for base in annotation.__mro__)


def _adapter(kind: Any, identifier: str):
    try:
        from pydantic import TypeAdapter
    except ImportError:
        raise TaskModuleError(f"task {identifier!r} takes a typed payload ({_name(kind)}): validating it "
                              "needs pydantic (pip install 'pgrun[pydantic]')") from None
    try:
        return TypeAdapter(kind)
    except Exception as error:   # e.g. typing.TypedDict before Python 3.12
        raise TaskModuleError(f"task {identifier!r}: pydantic cannot validate {_name(kind)}: "
                              f"{str(error).splitlines()[0]}") from None


def payload_decoder(identifier: str, handler: Callable[..., Any]) -> Callable[[Any], Any] | None:
    """For a handler with a typed payload, the function that turns a job's JSON payload into
    its instance (raising InvalidPayload); None for an untyped one. Built once per task."""
    kind = payload_type(handler)
    if kind is None:
        return None
    validate = _adapter(kind, identifier).validate_python
    from pydantic import ValidationError

    def decode(payload: Any) -> Any:
        try:
            return validate({} if payload is None else payload)
        except ValidationError as error:
            raise InvalidPayload(identifier, kind, error) from None
    return decode


@dataclass(frozen=True, slots=True)
class TaskRef(Generic[P]):
    """A task's identifier together with its payload type, for enqueueing with type checks:
    `add_job(ref, payload)` accepts only a payload of type P (checked by mypy or pyright, and
    at run time when asked with validate=True)."""

    identifier: str
    payload_type: type[P] | None = None

    def validate(self, payload: Any) -> P:
        """`payload` (an instance, or JSON-like data) validated as P; pydantic's ValidationError
        if it is not one."""
        if self.payload_type is None:
            return payload
        return _adapter(self.payload_type, self.identifier).validate_python(payload)


def task_ref(handler: Callable[[P, Any], Any]) -> TaskRef[P]:
    """The TaskRef of a @task handler: its identifier, and the type of its payload parameter
    (inferred by the type checker from the handler's annotation)."""
    identifier = getattr(handler, _MARK, None) or getattr(handler, "__name__", None)
    if not isinstance(identifier, str):
        raise TypeError(f"task_ref takes a @task handler, got {type(handler).__name__}")
    return TaskRef(identifier, payload_type(handler))


def resolve(identifier: str | TaskRef[Any], payload: Any, validate: bool) -> tuple[str, Any]:
    """(identifier text, payload to encode) for an add_job given a name or a TaskRef."""
    if isinstance(identifier, TaskRef):
        if validate:
            payload = identifier.validate(payload)
        return identifier.identifier, payload
    if validate:
        raise TypeError("validate=True needs a TaskRef (it says which type to validate against)")
    return identifier, payload


def _name(kind: Any) -> str:
    return getattr(kind, "__qualname__", None) or repr(kind)


class AddJobOptions(TypedDict, total=False):
    """add_job's keyword options, for the typed overloads (`**options: Unpack[AddJobOptions]`)."""

    queue_name: str | None
    run_at: datetime | None
    max_attempts: int | None
    job_key: str | None
    priority: int | None
    flags: Sequence[str] | None
    job_key_mode: JobKeyMode
    timeout: float | timedelta | None
    validate: bool
    retry: RetryPolicy | None
    meta: dict[str, Any] | None
    depends_on: Sequence[int] | None
    limit_keys: Sequence[str] | None
