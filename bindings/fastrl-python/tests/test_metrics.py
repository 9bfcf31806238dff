"""fastrl.metrics against the reference packages, live."""

import os

import pytest

import fastrl

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
meteor_score = pytest.importorskip("nltk.translate.meteor_score")

PAIRS = [
    ("The cat sat on the mat.", "The cat is on the mat."),
    ("Hello, world! It costs $3.14.", "hello world, it costs 3.14 dollars"),
    ("I ate good fruit at home", "I eat fruits in the house"),
    ("", "nothing"),
]


class NoWordNet:
    def synsets(self, word):
        return []


def test_bleu_and_rouge_equal_the_reference_packages():
    rs = rouge_scorer.RougeScorer(["rouge2", "rougeL"])
    for hyp, ref in PAIRS:
        assert fastrl.metrics.sentence_bleu(hyp, [ref]) == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score, abs=1e-9)
        want = rs.score(ref, hyp)
        assert fastrl.metrics.rouge_l(ref, hyp) == pytest.approx(tuple(want["rougeL"]), abs=1e-12)
        assert fastrl.metrics.rouge_n(ref, hyp, 2) == pytest.approx(tuple(want["rouge2"]), abs=1e-12)


def test_meteor_equals_nltk_without_wordnet():
    for hyp, ref in PAIRS:
        h, r = hyp.split(), ref.split()
        want = meteor_score.meteor_score([r], h, wordnet=NoWordNet())
        assert fastrl.metrics.meteor([r], h) == pytest.approx(want, abs=1e-12)


@pytest.mark.skipif(not os.path.exists("/usr/share/wordnet/data.noun"), reason="no WordNet (apt-get install wordnet-base)")
def test_wordnet_loads_and_finds_synonyms():
    wn = fastrl.metrics.WordNet("/usr/share/wordnet")
    assert "domestic_dog" in wn.synonyms("dogs")
    score = fastrl.metrics.meteor([["I", "eat", "fruits", "in", "the", "house"]], ["I", "ate", "good", "fruit", "at", "home"], wordnet=wn)
    assert score > fastrl.metrics.meteor([["I", "eat", "fruits", "in", "the", "house"]], ["I", "ate", "good", "fruit", "at", "home"])
    with pytest.raises(ValueError, match="cannot load WordNet"):
        fastrl.metrics.WordNet("/nonexistent")
