"""The desktop viewer's "compare with..." from one stack of a series of several (``UID~N``,
an entry of its own from the library): the prior proposed first is the prior's stack at the
same angle, and its registration is kept for that pair of stacks (tests/core/stacksgen.py: a
lumbar spine's three angled stacks, in 2023 and again in 2024)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/core: stacksgen
from stacksgen import write_dated_stacks

from ownscan.core.compare import load_registration, save_registration, scanner_registration
from ownscan.core.library import open_library
from ownscan.core.plugin_host import get_host
from ownscan.core.plugin_types import ImportOptions
from ownscan.core.viewer import entries_from_library
from ownscan.core.viewer._compare_state import prior_choices

PRIOR = "1.2.826.0.1.3680043.8.498.7773001"
CURRENT = "1.2.826.0.1.3680043.8.498.7774001"


def test_a_stack_entry_proposes_the_prior_s_stack_at_its_angle(tmp_path: Path) -> None:
    write_dated_stacks(tmp_path / "in" / "a", PRIOR, PRIOR + ".9", "20230301")
    write_dated_stacks(tmp_path / "in" / "b", CURRENT, CURRENT + ".9", "20240301")
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
        entries = entries_from_library(lib)
        keys = [e.key for e in entries]
        assert keys == [f"{u}~{k}" for u in (PRIOR, CURRENT) for k in (1, 2, 3)]

        def tilt(key: str) -> int:
            normal = lib.load_volume(key).affine[:3, 2]
            return round(math.degrees(math.atan2(-normal[1], normal[2])))

        for n in (1, 2, 3):
            current = keys.index(f"{CURRENT}~{n}")
            choices = prior_choices(entries, current, lib)
            best = choices[0]
            assert best.proposed and entries[best.index].key.startswith(PRIOR + "~")
            assert tilt(entries[best.index].key) == tilt(f"{CURRENT}~{n}")
            assert any("0 degrees" in r for r in best.reasons), best.reasons
            assert sum(c.proposed for c in choices) == 1  # one stack of the one prior
            assert len(choices) == 5  # every other stack can be chosen too
        # the pair's registration is kept for those two stacks only
        prior_key = entries[prior_choices(entries, keys.index(f"{CURRENT}~3"), lib)[0].index].key
        reg = scanner_registration(lib.load_volume(prior_key), lib.load_volume(f"{CURRENT}~3"))
        save_registration(lib, prior_key, f"{CURRENT}~3", reg)
        assert load_registration(lib, prior_key, f"{CURRENT}~3", reg.method) is not None
        assert load_registration(lib, prior_key, f"{CURRENT}~2", reg.method) is None
        # the plain UIDs are the stacks 1 (what they show): not this pair
        assert load_registration(lib, PRIOR, CURRENT, reg.method) is None
