"""Text metrics as rewards, computed by the Rust core and equal to the reference packages
(tested against them): ``sentence_bleu`` (sacrebleu, 13a, exp smoothing; 0-100),
``rouge_l`` / ``rouge_n`` (rouge-score; (precision, recall, fmeasure)), ``meteor`` (nltk's
``meteor_score`` over token lists; with WordNet synonyms when given a ``WordNet``),
``vader_compound`` (vaderSentiment 3.3.2's ``polarity_scores(text)["compound"]``, in
[-1, 1]); and, with no reference package, ``length_band(text, lo, hi)``: 1 for ``lo`` to
``hi`` whitespace-separated words, ``max(0, 1 - d / hi)`` at a distance ``d`` outside.

    wn = fastrl.metrics.WordNet("/usr/share/wordnet")   # Debian's wordnet-base
    fastrl.metrics.meteor([ref.split()], hyp.split(), wordnet=wn)
"""

from ._fastrl import WordNet, length_band, meteor, rouge_l, rouge_n, sentence_bleu, vader_compound

__all__ = ["WordNet", "length_band", "meteor", "rouge_l", "rouge_n", "sentence_bleu", "vader_compound"]
