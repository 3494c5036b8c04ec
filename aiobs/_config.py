"""A collector's settings: one frozen object built from defaults and the environment.

``Collector.configure(...)`` checks its arguments here and swaps in a new :class:`Settings`
(:meth:`Settings.replace`); ``Collector.reset()`` assigns a fresh one (:meth:`Settings.from_env`).
Nothing is cleared by hand, so a setting added here is reset everywhere at once::

    settings = Settings.from_env()
    settings = settings.replace(flush_every=500)   # checked; a new object, the old one unchanged

Environment variables (:mod:`aiobs._env`) are read when the settings are built, except those that
are documented as read at their use (the API key, the flush server URL, the pricing file).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import _env
from ._capture import DEFAULT_CAPTURER, CaptureLimits, Capturer
from .pricing import Pricing, PricingError
from .redaction import Redaction

logger = logging.getLogger("aiobs")

DEFAULT_MAX_BUFFERED_EVENTS = 100_000
DEFAULT_EXIT_TIMEOUT = 5.0
DEFAULT_RETRY_SECONDS = 30.0
"""Default wait before undelivered documents are offered again in the background."""

PricingSource = str | Path | Mapping[str, Any] | Pricing
"""What ``configure(pricing=...)`` takes: a JSON file, its contents, or a ready table."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything ``configure()`` can set, checked; replaced as a whole, never changed in place.

    See :meth:`aiobs.Collector.configure` for what each setting does.
    """

    capturer: Capturer = DEFAULT_CAPTURER
    max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS
    flush_at_exit: bool = True
    propagate_to_threads: bool = True
    auto_instrument: bool = True
    openai_stream_usage: bool = False
    estimate_usage: bool = False
    pricing: Pricing | None = None
    """A table given to ``configure``; ``None``: the shipped one (+ ``AIOBS_PRICING_FILE``)."""
    flush_server_url: str | None = None
    """Set by ``configure``; ``None``: ``AIOBS_FLUSH_SERVER_URL``, read at each use."""
    flush_interval: float | None = None
    flush_every: int | None = None
    exit_timeout: float = DEFAULT_EXIT_TIMEOUT
    delivery_retry_interval: float = DEFAULT_RETRY_SECONDS
    evaluators: tuple[Any, ...] = ()
    """Evaluators (``aiobs.evals.BaseEval``) run over each flushed document; none by default."""
    eval_sample_rate: float = 1.0
    """The share of a flushed document's events that :attr:`evaluators` judge."""
    _resolved: dict[str, Any] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Derived values computed on first use (the default pricing table)."""

    @classmethod
    def from_env(cls) -> Settings:
        """The defaults, overridden by the environment; a bad value is logged and ignored."""
        return cls(
            max_buffered_events=_from_env(
                _env.get_positive_int, _env.MAX_BUFFERED_EVENTS, DEFAULT_MAX_BUFFERED_EVENTS
            ),
            flush_at_exit=_from_env(_env.get_bool, _env.FLUSH_AT_EXIT, True),
            propagate_to_threads=_from_env(_env.get_bool, _env.PROPAGATE_TO_THREADS, True),
            auto_instrument=_from_env(_env.get_bool, _env.AUTO_INSTRUMENT, True),
            openai_stream_usage=_from_env(_env.get_bool, _env.OPENAI_STREAM_USAGE, False),
            estimate_usage=_from_env(_env.get_bool, _env.ESTIMATE_USAGE, False),
        )

    def replace(
        self,
        *,
        capture_limits: CaptureLimits | None = None,
        redaction: Redaction | None = None,
        max_buffered_events: int | None = None,
        flush_at_exit: bool | None = None,
        propagate_to_threads: bool | None = None,
        auto_instrument: bool | None = None,
        openai_stream_usage: bool | None = None,
        estimate_usage: bool | None = None,
        pricing: PricingSource | None = None,
        flush_server_url: str | None = None,
        flush_interval: float | None = None,
        flush_every: int | None = None,
        exit_timeout: float | None = None,
        delivery_retry_interval: float | None = None,
        evaluators: Sequence[Any] | None = None,
        eval_sample_rate: float | None = None,
    ) -> Settings:
        """These settings with the given ones changed (``None`` keeps a setting), all checked.

        ``flush_interval=0`` and ``flush_every=0`` turn those off.

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: a number is out of range or the URL is not http(s).
            aiobs.pricing.PricingError: the pricing table is malformed or unreadable.
        """
        _check_type("capture_limits", capture_limits, CaptureLimits, "an aiobs.CaptureLimits")
        _check_type("redaction", redaction, Redaction, "an aiobs.Redaction")
        changes: dict[str, Any] = _checked_numbers(
            max_buffered_events, flush_interval, flush_every, exit_timeout, delivery_retry_interval
        )
        if capture_limits is not None or redaction is not None:
            changes["capturer"] = Capturer(
                capture_limits or self.capturer.limits, redaction or self.capturer.redaction
            )
        for name, flag in (
            ("flush_at_exit", flush_at_exit),
            ("propagate_to_threads", propagate_to_threads),
            ("auto_instrument", auto_instrument),
            ("openai_stream_usage", openai_stream_usage),
            ("estimate_usage", estimate_usage),
        ):
            if flag is not None:
                if not isinstance(flag, bool):
                    raise TypeError(f"{name} must be True or False, got {flag!r}")
                changes[name] = flag
        if evaluators is not None:
            changes["evaluators"] = _checked_evaluators(evaluators)
        if eval_sample_rate is not None:
            if (
                isinstance(eval_sample_rate, bool)
                or not isinstance(eval_sample_rate, int | float)
                or not 0.0 <= eval_sample_rate <= 1.0
            ):
                raise ValueError(
                    "eval_sample_rate must be a number from 0 to 1 (the share of flushed events "
                    f"evaluated), got {eval_sample_rate!r}"
                )
            changes["eval_sample_rate"] = float(eval_sample_rate)
        if pricing is not None:
            changes["pricing"] = (
                pricing
                if isinstance(pricing, Pricing)
                else Pricing.default().extended(Pricing.load(pricing))
            )
        if flush_server_url is not None:
            if not isinstance(flush_server_url, str) or not flush_server_url.startswith(
                ("http://", "https://")
            ):
                raise ValueError(
                    "flush_server_url must be an http(s) URL, e.g. https://aiobs.example.com, "
                    f"got {flush_server_url!r}"
                )
            changes["flush_server_url"] = flush_server_url
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def background(self) -> bool:
        """Whether periodic or size-based background flushing is on."""
        return self.flush_interval is not None or self.flush_every is not None

    @property
    def price_table(self) -> Pricing:
        """The model prices that events' costs are computed from."""
        table = self.pricing or self._resolved.get("pricing")
        if table is None:
            table = Pricing.default()
            extra = os.environ.get(_env.PRICING_FILE)
            if extra:
                try:
                    table = table.extended(Pricing.load(extra))
                except PricingError as exc:
                    logger.error("aiobs: ignoring %s (%s)", _env.PRICING_FILE, exc)
            self._resolved["pricing"] = table
        return table

    def server_url(self) -> str | None:
        """The flush server: the configured URL, else ``AIOBS_FLUSH_SERVER_URL``."""
        return self.flush_server_url or os.environ.get(_env.FLUSH_SERVER_URL) or None


def _from_env(read: Callable[[str, T], T], name: str, default: T) -> T:
    """Read an environment setting; a bad value is logged, not raised, so imports never fail."""
    try:
        return read(name, default)
    except ValueError as exc:
        logger.error("aiobs: ignoring %s (%s); using %r", name, exc, default)
        return default


def propagate_to_threads_from_env() -> bool:
    """``AIOBS_PROPAGATE_TO_THREADS``, or on (a bad value is logged)."""
    return _from_env(_env.get_bool, _env.PROPAGATE_TO_THREADS, True)


def _checked_numbers(
    max_buffered_events: int | None,
    flush_interval: float | None,
    flush_every: int | None,
    exit_timeout: float | None,
    delivery_retry_interval: float | None,
) -> dict[str, Any]:
    """The numeric settings given to :meth:`Settings.replace`, checked (``0`` turns off)."""
    changes: dict[str, Any] = {}
    if max_buffered_events is not None:
        if type(max_buffered_events) is not int or max_buffered_events <= 0:
            raise ValueError(
                f"max_buffered_events must be a positive int, got {max_buffered_events!r}"
            )
        changes["max_buffered_events"] = max_buffered_events
    for name, seconds in (
        ("flush_interval", flush_interval),
        ("exit_timeout", exit_timeout),
        ("delivery_retry_interval", delivery_retry_interval),
    ):
        if seconds is not None:
            changes[name] = _seconds(name, seconds)
    if "flush_interval" in changes:
        changes["flush_interval"] = changes["flush_interval"] or None
    if flush_every is not None:
        if type(flush_every) is not int or flush_every < 0:
            raise ValueError(f"flush_every must be a number of events >= 0, got {flush_every!r}")
        changes["flush_every"] = flush_every or None
    return changes


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _checked_evaluators(evaluators: Sequence[Any]) -> tuple[Any, ...]:
    """The evaluators as a tuple, each checked to be an evaluator (``[]`` turns them off)."""
    if isinstance(evaluators, str | bytes) or not isinstance(evaluators, Sequence):
        raise TypeError(
            "evaluators must be a list of aiobs.evals evaluators, e.g. "
            f"[PIIDetectionEval.default()], got {type(evaluators).__name__}"
        )
    for evaluator in evaluators:
        if not callable(getattr(evaluator, "evaluate", None)) or not callable(evaluator):
            raise TypeError(
                f"evaluators: {evaluator!r} is not an evaluator; give instances of "
                "aiobs.evals classes (such as RegexAssertion.from_patterns(patterns=[...]))"
            )
    return tuple(evaluators)


def _check_type(name: str, value: object, expected: type, description: str) -> None:
    if value is not None and not isinstance(value, expected):
        raise TypeError(f"{name} must be {description}, got {type(value).__name__}")
