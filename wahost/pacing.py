"""Where the Graph API client gets its pacing: the seam between it and the rate limiters.

The :class:`~wahost.graph.GraphClient` asks a :class:`SendPacer` for two things before every
request: a throughput slot of the phone number (Meta's cap per number, 130429 over it) and,
for a message, the right to send to its recipient now (Meta's pair rate limit, 131056). The
pacer decides how far its view reaches:

* :class:`LocalPacer` (the default, ``[queue] backend = "sqlite"`` or ``"memory"``): the
  process's own :class:`~wahost.ratelimit.RollingLimiter` and
  :class:`~wahost.ratelimit.RecipientSpacing`. Right when one process sends.
* a pacer shared by every process that sends, provided by a backend plugin through the
  ``wahost_rate_limiter`` hook (``wahost-redis`` does on Redis), so that adding workers never
  adds to what Meta receives.

Every implementation keeps :class:`~wahost.ratelimit.RollingLimiter`'s semantics: a slot is
held from its grant until ``period`` seconds after its answer came back, because Meta counts
a request when it arrives, some unknown time after it left.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from wahost.ratelimit import RecipientSpacing, RollingLimiter


@dataclass(frozen=True, slots=True)
class Slot:
    """A granted throughput slot: hand it back with :meth:`SendPacer.release` once the
    request was answered (or failed), or :meth:`SendPacer.cancel` when nothing was sent."""

    phone_number_id: str
    #: What identifies this grant to its pacer (unique among the slots held).
    token: str = ""
    #: Seconds the request waited for it (0.0 when a slot was free).
    waited: float = 0.0


class SendPacer(abc.ABC):
    """Meta's throughput cap per phone number and spacing per recipient, as the Graph API
    client asks for them. One per :class:`~wahost.graph.GraphClient`; every method may be
    called concurrently by many sends."""

    @abc.abstractmethod
    async def acquire(self, phone_number_id: str) -> Slot:
        """Wait for a throughput slot of ``phone_number_id`` (and for a pause to end)."""

    @abc.abstractmethod
    async def release(self, slot: Slot) -> None:
        """The slot's request is answered: the slot frees ``period`` seconds from now."""

    @abc.abstractmethod
    async def cancel(self, slot: Slot) -> None:
        """The slot was not used (nothing was sent): free it at once."""

    @abc.abstractmethod
    async def pause(self, phone_number_id: str, seconds: float) -> None:
        """Hold every request of ``phone_number_id`` for ``seconds`` (after a 130429)."""

    @abc.abstractmethod
    async def wait_recipient(self, recipient: str) -> float:
        """Wait until a send to ``recipient`` looks allowed (claims nothing: see
        :meth:`claim_recipient`); returns the seconds waited."""

    @abc.abstractmethod
    async def claim_recipient(self, recipient: str) -> bool:
        """Claim the right to send to ``recipient`` now, atomically with the check: ``False``
        when another send to it is in flight or its spacing or pause has not run out. Pair a
        successful claim with :meth:`release_recipient`."""

    @abc.abstractmethod
    async def release_recipient(self, recipient: str) -> None:
        """The send to ``recipient`` was answered (or failed): the next may leave the
        spacing's interval from now (or after a pause set meanwhile, whichever is later)."""

    @abc.abstractmethod
    async def pause_recipient(self, recipient: str, seconds: float) -> None:
        """Hold sends to ``recipient`` for ``seconds`` (after a 131056)."""

    async def acquire_for(
        self, phone_number_id: str | None, recipient: str | None
    ) -> tuple[Slot | None, float]:
        """Everything a request waits for before it leaves: the recipient's spacing (if it
        has one), then a throughput slot of the number (if it has one), then the recipient's
        claim, atomically with its check. Returns ``(the slot or None, seconds waited)``.

        The spacing is claimed only when the request leaves: a send that waited for the
        throughput limiter must not have claimed its recipient's spacing earlier, or the next
        send to that user could arrive too soon after it (131056). A pacer that can check and
        take all of it at once (one round trip) should override this sequence.
        """
        waited = 0.0
        while True:
            if recipient is not None:
                waited += await self.wait_recipient(recipient)
            slot = await self.acquire(phone_number_id) if phone_number_id is not None else None
            if slot is not None:
                waited += slot.waited
            try:
                claimed = recipient is None or await self.claim_recipient(recipient)
            except BaseException:
                if slot is not None:
                    await self.cancel(slot)
                raise
            if claimed:
                return slot, waited
            if slot is not None:  # another send to this user left first: try again
                await self.cancel(slot)

    async def aclose(self) -> None:
        """Release what the pacer holds (connections); called when its client closes."""


class LocalPacer(SendPacer):
    """This process's own limiters: a :class:`RollingLimiter` per phone number and one
    :class:`RecipientSpacing`. Processes that send from the same number do not see each
    other's sends."""

    def __init__(self, rate: float, interval: float, *, period: float = 1.0) -> None:
        self.rate = rate
        self.period = period
        self.spacing = RecipientSpacing(interval)
        self._limiters: dict[str, RollingLimiter] = {}

    def limiter(self, phone_number_id: str) -> RollingLimiter:
        """The throughput limiter of one phone number."""
        limiter = self._limiters.get(phone_number_id)
        if limiter is None:
            limiter = RollingLimiter(self.rate, self.period)
            self._limiters[phone_number_id] = limiter
        return limiter

    async def acquire(self, phone_number_id: str) -> Slot:
        waited = await self.limiter(phone_number_id).acquire()
        return Slot(phone_number_id, waited=waited)

    async def release(self, slot: Slot) -> None:
        self.limiter(slot.phone_number_id).release()

    async def cancel(self, slot: Slot) -> None:
        self.limiter(slot.phone_number_id).cancel()

    async def pause(self, phone_number_id: str, seconds: float) -> None:
        self.limiter(phone_number_id).pause(seconds)

    async def wait_recipient(self, recipient: str) -> float:
        return await self.spacing.wait(recipient)

    async def claim_recipient(self, recipient: str) -> bool:
        if not self.spacing.ready(recipient):
            return False
        self.spacing.claim(recipient)
        return True

    async def release_recipient(self, recipient: str) -> None:
        self.spacing.release(recipient)

    async def pause_recipient(self, recipient: str, seconds: float) -> None:
        self.spacing.pause(recipient, seconds)
