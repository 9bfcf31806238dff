"""fastrl.metrics.vader_compound against vaderSentiment 3.3.2, live, on the sentences of the
Rust parity fixture; fastrl.metrics.length_band on hand-derived cases."""

import json
import os

import pytest

import fastrl

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fastrl-metrics", "tests", "fixtures", "vader.json")


def test_vader_compound_equals_vader_sentiment():
    vader = pytest.importorskip("vaderSentiment.vaderSentiment")
    with open(FIXTURE, encoding="utf-8") as f:
        texts = [c["text"] for c in json.load(f)["cases"]]
    assert len(texts) >= 300
    analyzer = vader.SentimentIntensityAnalyzer()
    bad = []
    for t in texts:
        got, want = fastrl.metrics.vader_compound(t), analyzer.polarity_scores(t)["compound"]
        if got != want:  # both rounded to 4 decimals by Python's round()
            bad.append((t, got, want))
    assert not bad, f"{len(bad)} of {len(texts)} differ: {bad[:10]}"


def test_vader_compound_hand_derived():
    # 1.9 / sqrt(1.9^2 + 15) = 0.44036 -> 0.4404; "not" scales by -0.74.
    assert fastrl.metrics.vader_compound("good") == 0.4404
    assert fastrl.metrics.vader_compound("not good") == -0.3412
    assert fastrl.metrics.vader_compound("") == 0.0


def test_length_band():
    lb = fastrl.metrics.length_band
    words = lambda n: " ".join(["w"] * n)
    assert [lb(words(n), 5, 10) for n in (5, 7, 10)] == [1.0, 1.0, 1.0]
    # d = 3 below and above: 1 - 3/10.
    assert lb(words(2), 5, 10) == pytest.approx(0.7, abs=1e-15)
    assert lb(words(13), 5, 10) == pytest.approx(0.7, abs=1e-15)
    assert lb("", 5, 10) == 0.5
    assert lb(words(25), 5, 10) == 0.0
    assert lb(" one\ttwo\nthree  ", 4, 4) == 0.75
    with pytest.raises(ValueError, match="`hi` must be >= 1"):
        lb("a", 0, 0)
    with pytest.raises(ValueError, match="`lo` must be <= `hi`"):
        lb("a", 7, 3)
    with pytest.raises(ValueError, match="`lo` must be >= 0, got -1"):
        lb("a", -1, 3)
