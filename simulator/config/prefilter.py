"""The prefilter of a ``PlatformPolicy``: its model, thresholds and, per policy area,
its own card and thresholds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from simulator.config.base import ConfigModel, omitted_when_none
from simulator.config.card import ClassifierCard
from simulator.config.common import Probability

Team = Literal["jury", "staff"]


class ModelRef(ConfigModel):
    """Which classifier the prefilter uses."""

    source: Annotated[
        Literal["synthetic", "file", "card"],
        Field(
            description=(
                "synthetic: trained at run start on the synthetic corpus; file: a skops file; "
                "card: the score distributions a `card` states (scores are drawn, never "
                "computed from texts, whatever the scenario's texts.mode)"
            )
        ),
    ] = "synthetic"
    card: Annotated[
        ClassifierCard | None,
        Field(
            description=(
                "a classifier card (source: card): the figures measured for the model, "
                "as one of binormal, beta, table or roc"
            )
        ),
    ] = None
    path: Annotated[
        str | None, Field(description="model file (skops), relative to this policy file")
    ] = None
    train_per_class: Annotated[
        int, Field(ge=50, le=200_000, description="synthetic training texts per class")
    ] = 2000

    @model_validator(mode="after")
    def _path_for_file(self) -> ModelRef:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs `path` to a skops model file")
        if self.source == "card" and self.card is None:
            raise ValueError("source 'card' needs a `card` describing the model")
        if self.source != "card" and self.card is not None:
            raise ValueError(f"card is only read with `source: card` (source is {self.source!r})")
        return self


class ScoreTarget(ConfigModel):
    """A prefilter threshold stated as a target precision or recall.

    It survives a model update: the raw score is recomputed for each model,
    by default on the stream's class mix.
    """

    precision: Annotated[
        Probability | None,
        Field(description="lowest threshold whose precision reaches this (most recall)"),
    ] = None
    recall: Annotated[
        Probability | None,
        Field(description="highest threshold whose recall stays at or above this (fewest flags)"),
    ] = None
    mix: Annotated[
        Literal["validation", "stream"],
        Field(
            description=(
                "class mix the target is met on: `stream` (the class mix the scenario's "
                "stream is expected to have, surges included, with the model's scores on "
                "stream-like texts or a card's stated ones: the precision the run will see) "
                "or `validation` (the model's validation sample as it is, often far richer "
                "in violating posts than a stream; not for a card)"
            )
        ),
    ] = "stream"

    @model_validator(mode="after")
    def _exactly_one(self) -> ScoreTarget:
        if (self.precision is None) == (self.recall is None):
            raise ValueError("give exactly one of `precision` or `recall`")
        target = self.precision if self.precision is not None else self.recall
        if target == 0:
            raise ValueError("a target of 0 says nothing; use a raw score of 0 instead")
        return self

    def describe(self) -> str:
        what = (
            f"precision {self.precision:g}"
            if self.precision is not None
            else f"recall {self.recall:g}"
        )
        return what + (" on the validation sample's class mix" if self.mix == "validation" else "")


def _threshold_kind(value: Any) -> str:
    return "[target]" if isinstance(value, dict | ScoreTarget) else "[score]"


# Tagged, so that a mistyped target is reported as a target error, not as "not a number".
# Tag names in brackets are dropped from error paths by the loader, like pydantic's own
# union member names, so messages name the YAML key alone.
Threshold = Annotated[
    Annotated[Probability, Tag("[score]")] | Annotated[ScoreTarget, Tag("[target]")],
    Discriminator(_threshold_kind),
]


class AreaModelRef(ConfigModel):
    """Which text model scores one policy area's posts (one model per area, one-vs-rest)."""

    source: Annotated[
        Literal["synthetic", "file"],
        Field(
            description=(
                "synthetic: one model per area of the scenario, trained at run start on the "
                "synthetic corpus (once per seed, shared by every area); file: a skops file "
                "of per-area models (`modsim classifier train --scenario ...` or --data with "
                "per-area labels) holding this area"
            )
        ),
    ] = "synthetic"
    path: Annotated[
        str | None, Field(description="model file (skops), relative to this policy file")
    ] = None
    train_per_class: Annotated[
        int, Field(ge=50, le=200_000, description="synthetic training texts per class")
    ] = 2000

    @model_validator(mode="after")
    def _path_for_file(self) -> AreaModelRef:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs `path` to a skops file of per-area models")
        if self.source == "synthetic" and self.path is not None:
            raise ValueError("path is only read with `source: file` (source is 'synthetic')")
        return self


class AreaScreen(ConfigModel):
    """One policy area's own prefilter: its card or text model, thresholds and review team."""

    card: Annotated[
        ClassifierCard | None,
        Field(
            description=(
                "the area's classifier card (or give `model`): its `violating` group is the "
                "area's classes; a post of another area scores as the card's legitimate posts "
                "do (its own `classes` entry, else `non_violating`); scores are drawn"
            )
        ),
    ] = None
    model: Annotated[
        AreaModelRef | None,
        Field(
            description=(
                "the area's text model (or give `card`): its positives are the area's "
                "classes, its negatives every other class; in text mode it scores each "
                "post's text, in scale mode scores are drawn from its scores on "
                "stream-like texts"
            )
        ),
    ] = None
    auto_remove_above: Annotated[
        Threshold, Field(description="as the prefilter's, for this area's score")
    ] = 0.98
    review_above: Annotated[
        Threshold, Field(description="as the prefilter's, for this area's score")
    ] = 0.8
    review_team: Annotated[
        Team | None,
        Field(description="who reviews this area's flags (null: the prefilter's review_team)"),
    ] = None

    _undeclared = omitted_when_none("card", "model")

    @model_validator(mode="after")
    def _targets(self) -> AreaScreen:
        if (self.card is None) == (self.model is None):
            raise ValueError("give the area a `card` or a text `model`, exactly one")
        if self.card is not None:
            card_targets_on_the_stream(self.auto_remove_above, self.review_above)
        review_below_removal(self.auto_remove_above, self.review_above)
        return self


class Prefilter(ConfigModel):
    """An AI classifier that scores every post for violent content."""

    enabled: bool = False
    model: ModelRef = ModelRef()
    auto_remove_above: Annotated[
        Threshold,
        Field(
            description=(
                "score at or above which a post is removed automatically; or a target "
                "such as `{precision: 0.95}`, met on the stream's expected class mix"
            )
        ),
    ] = 0.98
    review_above: Annotated[
        Threshold,
        Field(
            description=(
                "score at or above which a post is sent to human review; or a target "
                "such as `{recall: 0.9}`"
            )
        ),
    ] = 0.8
    timing: Annotated[
        Literal["pre_publication", "post_publication"],
        Field(description="pre: removed before anyone sees it; post: after `delay_minutes`"),
    ] = "post_publication"
    delay_minutes: Annotated[float, Field(ge=0, description="scoring delay after publication")] = (
        5.0
    )
    review_team: Annotated[Team, Field(description="who reviews flagged posts")] = "staff"
    areas: Annotated[
        dict[str, AreaScreen] | None,
        Field(
            description=(
                "per policy area of the scenario: its own card, thresholds and review team; "
                "the prefilter then screens these areas only, each post scored by every "
                "area's card (null: one model and one pair of thresholds for every area)"
            )
        ),
    ] = None

    _undeclared = omitted_when_none("areas")

    @model_validator(mode="after")
    def _areas_alone(self) -> Prefilter:
        if self.areas is None:
            return self
        if not self.areas:
            raise ValueError("areas is empty: name at least one area, or leave `areas` out")
        # compared with the defaults, not `model_fields_set`: a document set field by
        # field (a sweep) is rebuilt from all of its fields
        fields = type(self).model_fields
        both = [
            k
            for k in ("model", "auto_remove_above", "review_above")
            if getattr(self, k) != fields[k].get_default(call_default_factory=True)
        ]
        if both:
            raise ValueError(
                f"{both[0]} is for a prefilter without `areas`: with `areas`, each area "
                "gives its own card and thresholds"
            )
        return self

    def stream_targets(self) -> list[str]:
        """The thresholds stated as targets on the stream's class mix."""
        return [
            name
            for name in ("auto_remove_above", "review_above")
            if isinstance(t := getattr(self, name), ScoreTarget) and t.mix == "stream"
        ]

    @model_validator(mode="after")
    def _card_targets_on_the_stream(self) -> Prefilter:
        if self.model.source == "card":
            card_targets_on_the_stream(self.auto_remove_above, self.review_above)
        return self

    @model_validator(mode="after")
    def _ordered(self) -> Prefilter:
        # targets are only resolved against a model at run start (stages.prefilter)
        review_below_removal(self.auto_remove_above, self.review_above)
        return self


def card_targets_on_the_stream(auto_remove_above: object, review_above: object) -> None:
    """A card's thresholds stated as targets are met on the stream's mix: it has no
    validation sample (ValueError otherwise)."""
    for name, value in (("auto_remove_above", auto_remove_above), ("review_above", review_above)):
        if isinstance(value, ScoreTarget) and value.mix == "validation":
            raise ValueError(
                f"{name}.mix is `validation`, but a card has no validation sample: its "
                "targets are met on the stream's class mix (leave `mix` out)"
            )


def review_below_removal(auto_remove_above: object, review_above: object) -> None:
    """Raw thresholds in order: review at or below removal (ValueError otherwise)."""
    if (
        isinstance(review_above, float)
        and isinstance(auto_remove_above, float)
        and review_above > auto_remove_above
    ):
        raise ValueError(
            f"review_above ({review_above}) is above auto_remove_above "
            f"({auto_remove_above}); the review threshold must be the lower one"
        )
