"""Testing wahost and its plugins with real parts.

* :class:`BotHarness` — a real host on a real loopback HTTP server, fed signed webhooks.
* :func:`sign`, :func:`load_fixture`, :func:`fixture_names` — signed bodies and the shipped
  Cloud API fixtures (``wahost/testing/fixtures``).
* :mod:`wahost.testing.contracts` — the contract suite every queue and state backend passes.
* The pytest plugin (installed with wahost): fixtures ``wahost_bot`` and ``wahost_fixture``.
"""

from typing import Any

__all__ = [
    "TEST_APP_SECRET",
    "TEST_PHONE_NUMBER_ID",
    "TEST_TOKEN",
    "TEST_VERIFY_TOKEN",
    "BotHarness",
    "fixture_names",
    "load_fixture",
    "make_config",
    "sign",
]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing ``wahost.testing.contracts`` (a backend's test suite) does not
    # import the whole host.
    if name in __all__:
        from wahost.testing import harness

        return getattr(harness, name)
    raise AttributeError(name)
