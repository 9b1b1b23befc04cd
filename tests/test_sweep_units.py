"""Sweep units: Pareto dominance on hand-made points, --vary parsing, the product, spec overrides and feasibility."""

from __future__ import annotations

import pytest

from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.sweep.pareto import dominated, dominates, front
from codesign.sweep.points import Point, parse_vary, point_spec, product, resolve
from codesign.spec import load_spec_document


# --------------------------------------------------------------------------- Pareto (cost lower, TPR higher)


def test_dominates_needs_no_worse_in_both_and_better_in_one():
    assert dominates((1, 0.5), (2, 0.4))
    assert dominates((1, 0.5), (1, 0.4))  # same cost, better TPR
    assert dominates((1, 0.5), (2, 0.5))  # same TPR, cheaper
    assert not dominates((1, 0.5), (1, 0.5))  # equal points do not dominate each other
    assert not dominates((1, 0.4), (2, 0.5))  # cheaper but worse: a trade-off
    assert not dominates((2, 0.4), (1, 0.5))


def test_dominated_flags_on_hand_made_points():
    #            0          1           2           3          4          5     6
    points = [(10, 0.30), (20, 0.50), (15, 0.30), (30, 0.50), (5, 0.10), None, (20, 0.50)]
    # 2 is beaten by 0 (cheaper, same TPR); 3 by 1 (cheaper, same TPR); 1 and 6 are equal: both on the front
    assert dominated(points) == [False, False, True, True, False, None, False]
    assert front(points) == [4, 0, 1, 6]


def test_front_of_a_single_point_and_of_none():
    assert dominated([(1.0, 0.2)]) == [False] and front([(1.0, 0.2)]) == [0]
    assert dominated([None, None]) == [None, None] and front([None]) == []


def test_a_chain_of_strictly_better_points_leaves_one_on_the_front():
    points = [(5 - i, 0.1 * i) for i in range(5)]  # each cheaper and better than the one before
    assert dominated(points) == [True, True, True, True, False]


# --------------------------------------------------------------------------- points


def test_vary_values_are_yaml_scalars_and_the_product_varies_the_first_key_slowest():
    varied = parse_vary(("precision.cnn.bits=8,10,12", "bandwidth.link_tbps=1.536, 2.048"))
    assert varied == [("precision.cnn.bits", [8, 10, 12]), ("bandwidth.link_tbps", [1.536, 2.048])]
    points = product(varied)
    assert [p.overrides for p in points[:3]] == [(("precision.cnn.bits", 8), ("bandwidth.link_tbps", 1.536)),
                                                 (("precision.cnn.bits", 8), ("bandwidth.link_tbps", 2.048)),
                                                 (("precision.cnn.bits", 10), ("bandwidth.link_tbps", 1.536))]
    assert len(points) == 6 and len({p.id for p in points}) == 6
    # the id depends on the overrides only, not on their order or the point's index
    assert Point(5, (("b", 1), ("a", 2))).id == Point(0, (("a", 2), ("b", 1))).id


@pytest.mark.parametrize("item, fragment", [
    ("precision.cnn.bits", "expected KEY=V1,V2"), ("precision.cnn.bits=", "empty value list"),
    ("precision.cnn.bits=8,,10", "empty value list"), ("precision.cnn.bits=8,8", "repeated"),
    ("=8", "expected KEY=V1,V2"), ("precision..bits=8", "expected KEY=V1,V2"),
    ("precision.cnn.bits=[8", "not a YAML value"), ("precision.cnn.bits={a: 1}", "expected a single value")])
def test_bad_vary_items(item, fragment):
    with pytest.raises(InputError, match=fragment.replace("[", r"\[")):
        parse_vary((item,))


def test_a_key_varied_twice_is_refused():
    with pytest.raises(InputError, match="varied twice"):
        parse_vary(("precision.cnn.bits=8", "precision.cnn.bits=10"))


def test_bits_per_cell_follow_the_link_bandwidth():
    doc = load_spec_document(DEFAULT_SPEC)
    for tbps, bits in ((1.536, 6), (2.048, 8)):
        ps = point_spec(doc, Point(0, (("bandwidth.link_tbps", tbps),)))
        assert ps.reason is None and ps.derived.bits_per_cell == bits and ps.derived.levels == 2 ** bits


def test_infeasible_points_are_recorded_and_bad_values_are_bad_input():
    points = product(parse_vary(("precision.cnn.bits=6,8", "latency.denoise_us=10.0,0.2")))
    specs = resolve(DEFAULT_SPEC, points)
    reasons = {p.overrides: s.reason for p, s in zip(points, specs)}
    # cnn bits 6 is refused by the schema through another key (bias_int_bits = 6 needs more bits): infeasible
    assert "precision.cnn.bias_int_bits" in reasons[(("precision.cnn.bits", 6), ("latency.denoise_us", 10.0))]
    # 0.2 us cannot be met at any P: infeasible (the derivation's reason)
    assert "cannot be met" in reasons[(("precision.cnn.bits", 8), ("latency.denoise_us", 0.2))]
    assert reasons[(("precision.cnn.bits", 8), ("latency.denoise_us", 10.0))] is None
    for item, fragment in (("precision.cnn.bitz=8", "unknown key"), ("precision.cnn.bits=abc", "precision.cnn.bits"),
                           ("precision.cnn.bits=30", "an integer in 4..24"), ("precison.cnn.bits=8", "unknown key"),
                           ("bandwidth.link_tbps.x=1", "is a value, not a section")):
        with pytest.raises(InputError, match=fragment):
            resolve(DEFAULT_SPEC, product(parse_vary((item,))))


def test_a_value_refused_only_with_some_partners_makes_those_points_infeasible():
    # bias_int_bits = 12 is too wide for 10-bit weights but fine for 14-bit ones
    points = product(parse_vary(("precision.cnn.bias_int_bits=12", "precision.cnn.bits=10,14")))
    specs = resolve(DEFAULT_SPEC, points)
    assert specs[0].reason is not None and specs[1].reason is None
    with pytest.raises(InputError, match="precision.cnn.bias_int_bits"):
        resolve(DEFAULT_SPEC, product(parse_vary(("precision.cnn.bias_int_bits=12", "precision.cnn.bits=10"))))


# --------------------------------------------------------------------------- fine-tuning


def test_fine_tuning_copies_every_weight_of_the_same_shape():
    """A base model (8 bits per cell) into a point's model of 6 bits per cell and another seed: every variable but
    the quantisers' levels takes the base's value; those keep the point's seeded start."""
    from codesign.train.finetune import copy_weights
    from codesign.train.model import build_model

    doc = load_spec_document(DEFAULT_SPEC)
    base_spec = point_spec(doc, Point(0, ()))
    small = point_spec(doc, Point(0, (("bandwidth.link_tbps", 1.536),)))
    base = build_model(base_spec.spec, base_spec.derived, seed=0)
    model = build_model(small.spec, small.derived, seed=1)
    before = [v.numpy().copy() for v in model.variables]
    skipped = copy_weights(base, model)
    quantiser_vars = {id(v) for q in model.quantisers for v in q.variables}
    other_shape = [m for b, m in zip(base.variables, model.variables) if b.shape != m.shape]
    assert len(skipped) == len(other_shape) == 2 and all(id(m) in quantiser_vars for m in other_shape)
    copied = 0
    for b, m, old in zip(base.variables, model.variables, before):
        if b.shape != m.shape:
            assert (m.numpy() == old).all()
        else:
            assert (m.numpy() == b.numpy()).all()
            copied += int((old != b.numpy()).any())  # the seeds differ, so the copy changed something
    assert copied > 0
