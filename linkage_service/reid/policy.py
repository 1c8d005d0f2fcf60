"""Limits of the re-identification workflow, read from the service settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from vinculo_common.errors import ConfigError

if TYPE_CHECKING:
    from linkage_service.settings import Settings

__all__ = ["ReidPolicy", "policy_from_settings"]


@dataclass(frozen=True)
class ReidPolicy:
    """Limits: persons per request, requests per requester per day, lifetime of a request,
    and above how many persons a request needs two approvals (None: never).

    >>> ReidPolicy().approvals_for(persons=3)
    1
    >>> ReidPolicy(second_approval_above=2).approvals_for(persons=3)
    2
    """

    max_persons: int = 20
    max_requests_per_day: int = 10
    ttl: timedelta = timedelta(days=7)
    second_approval_above: int | None = 5

    def __post_init__(self) -> None:
        if self.max_persons < 1 or self.max_requests_per_day < 1:
            raise ConfigError("reid: max_persons y max_requests_per_day deben ser ≥ 1")
        if self.ttl <= timedelta(0):
            raise ConfigError("reid: la vigencia de una solicitud debe ser positiva")
        if self.second_approval_above is not None and self.second_approval_above < 0:
            raise ConfigError("reid: second_approval_above debe ser ≥ 0")

    def approvals_for(self, *, persons: int) -> int:
        above = self.second_approval_above
        return 2 if above is not None and persons > above else 1


def policy_from_settings(settings: Settings) -> ReidPolicy:
    """The policy from the ``reid_*`` settings (a negative ``reid_second_approval_above`` turns
    the second approval off)."""
    above = settings.reid_second_approval_above
    return ReidPolicy(
        max_persons=settings.reid_max_persons,
        max_requests_per_day=settings.reid_max_requests_per_day,
        ttl=timedelta(hours=settings.reid_ttl_hours),
        second_approval_above=None if above < 0 else above,
    )
