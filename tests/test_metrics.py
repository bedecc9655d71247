"""Official SQuAD normalisation, EM and F1 against hand-computed cases, and abstention scoring."""

from __future__ import annotations

import pytest

from qa.metrics import exact_match, f1_score, normalize_answer


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Hellfire missiles!", "hellfire missiles"),
        ("  an   Apple, a day ", "apple day"),
        ("$700 million", "700 million"),
        ("5,000", "5000"),
        ("Theater", "theater"),  # "the" only as a whole word
    ],
)
def test_normalize(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_exact_match_any_gold():
    assert exact_match("the 5,000 ", ["5,000", "five thousand"]) == 1.0
    assert exact_match("5,000 missiles", ["5,000"]) == 0.0


def test_f1_hand_computed():
    # prediction tokens: 5000 missiles ; gold: additional 5000 missiles -> P=1, R=2/3, F1=0.8
    assert f1_score("5,000 missiles", ["an additional 5,000 missiles"]) == pytest.approx(0.8)
    # overlap 1 of 3 vs 1 of 1 -> P=1/3, R=1 -> 0.5
    assert f1_score("Colonel Steve Warren", ["Warren"]) == pytest.approx(0.5)
    assert f1_score("Baghdad", ["Mosul"]) == 0.0
    assert f1_score("Mosul", ["Baghdad", "Mosul city"]) == pytest.approx(2 / 3)


def test_abstention_scoring():
    assert exact_match(None, []) == 1.0 and f1_score(None, []) == 1.0
    assert exact_match("Mosul", []) == 0.0 and f1_score("Mosul", []) == 0.0
    assert exact_match(None, ["Mosul"]) == 0.0 and f1_score(None, ["Mosul"]) == 0.0
