"""Answer WhatsApp voice calls: the signaling with wahost, the media with aiortc.

A user calls the business number; Meta sends a ``calls`` webhook (``connect``) with the
caller's SDP offer. This bot makes an SDP answer with a WebRTC stack, pre-accepts the call
with it (media is set up early, so the first words are not clipped), accepts with the same
answer, and plays a tone until the user hangs up (the ``terminate`` webhook), then closes the
peer connection. Calling must be enabled on the number and the app subscribed to the
``calls`` field (reference/cloudapi.md §18.8, §19).

    pip install 'wahost[calls]'  # aiortc, the WebRTC stack; wahost itself does not need it
    wahost serve --config config/wahost.toml --bot examples/call_answerer.py

The media lives in this process: run one worker (``wahost serve``), not a fleet, or route the
calls to the process that holds the peer connection. ``tests/test_account_calls.py`` drives
this bot with an SDP answer recorded as text (``ANSWERER`` replaced), and, where aiortc is
installed (the test requirements install it), with its own aiortc answer to an aiortc offer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from wahost import Context, Router
from wahost import filters as F
from wahost.account.calls import CallsApi
from wahost.models.calls import CallEvent

router = Router()

#: Peer connections of the calls in progress, by call id (aiortc objects).
connections: dict[str, Any] = {}


async def aiortc_answer(call_id: str, offer: str) -> str:
    """An SDP answer to ``offer`` from an aiortc peer connection that sends a tone."""
    import fractions

    import numpy as np
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import AudioFrame

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.samples = 0

        async def recv(self) -> AudioFrame:
            import asyncio

            await asyncio.sleep(0.02)
            t = (np.arange(960) + self.samples) / 48000
            pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
            frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, self.samples
            frame.time_base = fractions.Fraction(1, 48000)
            self.samples += 960
            return frame

    connection = RTCPeerConnection()
    connections[call_id] = connection
    connection.addTrack(Tone())
    await connection.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await connection.setLocalDescription(await connection.createAnswer())
    return str(connection.localDescription.sdp)


#: How an answer is made: ``(call_id, offer) -> answer``; tests put recorded SDP here.
ANSWERER: Callable[[str, str], Awaitable[str]] = aiortc_answer


@router.event(F.event("calls"))
async def on_call(event: Any, ctx: Context) -> None:
    """Answer each user-initiated call that rings; close the media of each call that ends."""
    value: CallEvent = event.value
    calls = CallsApi(ctx.client, ctx.phone_number_id)
    for call in value.calls:
        if call.event == "connect" and call.direction == "USER_INITIATED":
            offer = call.session.sdp if call.session else None
            if not offer:
                continue
            answer = await ANSWERER(call.id, offer)
            await calls.pre_accept(call.id, answer)
            await calls.accept(call.id, answer)  # start media only now
            ctx.log.info("call accepted", call_id=call.id, caller=call.user)
        elif call.event == "terminate":
            connection = connections.pop(call.id, None)
            if connection is not None:
                await connection.close()
            ctx.log.info("call ended", call_id=call.id, status=call.status)
