"""Shared base for every configuration model: frozen, strict about unknown keys and types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
