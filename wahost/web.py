"""The host's web application: the ingress in front of a Quart app serving plugins' routes.

:class:`Route` is what ``register_routes`` returns; :func:`build_asgi_app` puts the webhook
ingress (:mod:`wahost.webhook`) in front of a Quart app holding those routes. The host
(:mod:`wahost.host`) only holds state and the life cycle; ``Wahost.asgi()`` calls this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wahost.webhook import GRAPH_HEALTH_PATH, Ingress

if TYPE_CHECKING:
    from wahost.host import Wahost


@dataclass
class Route:
    """An HTTP route a plugin adds through ``register_routes`` (a Quart view)."""

    path: str
    endpoint: Callable[..., Awaitable[Any]]
    methods: list[str] = field(default_factory=lambda: ["GET"])
    name: str | None = None


#: Headers of the error pages Quart makes itself (404, 405, 413, 500...): such a page needs no
#: script, style, frame or cache, whichever plugin's path it answers (the console's included).
ERROR_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def reserved_paths(host: Wahost) -> set[str]:
    """The paths the ingress answers itself, which no plugin's route may take."""
    reserved = {host.config.server.webhook_path, "/healthz", "/readyz", GRAPH_HEALTH_PATH}
    if host.metrics is not None and host.config.metrics.port == 0:
        reserved.add(host.config.metrics.path)
    return reserved


def build_asgi_app(host: Wahost) -> Ingress:
    """The host's ASGI app: the ingress, with a Quart app serving the plugins' routes."""
    import quart
    from werkzeug.exceptions import HTTPException

    app = quart.Quart("wahost")

    @app.errorhandler(HTTPException)
    async def error_page(error: HTTPException) -> Any:
        if error.response is not None:  # a plugin's own answer, given to abort()
            return error.response
        response = quart.Response(
            error.get_body(), status=error.code or 500, headers=dict(error.get_headers())
        )
        response.headers.update(ERROR_PAGE_HEADERS)
        return response

    reserved = reserved_paths(host)
    for routes in host.dispatch.collect("register_routes"):
        for route in routes:
            if route.path in reserved:
                raise ValueError(f"route {route.path} is reserved by the core")
            app.add_url_rule(
                route.path,
                endpoint=route.name or f"{route.endpoint.__module__}.{route.endpoint.__name__}",
                view_func=route.endpoint,
                methods=route.methods,
            )
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        # Someone opening the server's address in a browser learns what is there.
        from wahost.startup_log import index_text

        async def index() -> Any:
            return quart.Response(index_text(host), content_type="text/plain; charset=utf-8")

        app.add_url_rule("/", endpoint="wahost.index", view_func=index, methods=["GET"])
    app.config["MAX_CONTENT_LENGTH"] = host.config.server.max_body_bytes
    return Ingress(host, app)  # type: ignore[arg-type]  # Quart types its ASGI args narrowly
