"""Time decode_unit, the worker's decode of a queued unit, and what lax typing would cost.

    PYTHONPATH=. python bench/decode_speed.py [--calls 20000]

Units are split from every ``inbound_*`` and ``status_*`` fixture of wahost/testing/fixtures
(compact JSON, as Meta sends it). Prints the mean time of ``decode_unit`` per unit, then the
time to decode the same message items with msgspec's strict (default) and lax
(``strict=False``) decoders of their type, which tells whether lax decoding can sit on the
hot path or belongs on the fallback path only.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import msgspec

from wahost.models import MESSAGE_TYPES, decode_unit
from wahost.testing.harness import fixture_names, load_fixture
from wahost.units import Unit, UnitBody, split


def best_of_three(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call, best of three runs."""
    return min(timeit.repeat(call, number=calls, repeat=3)) / calls * 1e6


def fixture_units() -> list[Unit]:
    names = [n for n in fixture_names() if n.startswith(("inbound_", "status_"))]
    return [unit for name in names for unit in split(load_fixture(name))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    units = fixture_units()

    def decode_all() -> None:
        for unit in units:
            decode_unit(unit)

    per_unit = best_of_three(decode_all, calls // 10) / len(units)
    print(f"decode_unit: {len(units)} units, {per_unit:.2f} µs per unit")

    body_decoder = msgspec.json.Decoder(UnitBody)
    items: list[tuple[bytes, type]] = []
    for unit in units:
        if unit.kind != "message":
            continue
        item = bytes(body_decoder.decode(unit.body).item)
        kind = msgspec.json.decode(item).get("type", "")
        if kind in MESSAGE_TYPES:
            items.append((item, MESSAGE_TYPES[kind]))
    for strict in (True, False, True, False):
        decoders = [(item, msgspec.json.Decoder(cls, strict=strict)) for item, cls in items]

        def typed_all(pairs: list[tuple[bytes, msgspec.json.Decoder[object]]] = decoders) -> None:
            for item, decoder in pairs:
                decoder.decode(item)

        per_item = best_of_three(typed_all, calls // 10) / len(items)
        label = "strict" if strict else "lax (strict=False)"
        print(f"typed decode, {label}: {len(items)} message items, {per_item:.3f} µs per item")


if __name__ == "__main__":
    main()
