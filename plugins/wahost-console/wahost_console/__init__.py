"""wahost-console: the web console at ``/-/console`` — queue, dead units, quarantine,
conversations, message statuses, plugins, and the simulator's chat in a browser.

Found through the ``wahost`` entry-point group. It does nothing unless ``[console] enabled =
true`` (the core's configuration, :class:`wahost.config.ConsoleConfig`), and then is never
served without a token or a username and password. See the README.
"""

from wahost_console.journal import NAMESPACE, Entry, Journal, Recent, SentRecord
from wahost_console.plugin import (
    before_message,
    on_message_sent,
    on_status,
    on_webhook_error,
    register_routes,
    wahost_shutdown,
    wahost_startup,
)
from wahost_console.web import PREFIX, Console, console_of, url

__all__ = [
    "NAMESPACE",
    "PREFIX",
    "Console",
    "Entry",
    "Journal",
    "Recent",
    "SentRecord",
    "before_message",
    "console_of",
    "on_message_sent",
    "on_status",
    "on_webhook_error",
    "register_routes",
    "url",
    "wahost_shutdown",
    "wahost_startup",
]
