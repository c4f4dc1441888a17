"""The built-in providers, listed explicitly: adding one is its module and one line here.

A provider's module is loaded the first time something asks for it (a profile that names it, a
REF of such a profile), so `--version`, `--help` and a config of one provider load no other.
"""

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opwatch.providers.base import Provider, ProviderSpec

_WHERE = {
    # name (a profile's `provider:`): "module:class"
    "wesog": "opwatch.providers.wesog:WesogProvider",
    "toloka": "opwatch.providers.toloka:TolokaProvider",
    "trafficops": "opwatch.providers.trafficops:TrafficOpsProvider",
}


_DECLARED: "dict[str, type[Provider]]" = {}
"""Providers declared in YAML by the config loaded (opwatch.providers.declared), by name."""


def register_declared(cls: "type[Provider]") -> None:
    """Serve a declared provider by its name, like a built-in one (config calls this)."""
    _DECLARED[cls.spec.name] = cls


def provider_class(name: str) -> "type[Provider]":
    """The Provider subclass for the provider called `name` in the config (KeyError if none)."""
    if name not in _WHERE and name in _DECLARED:
        return _DECLARED[name]
    module, _, attribute = _WHERE[name].partition(":")
    found: type[Provider] = getattr(import_module(module), attribute)
    return found


class _Specs(Mapping[str, "ProviderSpec"]):
    """Every built-in provider's spec by name; names are known without loading any module."""

    def __getitem__(self, name: str) -> "ProviderSpec":
        return provider_class(name).spec

    def __contains__(self, name: object) -> bool:
        return name in _WHERE

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


BUILTIN: Mapping[str, "ProviderSpec"] = _Specs()
"""Every provider a profile can name, by its `provider:` value, in the order messages list them."""
