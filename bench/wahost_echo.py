"""``wahost serve`` with the echo plugin registered explicitly (no entry point needed).

python -m bench.wahost_echo CONFIG.toml
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench import echo_plugin
from wahost.commands import configure_command_logging, event_loop_factory, load_command_config
from wahost.host import Wahost
from wahost.server import serve


def main() -> None:
    import asyncio

    config = load_command_config(Path(sys.argv[1]))
    configure_command_logging(config)
    host = Wahost(config, plugins=(echo_plugin,))
    factory = event_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(host, with_worker=config.worker.enabled))


if __name__ == "__main__":
    main()
