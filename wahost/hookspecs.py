"""The complete reference of wahost's hooks, for plugin authors.

A plugin is a plain module (or object) with functions decorated with :data:`hookimpl`, named
after the hooks below, and listed under the ``wahost`` entry-point group of its distribution::

    # pyproject.toml
    [project.entry-points.wahost]
    wahost-echo = "wahost_echo"

    # wahost_echo.py
    from wahost import hookimpl

    @hookimpl
    async def on_message(message, ctx):
        if message.type == "text":
            await ctx.reply(text=message.text.body)
            return True

An implementation takes only the arguments it needs, by name. Every hook may be implemented
with ``async def`` unless its documentation says *start-up, sync only*. wahost never lets pluggy
call the runtime hooks itself: its dispatcher (:mod:`wahost.dispatch`) walks the
implementations in pluggy's call order (``tryfirst`` first, then the most recently registered,
``trylast`` last), awaits each result and applies the hook's **mode**:

* **broadcast** — every implementation runs, even when another one raised. If any raised, the
  unit being handled is retried afterwards (so a broadcast implementation should be idempotent).
* **first** — implementations run in order until one returns a value that is not ``None``
  (after awaiting it); that value is the result. An exception stops the walk and the unit is
  retried.
* **collect** — every implementation runs (synchronously, at start-up); the non-``None``
  results are gathered.

An exception raised by an implementation is logged with the plugin's name and reported
through :func:`on_plugin_error`; it never stops the host.

An implementation its plugin has skipped (``host.dispatch.skip(function, ...)``, at start-up,
when nothing is configured for it on this host) is left out of every later call of its hook;
see [Nothing configured, nothing paid](plugins.md#nothing-configured-nothing-paid).

The arguments every runtime hook may take:

* ``host`` — the running :class:`wahost.Wahost` (config, queue, state store, client, plugins;
  ``host.plugin_config(name, Schema)``, the plugin's typed settings; ``host.slots``, what
  plugins share for the host's life).
* ``ctx`` — the :class:`wahost.Context` of the unit being handled: ``ctx.reply(...)``,
  ``ctx.send(...)``, ``ctx.state`` (the conversation's state, committed with the unit's ack),
  ``ctx.client``, ``ctx.log`` (a structlog logger bound to the unit), ``ctx.unit``,
  ``ctx.slots`` (what plugins share about this unit).

What plugins share goes in typed slots (:class:`wahost.SlotKey`), each owned by the plugin that
made its key: ``host.slots[KEY]`` / ``ctx.slots[KEY]``, checked by mypy on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pluggy

if TYPE_CHECKING:
    import click
    import msgspec

    from wahost.context import Context
    from wahost.graph import SendCheck, SentMessage
    from wahost.host import Wahost
    from wahost.models import Event, Message, Status, WebhookError
    from wahost.pacing import SendPacer
    from wahost.queue.base import QueueBackend
    from wahost.state.base import StateStore
    from wahost.units import Unit
    from wahost.web import Route

PROJECT = "wahost"

#: Marks a function as a hook specification (used here and by plugins adding their own hooks).
hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin function as the implementation of the hook with the same name.
hookimpl = pluggy.HookimplMarker(PROJECT)

Mode = Literal["broadcast", "first", "collect"]
_F = TypeVar("_F", bound=Callable[..., Any])

#: The dispatch mode of every hook, by name. Hooks added by plugins default to broadcast.
MODES: dict[str, Mode] = {}


def _spec(mode: Mode, *, deprecated: str | None = None) -> Callable[[_F], _F]:
    """A core hook of ``mode``; ``deprecated`` (what to use instead) marks it deprecated: the
    docstring must then say **Deprecated:** too (docs/versioning.md)."""

    def mark(fn: _F) -> _F:
        MODES[fn.__name__] = mode
        if deprecated is None:
            return hookspec(fn)
        return hookspec(warn_on_impl=DeprecationWarning(deprecated))(fn)

    return mark


# -- start-up and shutdown ----------------------------------------------------------------


@_spec("collect")
def wahost_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Add a plugin's own hook specifications, for other plugins to implement.

    **When:** right after all plugins are registered, before hook names are checked.
    *Start-up, sync only.* **Mode:** collect (the return value is ignored).

    Call ``pluginmanager.add_hookspecs(my_hookspecs_module)``. Implementations of hooks that
    may not be installed should use ``@hookimpl(optionalhook=True)``.
    """


@_spec("collect")
def wahost_config_schema() -> Mapping[str, type[msgspec.Struct]] | None:
    """Declare the configuration tables this plugin reads.

    **When:** at start-up, before anything else runs. *Start-up, sync only.* **Mode:** collect.

    **Returns:** a mapping from table name to a msgspec ``Struct`` type, e.g.
    ``{"state_machine": StateMachineConfig}`` for ``[plugins.state_machine]``. The table is
    validated against the struct at start-up (an error names the file, key and reason) and the
    decoded struct is available as ``host.plugin_config("state_machine", StateMachineConfig)``
    (typed as the struct). A table that no plugin declares is an error, so a typo cannot pass
    silently.
    """


@_spec("broadcast")
async def wahost_startup(host: Wahost) -> None:
    """Open the plugin's resources (connections, files, caches).

    **When:** once, after the queue and state store are open and before the first webhook is
    accepted. **Mode:** broadcast, but an exception here *stops the host* (fail loudly at
    start-up): the error is logged with the plugin's name and ``wahost serve`` exits non-zero.
    ``wahost check`` runs it too (then ``wahost_shutdown``), with a Graph API client that
    refuses every request, so that it reports what would stop ``serve``: check the plugin's
    configuration here, and let work that sends (a push at start) fail without stopping.
    """


@_spec("broadcast")
async def wahost_shutdown(host: Wahost) -> None:
    """Close the plugin's resources.

    **When:** once, after the worker stopped and before the stores close (SIGTERM, SIGINT, end
    of a test). **Mode:** broadcast; exceptions are logged and the others still run.
    """


@_spec("first")
def wahost_queue_backend(host: Wahost, config: Any) -> QueueBackend | None:
    """Provide the queue backend named in ``[queue] backend``.

    **When:** at start-up. *Sync.* **Mode:** first.

    **Arguments:** ``config`` is the ``[queue]`` section (``config.backend`` is the name,
    ``config.url`` / ``config.path`` its location).
    **Returns:** an unopened :class:`wahost.queue.QueueBackend` when ``config.backend`` is this
    plugin's name, else ``None``. The built-in ``sqlite`` and ``memory`` backends are
    ``trylast`` implementations, so a plugin can replace them.
    """


@_spec("first")
def wahost_state_store(host: Wahost, config: Any) -> StateStore | None:
    """Provide the state store named in ``[state] backend``.

    **When:** at start-up, after the queue. *Sync.* **Mode:** first.

    **Arguments:** ``config`` is the ``[state]`` section. **Returns:** an unopened
    :class:`wahost.state.StateStore` when ``config.backend`` is this plugin's name, else
    ``None``.
    """


@_spec("first")
def wahost_rate_limiter(host: Wahost, config: Any) -> SendPacer | None:
    """Provide the pacing of the Graph API client: Meta's throughput cap per phone number and
    the spacing of sends to one recipient, shared by every process that sends when the
    deployment has several.

    **When:** at start-up, after the queue and the state store are chosen and before
    ``wahost_startup``. *Sync.* **Mode:** first.

    **Arguments:** ``config`` is the ``[graph]`` section (``config.messages_per_second``,
    ``config.recipient_interval``, ``config.timeout``); ``host.config`` has the rest (the
    ``[queue]`` backend this plugin may share a server with).
    **Returns:** a :class:`wahost.pacing.SendPacer` when this plugin paces this deployment,
    else ``None``. It must hold a throughput slot from its grant until ``period`` seconds after
    its request was answered (Meta counts arrivals). The built-in implementation (``trylast``)
    returns a :class:`wahost.pacing.LocalPacer`, this process's own limiters; ``wahost-redis``
    returns one shared through Redis when ``[queue] backend = "redis"``. The client closes it
    (``aclose``) when the host stops.
    """


@_spec("collect")
def register_routes(host: Wahost) -> Iterable[Route] | None:
    """Add HTTP routes to the host's web app (a Flows endpoint, a status API, a console).

    **When:** at app creation. *Start-up, sync only.* **Mode:** collect.

    **Returns:** an iterable of :class:`wahost.Route` (path, async view function, methods). The
    view functions are Quart views: use ``quart.request`` and return a Quart response value.
    The webhook path, ``/healthz``, ``/healthz/graph`` and ``/readyz`` belong to the core and
    cannot be taken.
    """


@_spec("collect")
def wahost_send_checks(host: Wahost) -> Iterable[SendCheck] | None:
    """Check every message before it is sent (a template against its approved definition, a
    marketing message against the user's choice, a house rule).

    **When:** once, when the host starts, after ``wahost_startup``. *Sync only.*
    **Mode:** collect.

    **Returns:** callables ``check(to, message)``, each called with the recipient and the
    built :class:`wahost.outbound.Outbound` message before every send of the Graph API client
    (``ctx.send``, ``ctx.reply``, ``host.send``), in plugin order, before any request. A check
    refuses a send by raising an exception that names what is wrong (a ``ValueError``
    subclass, say); it reaches the caller as it is, and inside a unit fails the unit like any
    error of its handler. Checks must be quick (no network, no waiting): they run on every
    send.
    """


@_spec("collect")
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``wahost`` command line (``wahost flows keygen``, ...).

    **When:** when the ``wahost`` command starts, before it parses its arguments. *Sync only.*
    **Mode:** collect (the return value is ignored).

    **Arguments:** ``cli`` is the root ``click.Group``: call ``cli.add_command(...)``.
    """


# -- handling units -----------------------------------------------------------------------


@_spec("broadcast")
async def before_message(host: Wahost, message: Message, ctx: Context) -> None:
    """Prepare or observe an inbound message before any plugin handles it (middleware: a
    journal, a download, a recognised command, metrics).

    **When:** once per inbound message unit, before :func:`on_message`, in the same
    conversation order. **Mode:** broadcast — every implementation runs and the return value
    is ignored: a ``before_message`` implementation cannot handle or drop the message. If any
    raised, ``on_message`` is not called and the unit is retried (so keep it idempotent).

    This is where the first-party middleware runs (the console's journal, the media plugin's
    download, the profile plugin's commands). To keep a message from one router's handlers,
    use that router's ``before`` function instead (:mod:`wahost.router`).
    """


@_spec("first")
async def on_message(host: Wahost, message: Message, ctx: Context) -> Any:
    """Handle an inbound message.

    **When:** once per inbound message unit (at-least-once: again if the unit is retried),
    one at a time and in arrival order per conversation ``(phone_number_id, user)``, after
    :func:`before_message`. **Mode:** first — implementations are called in order until one
    returns a value that is not ``None``; return ``True`` (or any value) when you handled the
    message, ``None`` to let the next plugin try. If none handles it, :func:`on_unhandled` is
    called. A :class:`wahost.Router` implements it for its message handlers.

    **Arguments:** ``message`` is a typed :class:`wahost.models.Message` subclass
    (``message.type``, ``message.id``, ``message.sender``, ``message.text.body`` for text, ...);
    an unknown type arrives as :class:`wahost.models.UnknownMessage` with its raw payload.
    """


@_spec("broadcast")
async def on_status(host: Wahost, status: Status, ctx: Context) -> None:
    """React to a status of a message the business sent (sent, delivered, read, played, failed).

    **When:** once per status unit, in the recipient's conversation order. Statuses arrive out
    of order and duplicated across webhooks (``(wamid, status)`` is deduplicated by the
    queue). **Mode:** broadcast.
    """


@_spec("broadcast")
async def on_event(host: Wahost, event: Event, ctx: Context) -> None:
    """React to any other webhook field: template status updates, Flow alerts and status
    changes, account updates, or fields wahost does not know yet.

    **When:** once per change. ``event.field`` names the webhook field, ``event.value`` is typed
    where wahost knows the field, and ``event.raw`` is always the raw ``value`` dict.
    **Mode:** broadcast.
    """


@_spec("broadcast")
async def on_webhook_error(host: Wahost, error: WebhookError, ctx: Context) -> None:
    """React to a value-level error Meta reported in a ``messages`` webhook (``value.errors``),
    e.g. a system or account problem not tied to one message.

    **When:** once per error. **Mode:** broadcast. (Errors of a status arrive in
    :func:`on_status`, errors of an unsupported message in :func:`on_message`.)
    """


@_spec("first")
async def on_unhandled(host: Wahost, message: Message, ctx: Context) -> Any:
    """Handle a message that no :func:`on_message` implementation handled.

    **When:** after every ``on_message`` implementation returned ``None``. **Mode:** first.
    The built-in fallback (``trylast``) logs the message type and sender.
    """


@_spec("broadcast")
async def on_message_sent(host: Wahost, sent: SentMessage, ctx: Context | None) -> None:
    """Observe a message the host sent and Meta accepted (status tracking, audit, metrics).

    **When:** after every send through ``ctx.send`` / ``ctx.reply`` (``ctx`` is the unit's) or
    ``host.send`` (``ctx`` is ``None``) that Meta answered with a wamid. Not called again when
    the reply outbox skips a send already made before a crash. **Mode:** broadcast.

    **Arguments:** ``sent`` is a :class:`wahost.graph.SentMessage`: ``sent.id`` (the wamid),
    ``sent.to``, ``sent.phone_number_id``, ``sent.callback_data`` (the encoded tracker),
    ``sent.ambiguous`` (an earlier attempt may have been delivered too).
    """


@_spec("first")
async def on_flow_request(host: Wahost, request: Any, ctx: Any) -> Any:
    """Answer a decrypted WhatsApp Flows data-exchange request (INIT, BACK, data_exchange).

    **When:** the Flows plugin (``wahost-flows``) received and decrypted a request on its
    endpoint; this runs inside the HTTP request, which Meta times out after 10 seconds
    (reference/cloudapi.md §5). **Mode:** first.

    **Arguments:** ``request`` is a ``wahost_flows.FlowRequest`` (``action``, ``screen``,
    ``data``, ``flow_token``, ``version``); ``ctx`` a ``wahost_flows.FlowContext`` (``host``,
    ``endpoint``, ``log``, ``headers``) — not a unit context: nothing is queued.
    **Returns:** a ``wahost_flows.FlowResponse`` (the next screen with its data, or
    ``FlowResponse.close(flow_token, **params)``) or ``None`` to let the next plugin try.
    Raise (or return) ``wahost_flows.FlowTokenExpired`` to answer HTTP 427.
    """


@_spec("first")
async def on_invalid_state(host: Wahost, message: Message, state: str, ctx: Context) -> Any:
    """Handle a message that the state machine (``wahost-state-machine``) has no trigger for
    in the conversation's current state.

    **When:** the state machine matched no trigger in ``state``. **Mode:** first. Return a
    value to mark it handled; ``None`` falls through to :func:`on_unhandled`.
    """


@_spec("broadcast")
async def on_plugin_error(
    host: Wahost, plugin: str, hook: str, exc: BaseException, unit: Unit | None
) -> None:
    """Observe an exception raised by a plugin's hook implementation.

    **When:** after any implementation raised (or timed out). ``plugin`` is its name, ``hook``
    the hook's name, ``unit`` the unit being handled (``None`` outside a unit). Also when a
    unit has nothing usable (its item is not a JSON object, so no other hook can run for it):
    then ``plugin`` is ``"wahost"``, ``hook`` is ``"decode_unit"``, ``exc`` the
    :class:`~wahost.models.DecodeError`, and the unit is parked dead.
    **Mode:** broadcast; exceptions raised here are logged and otherwise ignored.
    """
