"""The feature schema: its columns, measurements and limbs, and the arrays derived from them."""

from __future__ import annotations

import numpy as np
import pytest

from app.landmarks import Limb
from app.schema import SKELETON, Unit


def test_feature_table_is_consistent() -> None:
    assert len(set(SKELETON.names)) == SKELETON.n_features == 45
    assert {f"{side}_{joint}_angle" for side in ("left", "right")
            for joint in ("elbow", "shoulder", "hip", "knee")} <= set(SKELETON.names)
    assert "torso_lean" in SKELETON.names
    assert set(SKELETON.feature_limbs) == set(Limb)
    covered = sorted(c for m in SKELETON.measurements for c in m.columns)
    assert covered == list(range(SKELETON.n_features))
    assert len(SKELETON.measurements) == 21
    assert [SKELETON.index[name] for name in SKELETON.names] == list(range(SKELETON.n_features))


def test_derived_arrays_follow_the_features() -> None:
    limbs = SKELETON.limbs
    for f, spec in enumerate(SKELETON.features):
        k = limbs.index(spec.limb)
        assert SKELETON.feature_limb_index[f] == k
        np.testing.assert_array_equal(SKELETON.limb_membership[f], np.eye(len(limbs))[k])
        m = SKELETON.measurement_of[f]
        assert f in SKELETON.measurements[m].columns
        assert SKELETON.measurement_membership[f].sum() == 1.0
        assert SKELETON.shares[f] == (1.0 if spec.unit is Unit.ANGLE else 1.0 / 3.0)
        assert SKELETON.default_tolerance[f] == spec.tolerance
    for m, measurement in enumerate(SKELETON.measurements):
        assert limbs[SKELETON.measurement_limb[m]] is measurement.limb
        assert SKELETON.measurement_counted[:, m].sum() == pytest.approx(1.0)
        assert all(SKELETON.feature_limbs[c] is measurement.limb for c in measurement.columns)
    for k, limb in enumerate(limbs):
        own = [m for m in SKELETON.measurements if m.limb is limb]
        assert SKELETON.limb_count[k] == pytest.approx(len(own))
        assert [SKELETON.measurements[m] for m in SKELETON.limb_measurements[limb]] == own
        np.testing.assert_array_equal(
            SKELETON.columns_of(limb), [c for m in own for c in m.columns])


def test_the_schema_cannot_be_changed_in_place() -> None:
    with pytest.raises(ValueError, match="read-only"):
        SKELETON.default_tolerance[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        SKELETON.measurement_limb[0] = 0
    with pytest.raises(AttributeError):
        SKELETON.limbs = ()  # type: ignore[misc]
