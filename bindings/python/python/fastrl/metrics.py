"""Text metrics as rewards, computed by the Rust core and equal to the reference packages
(tested against them): ``sentence_bleu`` (sacrebleu, 13a, exp smoothing; 0-100),
``rouge_l`` / ``rouge_n`` (rouge-score; (precision, recall, fmeasure)), ``meteor`` (nltk's
``meteor_score`` over token lists; with WordNet synonyms when given a ``WordNet``).

    wn = fastrl.metrics.WordNet("/usr/share/wordnet")   # Debian's wordnet-base
    fastrl.metrics.meteor([ref.split()], hyp.split(), wordnet=wn)
"""

from ._fastrl import WordNet, meteor, rouge_l, rouge_n, sentence_bleu

__all__ = ["WordNet", "meteor", "rouge_l", "rouge_n", "sentence_bleu"]
