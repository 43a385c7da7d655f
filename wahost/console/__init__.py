"""The web console at ``/-/console``: queue, dead units, quarantine, conversations, message
statuses, plugins, and the simulator's chat in a browser.

Off unless ``[console] enabled = true``, and then never without a token or a username and
password. Registered in every host as the built-in plugin :mod:`wahost.console.plugin`.
"""
