"""Time wahost.units.split, the ingress hot path, and decode_unit, its worker-side partner.

    PYTHONPATH=. python bench/split_speed.py [--calls 200000]

Bodies are compact JSON, as Meta sends them: the 1-message ``inbound_text`` webhook and the
6-update ``batch_multi_entry`` webhook from wahost/testing/fixtures.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from functools import partial

from wahost.models import decode_unit
from wahost.testing.harness import FIXTURES
from wahost.units import Unit, split


def compact(name: str) -> bytes:
    return json.dumps(json.loads((FIXTURES / f"{name}.json").read_text())).encode()


def best_of_three(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call, best of three runs."""
    return min(timeit.repeat(call, number=calls, repeat=3)) / calls * 1e6


def decode_all(units: list[Unit]) -> None:
    for unit in units:
        decode_unit(unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    for name in ("inbound_text", "batch_multi_entry"):
        body = compact(name)
        units = split(body)
        per_split = best_of_three(partial(split, body), calls)
        per_decode = best_of_three(partial(decode_all, units), calls // 4)
        print(
            f"{name}: {len(body)} bytes, {len(units)} units: split {per_split:.2f} µs, "
            f"decode_unit of all units {per_decode:.2f} µs"
        )


if __name__ == "__main__":
    main()
