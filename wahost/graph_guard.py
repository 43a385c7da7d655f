"""Where the access token may go: the hosts that get it, and the ids put in Graph paths.

The Graph client's token opens the whole WhatsApp Business Account, so it is sent only to:

* the Graph API origin of ``[whatsapp] graph_url`` (scheme, host and port as configured: the
  fake Graph API of the tests serves plain http on loopback, and that keeps working);
* Meta's media download hosts over https on port 443 (:data:`META_MEDIA_HOSTS`);
* the entries of ``[graph] token_hosts`` (a proxy, a test server).

Plain http gets the token only from the first and the last: an entry must name the http
origin itself. A media URL comes from ``GET /<media-id>`` or from a signed webhook's ``url``;
either may name any host, so every download through
:meth:`wahost.graph.GraphClient.stream` is checked here first: a URL outside the list raises
:class:`TokenHostError` before any request is made. A redirect never carries the token away:
each hop gets it only while every hop so far was allowed (:func:`guarded_get`).

Ids from webhooks and users end up in Graph paths (``GET /<media-id>``); httpx resolves dot
segments, so ``../../<pnid>/messages?x=`` becomes another endpoint that receives the token.
:func:`graph_path_id` refuses such an id before it is put in a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx

from wahost.errors import InvalidGraphIdError as InvalidGraphIdError
from wahost.errors import TokenHostError as TokenHostError

if TYPE_CHECKING:
    from wahost.config import Config

__all__ = [
    "MAX_REDIRECTS",
    "META_MEDIA_HOSTS",
    "InvalidGraphIdError",
    "TokenHostError",
    "TokenPolicy",
    "graph_path_id",
    "guarded_get",
    "parse_token_host",
]

#: Meta's hosts that serve media downloads and need the token (over https, port 443).
#: ``lookaside.fbsbx.com`` is the host of the download URLs in ``GET /<media-id>`` answers
#: and in inbound media webhooks (reference/cloudapi.md §8; fixtures ``media_info.json``,
#: ``inbound_image.json``). Meta documents no complete list of its media hosts: another host
#: seen in the wild is unverified here and belongs in ``[graph] token_hosts`` until it is.
#: The Flows media CDN (``mmg.whatsapp.net``, §10) is not listed: its URLs are pre-signed and
#: fetched without the token.
META_MEDIA_HOSTS: frozenset[str] = frozenset({"lookaside.fbsbx.com"})

#: Redirects followed at most by :func:`guarded_get`.
MAX_REDIRECTS = 5

_DEFAULT_PORTS = {"http": 80, "https": 443}
_KEY = "[graph] token_hosts"

#: ``(scheme, host, port)``, lower-case, the port always given.
Origin = tuple[str, str, int]


def _origin_text(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    suffix = "" if port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{shown}{suffix}"


def _entry_for(origin: Origin) -> str:
    scheme, host, port = origin
    return host if (scheme, port) == ("https", 443) else _origin_text(origin)


def _refusal(origin: Origin, *, source: str, graph_origin: str) -> TokenHostError:
    """The error for the token about to go to ``origin``: why, and the entry that allows it."""
    scheme, _, _ = origin
    entry = _entry_for(origin)
    why = "plain http" if scheme != "https" else "not a Meta host"
    return TokenHostError(
        f"refused to send the access token to {_origin_text(origin)} ({why}): only the "
        f"Graph API ({graph_origin}) and Meta's media hosts over https "
        f"({', '.join(sorted(META_MEDIA_HOSTS))}) get it. If this host should, add "
        f'"{entry}" to {_KEY} in {source}',
        origin=origin,
        entry=entry,
    )


def origin_of(url: httpx.URL | str) -> Origin | None:
    """The origin of an http(s) URL, or ``None`` (another scheme, no host, or user info,
    which never gets the token)."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parsed.host or parsed.userinfo:
        return None
    return scheme, parsed.host.lower(), parsed.port or _DEFAULT_PORTS[scheme]


def parse_token_host(entry: str) -> Origin:
    """One ``[graph] token_hosts`` entry as an origin: a host name (https, port 443) or an
    origin ``https://host[:port]`` / ``http://host:port``. ``ValueError`` says what is wrong."""
    text = entry.strip()
    if not text:
        raise ValueError("must not be empty")
    if "://" not in text:
        if not re.fullmatch(r"[A-Za-z0-9.-]+", text) or ".." in text or text.startswith("."):
            raise ValueError(
                f'expected a host name ("media-proxy.example.com") or an origin '
                f'("http://127.0.0.1:8081"), got {entry!r}'
            )
        return "https", text.lower(), 443
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {entry!r} ({exc})") from None
    origin = origin_of(url)
    if origin is None:
        raise ValueError(f"expected an http(s) origin without user info, got {entry!r}")
    if url.raw_path not in (b"", b"/") or url.query or url.fragment:
        raise ValueError(f"expected an origin (scheme, host, port) with no path, got {entry!r}")
    return origin


class TokenPolicy:
    """Which URLs may receive the access token (see the module documentation)."""

    def __init__(
        self, graph_url: str, token_hosts: Iterable[str] = (), *, source: str = "the config"
    ) -> None:
        graph = origin_of(graph_url)
        if graph is None:
            raise ValueError(f"graph_url is not an http(s) URL: {graph_url!r}")
        self.graph_origin = graph
        self.source = source
        origins = {graph, *(("https", host, 443) for host in META_MEDIA_HOSTS)}
        origins.update(parse_token_host(entry) for entry in token_hosts)
        #: Every origin that gets the token.
        self.origins: frozenset[Origin] = frozenset(origins)

    @classmethod
    def from_config(cls, config: Config) -> TokenPolicy:
        return cls(config.whatsapp.graph_url, config.graph.token_hosts, source=config.source)

    def allows(self, url: httpx.URL | str) -> bool:
        """Whether ``url`` may receive the token."""
        return origin_of(url) in self.origins

    def check(self, url: httpx.URL | str) -> None:
        """Raise :class:`TokenHostError` unless ``url`` may receive the token."""
        origin = origin_of(url)
        if origin in self.origins:
            return
        if origin is None:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
            origin = (parsed.scheme.lower() or "?", (parsed.host or "?").lower(), parsed.port or 0)
        raise _refusal(origin, source=self.source, graph_origin=_origin_text(self.graph_origin))


async def guarded_get(
    http: httpx.AsyncClient,
    policy: TokenPolicy,
    url: httpx.URL | str,
    *,
    authenticated: bool,
    follow_redirects: bool,
) -> httpx.Response:
    """A streamed GET of ``url`` with ``http`` (whose default headers hold the token).

    ``authenticated=False`` never sends the token. ``authenticated=True`` sends it when
    ``policy`` allows ``url``, and raises :class:`TokenHostError` before any request when it
    does not. Redirects are followed here (at most :data:`MAX_REDIRECTS`, else
    ``httpx.TooManyRedirects``) when ``follow_redirects``, so each hop is checked: the token
    goes along only while every hop so far was allowed; a redirect elsewhere is followed
    without it (a pre-signed CDN URL needs none), and the token never comes back after it.
    """
    target = http.build_request("GET", url).url
    if authenticated:
        policy.check(target)
    with_token = authenticated
    for _ in range(MAX_REDIRECTS + 1):
        request = http.build_request("GET", target)
        with_token = with_token and policy.allows(request.url)
        if not with_token:
            del request.headers["Authorization"]
        response = await http.send(request, stream=True, follow_redirects=False)
        if not (follow_redirects and response.has_redirect_location):
            return response
        await response.aclose()
        target = request.url.join(response.headers["Location"])
    raise httpx.TooManyRedirects(
        f"more than {MAX_REDIRECTS} redirects from {httpx.URL(url).host or url}", request=request
    )


_GRAPH_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def graph_path_id(value: str, *, what: str = "id") -> str:
    """``value`` if it can be one segment of a Graph API path, else
    :class:`InvalidGraphIdError`.

    Meta's media ids and phone number ids are digits; letters, ``_``, ``-`` and single inner
    dots are accepted as well, nothing else (no ``/``, ``?``, ``#``, ``%``, ``..``,
    whitespace), so an id from a webhook or a user cannot reach another endpoint.
    """
    if not isinstance(value, str) or not _GRAPH_ID.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise InvalidGraphIdError(
            f"{what} {shown} cannot be put in a Graph API path: expected digits (letters, "
            "digits, '_', '-' and single inner dots at most)"
        )
    return value
