from engine import decide


def test_spec_section_7_example_reproduced():
    decision = decide(
        {
            "placement_id": "P-1001",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 82,
            "care_type": "nursing",
            "core_weekly_fee": "1040.00",
        }
    ).to_dict()
    assert decision["outcome"] == "needs_approval"
    assert [f["rule_id"] for f in decision["findings"]] == ["CHP-02", "CHP-07"]
    assert str(decision["figures"]["over_benchmark_percent"]) == "4.52"
