"""The simulated providers, listed explicitly: a new one is its module and one line here.

Order matters only for what is shown: the config's profiles and the default scenario follow it.
"""

from collections.abc import Mapping

from opwatch.simulator.providers.base import SimProvider
from opwatch.simulator.providers.declared import DECLARED
from opwatch.simulator.providers.toloka import TOLOKA
from opwatch.simulator.providers.trafficops import TRAFFICOPS
from opwatch.simulator.providers.wesog import WESOG

PROVIDERS: tuple[SimProvider, ...] = (WESOG, TOLOKA, TRAFFICOPS, *DECLARED)

BY_NAME: Mapping[str, SimProvider] = {provider.name: provider for provider in PROVIDERS}
ROUTES = tuple(route for provider in PROVIDERS for route in provider.routes)
"""Every route name a fault or a statistic may name."""
LOGIN_ROUTES = frozenset(route for provider in PROVIDERS for route in provider.login_routes)


def provider_named(name: str) -> SimProvider:
    """The provider called `name`; ValueError naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"provider must be one of {', '.join(BY_NAME)}, not {name!r}") from None


__all__ = ["BY_NAME", "LOGIN_ROUTES", "PROVIDERS", "ROUTES", "SimProvider", "provider_named"]
