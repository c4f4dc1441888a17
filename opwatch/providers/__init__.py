"""The built-in providers, imported only when a profile needs one."""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opwatch.providers.base import Provider

_MODULES = {"wesog": "wesog", "toloka": "toloka", "trafficops": "trafficops"}


def provider_class(name: str) -> "type[Provider]":
    """The Provider subclass for the provider called `name` in the config."""
    module = import_module(f"opwatch.providers.{_MODULES[name]}")
    cls: type[Provider] = module.PROVIDER
    return cls
