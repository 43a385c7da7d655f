"""``coerce``: the short ways to say what to send, as ``ctx.reply(...)`` accepts them."""

from __future__ import annotations

from typing import Any

from wahost.outbound.base import Outbound
from wahost.outbound.interactive import ReplyButton, ReplyButtons
from wahost.outbound.media import Audio, Document, Image, Media, Sticker, Video
from wahost.outbound.messages import Location, Reaction, Text

__all__ = ["coerce"]

# Each keyword that names what to send, and the keywords that may come with it.
_MAIN: dict[str, frozenset[str]] = {
    "text": frozenset({"preview_url"}),
    "image": frozenset({"caption"}),
    "video": frozenset({"caption"}),
    "audio": frozenset({"voice"}),
    "document": frozenset({"caption", "filename"}),
    "sticker": frozenset(),
    "reaction": frozenset({"message_id"}),
    "buttons": frozenset({"body", "header", "footer"}),
    "location": frozenset({"name", "address"}),
}
_REQUIRED = {"reaction": "message_id", "buttons": "body"}
_MEDIA: dict[str, type[Media]] = {
    "image": Image,
    "video": Video,
    "audio": Audio,
    "document": Document,
    "sticker": Sticker,
}


def coerce(message: Outbound | str | None = None, /, **kwargs: Any) -> Outbound:
    """The :class:`Outbound` message meant by ``message`` or by one keyword argument.

    * an :class:`Outbound` message is returned as it is (no keywords allowed with it);
    * a ``str`` is a :class:`Text`; ``preview_url=True`` may come with it;
    * ``text="hi"`` (``preview_url=``) is a :class:`Text`;
    * ``image=``, ``video=``, ``audio=``, ``document=``, ``sticker=`` take a media id or an
      ``http(s)://`` link (a value containing ``://`` is taken as a link), with
      ``caption=`` (image, video, document), ``filename=`` (document), ``voice=`` (audio);
    * ``reaction="👍", message_id="wamid…"`` is a :class:`Reaction` (``reaction=""`` removes it);
    * ``buttons=["Yes", "No"], body="…"`` is a :class:`ReplyButtons`: each button is a title
      (which is also its id), an ``(id, title)`` pair or a :class:`ReplyButton`; ``header=`` and
      ``footer=`` may come with it;
    * ``location=(latitude, longitude)`` is a :class:`Location`, with ``name=`` and ``address=``.

    Raises :class:`TypeError` naming the keyword for an unknown keyword, for two keywords that
    each name a message (``text=`` with ``image=``), for a keyword that does not go with the
    message (``caption=`` with ``text=``) and for a value of the wrong kind; and
    :class:`ValueError` when the message breaks a limit.
    """
    if message is not None:
        if isinstance(message, Outbound):
            if kwargs:
                raise TypeError(f"coerce(): {_names(kwargs)} cannot be given with a message")
            return message
        if isinstance(message, str):
            extra = sorted(set(kwargs) - _MAIN["text"])
            if extra:
                raise TypeError(f"coerce(): {_names(extra)} does not apply to a text message")
            return Text(message, **kwargs)
        raise TypeError(f"coerce(): expected an Outbound message or a str, not {message!r}")

    known = set(_MAIN).union(*_MAIN.values())
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"coerce(): unknown keyword argument {_names(unknown)}")
    mains = [key for key in kwargs if key in _MAIN]
    if not mains:
        raise TypeError(
            f"coerce(): nothing to send; give a message, a str or one of {_names(_MAIN)}"
        )
    if len(mains) > 1:
        hint = "; use body= for the text of buttons" if set(mains) == {"text", "buttons"} else ""
        raise TypeError(f"coerce(): ambiguous, {_names(mains)} each name a message{hint}")
    main = mains[0]
    extra = sorted(set(kwargs) - {main} - _MAIN[main])
    if extra:
        raise TypeError(f"coerce(): {_names(extra)} does not apply to {main}=")
    if main in _REQUIRED and _REQUIRED[main] not in kwargs:
        raise TypeError(f"coerce(): {main}= needs {_REQUIRED[main]}=")
    value = kwargs.pop(main)

    if main == "text":
        return Text(_str(main, value), **kwargs)
    if main in _MEDIA:
        source = _str(main, value)
        # Media ids are digits; anything with a scheme is a link (and must then be http(s)).
        key = "link" if "://" in source else "id"
        return _MEDIA[main](**{key: source}, **kwargs)
    if main == "reaction":
        return Reaction(kwargs["message_id"], _str(main, value))
    if main == "buttons":
        return ReplyButtons(buttons=_buttons(value), **kwargs)
    if not (isinstance(value, tuple | list) and len(value) == 2):
        raise TypeError(f"coerce(): location= takes (latitude, longitude), not {value!r}")
    return Location(value[0], value[1], **kwargs)


def _buttons(value: object) -> list[ReplyButton]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError(f"coerce(): buttons= takes a list of buttons, not {value!r}")
    buttons = []
    for item in value:
        if isinstance(item, ReplyButton):
            buttons.append(item)
        elif isinstance(item, str):
            buttons.append(ReplyButton(item, item))
        elif isinstance(item, tuple | list) and len(item) == 2:
            buttons.append(ReplyButton(item[0], item[1]))
        else:
            raise TypeError(
                f"coerce(): each of buttons= is a title, an (id, title) pair or a ReplyButton,"
                f" not {item!r}"
            )
    return buttons


def _str(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"coerce(): {key}= takes a str, not {type(value).__name__}")
    return value


def _names(keys: Any) -> str:
    return ", ".join(f"{key}=" for key in keys)
