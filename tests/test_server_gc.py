"""`wahost serve` and `wahost worker` tune the garbage collector once start-up is done."""

from __future__ import annotations

import gc

from wahost.server import YOUNG_COLLECTION_THRESHOLD, _freeze_startup_objects


def test_start_up_freezes_its_objects_and_collects_the_young_generation_less_often() -> None:
    before = gc.get_threshold()
    try:
        _freeze_startup_objects()
        # What start-up made is out of the collector's reach, and a unit's few hundred
        # short-lived containers no longer trigger a young collection every few units.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
        assert before[0] < YOUNG_COLLECTION_THRESHOLD
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
