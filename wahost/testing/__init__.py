"""Testing wahost and its plugins with real parts.

* :class:`BotHarness` — a real host on a real loopback HTTP server, fed signed webhooks.
* :func:`sign`, :func:`load_fixture`, :func:`fixture_names` — signed bodies and the shipped
  Cloud API fixtures (``wahost/testing/fixtures``).
* :class:`FakeGraph` — a fake Graph API on loopback that answers like Meta, records what it
  received and fails on demand; :func:`make_text`, :func:`make_status`, :func:`make_webhook`,
  :func:`signed_webhook` build webhook payloads.
* :mod:`wahost.testing.contracts` — the contract suite every queue and state backend passes.
* The pytest plugin (installed with wahost): fixtures ``wahost_bot``, ``wahost_app``,
  ``fake_graph``, ``signed_webhook`` and ``wahost_fixture``.
"""

from typing import Any

_HARNESS = {
    "TEST_APP_SECRET",
    "TEST_PHONE_NUMBER_ID",
    "TEST_TOKEN",
    "TEST_VERIFY_TOKEN",
    "BotHarness",
    "fixture_names",
    "load_fixture",
    "make_config",
    "sign",
}
_PAYLOADS = {
    "make_interactive_reply",
    "make_message",
    "make_status",
    "make_text",
    "make_webhook",
    "signed_webhook",
}

__all__ = [
    "TEST_APP_SECRET",
    "TEST_PHONE_NUMBER_ID",
    "TEST_TOKEN",
    "TEST_VERIFY_TOKEN",
    "BotHarness",
    "FakeGraph",
    "fixture_names",
    "load_fixture",
    "make_config",
    "make_interactive_reply",
    "make_message",
    "make_status",
    "make_text",
    "make_webhook",
    "sign",
    "signed_webhook",
]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing ``wahost.testing.contracts`` (a backend's test suite) does not
    # import the whole host.
    if name in _HARNESS:
        from wahost.testing import harness

        return getattr(harness, name)
    if name in _PAYLOADS:
        from wahost.testing import payloads

        return getattr(payloads, name)
    if name == "FakeGraph":
        from wahost.testing.fake_graph import FakeGraph

        return FakeGraph
    raise AttributeError(name)
