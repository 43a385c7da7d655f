"""A fake Graph API: a real HTTP/1.1 server on loopback that answers in Meta's wire format.

For wahost's tests and plugin authors' tests: point ``[whatsapp] graph_url`` at it, run the
bot, then assert on what the fake received::

    async with FakeGraph() as graph:                       # token: TEST_TOKEN
        ...  # a host configured with graph_url = graph.url
        await graph.wait_for(1)
        assert graph.messages_to("16505551234")[0].text == "hello"

It answers sends, mark-read and typing (reference/cloudapi.md §6), sends to the group chats
it was given (:meth:`FakeGraph.add_group`, §12), media (§8), the Flows
public key (§9), conversational automation and the business profile (§11), the message
templates management API (§15: :meth:`FakeGraph.add_template`, reviewed by the test with
:meth:`FakeGraph.review_template`), the Flows management API (§16: :meth:`FakeGraph.add_flow`,
:meth:`FakeGraph.flow_named`, :meth:`FakeGraph.set_flow_metric`), the carousels, commerce,
call and contact-info messages and ``/marketing_messages`` (§17; 131050 to a wa_id in
:attr:`FakeGraph.stopped_marketing`), the account plane (§12.6 Groups API:
:meth:`FakeGraph.add_join_request`, :attr:`FakeGraph.group_webhooks`; §18.1 blocklist; §18.2 QR
codes; §18.4 phone numbers: :meth:`FakeGraph.add_number`; §19 calls:
:meth:`FakeGraph.add_call`, :meth:`FakeGraph.call_webhook`), and can fail on
demand with Meta's error bodies (§7): :meth:`FakeGraph.fail_next`, :meth:`FakeGraph.fail_when`,
including delayed answers and connections dropped after the request was read (the ambiguous
case). Built on ``asyncio`` streams and ``h11`` so that it controls each connection.
"""

from wahost.testing.fake_graph.calls import FakeCall
from wahost.testing.fake_graph.catalogue import ERRORS, error_body
from wahost.testing.fake_graph.fake import Failure, FakeGraph
from wahost.testing.fake_graph.flows import FakeFlow
from wahost.testing.fake_graph.numbers import FakeNumber
from wahost.testing.fake_graph.templates import FakeTemplate
from wahost.testing.fake_graph.wire import Accepted, Group, Media, Recorded, Upload

__all__ = [
    "ERRORS",
    "Accepted",
    "Failure",
    "FakeCall",
    "FakeFlow",
    "FakeGraph",
    "FakeNumber",
    "FakeTemplate",
    "Group",
    "Media",
    "Recorded",
    "Upload",
    "error_body",
]
