"""The composition root: the only module that knows every adapter.

``build(settings)`` returns a resolved :class:`Container`; the CLI, the HTTP service, a
notebook and the tests all start here with different settings.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from qwentrade.adapters.http.app import HttpSettings, create_app
from qwentrade.app.services import Services
from qwentrade.app.settings import Settings
from qwentrade.app.system import SystemService


def _http_settings(settings: Settings) -> HttpSettings:
    return HttpSettings(api_key=settings.api_key.reveal() if settings.api_key else None)


class Container(containers.DeclarativeContainer):
    """Providers from settings to services; singletons are created once per container."""

    settings = providers.Dependency(instance_of=Settings)
    system = providers.Singleton(
        SystemService, mode=providers.Callable(lambda s: s.mode.value, settings)
    )
    services = providers.Singleton(Services, system=system)
    http_settings = providers.Singleton(_http_settings, settings)
    http_app = providers.Singleton(create_app, services, http_settings)


def build(settings: Settings) -> Container:
    """A container for ``settings`` with every service resolved (before threads start)."""
    container = Container(settings=settings)
    container.services()
    return container
