"""Shared base for every configuration model: frozen, strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Frozen pydantic model; unknown keys are errors; field names are YAML keys."""

    # allow_inf_nan=False: `.inf` and `.nan` are valid YAML floats but no
    # parameter means anything with them (an infinite population crashes the
    # stream; NaN slips past every `ge`/`le` bound).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )
