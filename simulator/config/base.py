"""Shared base for every configuration model: frozen, strict about unknown keys and types."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


class ConfigModel(BaseModel):
    """Frozen pydantic model; unknown keys are errors; field names are YAML keys.

    Strict: a value must already have the field's type. ``true`` is not the
    count 1, ``"12"`` is not the number 12, ``1.0`` is not the integer 1 (an
    integer is accepted where a number with a fraction is expected). Dates
    and date-times are the exception: see :data:`~simulator.config.common.Date`.
    """

    # allow_inf_nan=False: `.inf` and `.nan` are valid YAML floats but no
    # parameter means anything with them (an infinite population crashes the
    # stream; NaN slips past every `ge`/`le` bound).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False, strict=True
    )


def omitted_when_none(*names: str) -> Any:
    """A serializer for a model's class body: the fields ``names`` are left out of its
    dumps while they are None. For optional sections added later: a document without
    them is recorded (a run's inputs, a results folder) as it was before they existed."""

    @model_serializer(mode="wrap")
    def _omit(self: BaseModel, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in names:
            if getattr(self, name) is None:
                data.pop(name, None)
        return data

    return _omit
