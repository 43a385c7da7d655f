"""Property tests: any valid ``Text`` or ``ReplyButtons`` encodes to JSON that decodes back to
the same body, and the message can be read back from that JSON unchanged."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from wahost.outbound import (
    Image,
    ReplyButton,
    ReplyButtons,
    Text,
    encode_body,
    message_body,
    parse_message_body,
)

USER = "+16505551234"


def texts(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(min_size=low, max_size=high)


text_messages = st.builds(Text, texts(1, 4096), st.booleans())

reply_buttons = st.builds(
    ReplyButtons,
    texts(1, 1024),
    st.lists(
        st.builds(ReplyButton, texts(1, 256), texts(1, 20)),
        min_size=1,
        max_size=3,
        unique_by=(lambda b: b.id, lambda b: b.title),
    ),
    header=st.none()
    | texts(1, 60)
    | st.builds(Image, id=st.from_regex(r"[0-9]{1,20}", fullmatch=True)),
    footer=st.none() | texts(1, 60),
)


def read_back(body: dict[str, Any]) -> Text | ReplyButtons:
    """The message a request body was built from, read by wahost's own parser."""
    message = parse_message_body(body)
    assert message is not None
    if message.text is not None:
        return Text(message.text, message.content["preview_url"])
    interactive = message.interactive
    assert interactive is not None and interactive.type == "button"
    header: str | Image | None = interactive.header_text
    if interactive.header_media is not None:
        header = Image(id=interactive.header_media.id)
    return ReplyButtons(
        interactive.body,
        [ReplyButton(b.id, b.title) for b in interactive.buttons],
        header=header,
        footer=interactive.footer,
    )


@given(message=text_messages | reply_buttons, reply_to=st.none() | texts(1, 80))
def test_valid_messages_round_trip_through_json(
    message: Text | ReplyButtons, reply_to: str | None
) -> None:
    body = message_body(USER, message, reply_to=reply_to)
    decoded = msgspec.json.decode(encode_body(body))
    assert decoded == body
    assert read_back(decoded) == message
    assert decoded.get("context") == (None if reply_to is None else {"message_id": reply_to})


@given(length=st.integers(4097, 20_000), char=st.characters(exclude_categories=["Cs"]))
def test_a_text_over_4096_characters_is_refused(length: int, char: str) -> None:
    body = char * length
    try:
        Text(body)
    except ValueError as error:
        assert str(error) == f"Text.body: at most 4096 characters (got {len(body)})"
    else:
        raise AssertionError("accepted a body over the limit")
