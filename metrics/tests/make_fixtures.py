#!/usr/bin/env python3
"""Writes fixtures/metrics.json: sentence BLEU (sacrebleu), ROUGE-2 and ROUGE-L
(rouge-score) on hand-picked cases that exercise the tokenizers' edges. The Rust parity
test (tests/parity.rs) reads it; scripts/test.sh regenerates it and fails on a diff.

    .venv/bin/python metrics/tests/make_fixtures.py [--check]
"""

import glob
import gzip
import json
import os
import re
import shutil
import sys
import tempfile

import sacrebleu
from nltk.stem import PorterStemmer
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer


def gem_ngram_stats(data):
    """GEM-metrics' NGramStats.compute for one token stream (its formulas, verbatim logic)."""
    import numpy as np
    from nltk import ngrams

    res = {}
    lengths = [len(inst) for inst in data]
    res["total_length"] = int(sum(lengths))
    res["mean_pred_length"] = float(np.mean(lengths))
    res["std_pred_length"] = float(np.std(lengths))
    res["median_pred_length"] = float(np.median(lengths))
    res["min_pred_length"] = int(min(lengths))
    res["max_pred_length"] = int(max(lengths))
    last = None
    for N in [1, 2, 3]:
        freqs, total = {}, 0
        for inst in data:
            for g in ngrams(inst, N):
                freqs[g] = freqs.get(g, 0) + 1
                total += 1
        res[f"distinct-{N}"] = len(freqs) / total if total > 0 else 0
        res[f"vocab_size-{N}"] = len(freqs)
        res[f"unique-{N}"] = len([v for v in freqs.values() if v == 1])
        tf = sum(freqs.values())
        res[f"entropy-{N}"] = float(-sum(f / tf * np.log2(f / tf) for f in freqs.values()))
        if last:
            tc = sum(last.values())
            res[f"cond_entropy-{N}"] = float(-sum(f / tf * np.log2((f / tf) / (last[g[:-1]] / tc)) for g, f in freqs.items()))
        last = freqs
    return res


def debian_wordnet():
    """nltk's WordNet reader over Debian's WordNet 3.0 (wordnet-base + wordnet-sense-index):
    the files copied under a temporary NLTK data root, plus the `lexnames` file nltk
    wants, rebuilt from the lexnames(5WN) manual page that wordnet-base ships."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    src = "/usr/share/wordnet"
    root = tempfile.mkdtemp(prefix="fastrl-nltk-")
    dst = os.path.join(root, "corpora", "wordnet")
    os.makedirs(dst)
    for f in glob.glob(os.path.join(src, "index.*")) + glob.glob(os.path.join(src, "data.*")) + glob.glob(os.path.join(src, "*.exc")):
        shutil.copy(f, dst)
    kinds = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    with gzip.open("/usr/share/man/man5/lexnames.5WN.gz", "rt") as man, open(os.path.join(dst, "lexnames"), "w") as out:
        for line in man:
            m = re.match(r"^(\d\d)\t(\S+)", line)
            if m:
                out.write(f"{m.group(1)}\t{m.group(2)}\t{kinds[m.group(2).split('.')[0]]}\n")
    nltk.data.path.insert(0, root)
    return WordNetCorpusReader(nltk.data.find("corpora/wordnet"), None)


SYN_WORDS = """dog dogs canine ran running run quickly fast fastest big larger happy glad car cars
automobile house houses home walked walking geese mice children better best good well eat ate
eaten eating fruit vegetables military army party commands command heed obeys ensures guide
action forever always troops hearing activity guidebook direct insure leaves leaf wolves
studies studying went gone""".split()


class NoWordNet:
    """An empty WordNet: nltk's synonym stage then matches nothing (our METEOR has none)."""

    def synsets(self, word):
        return []

# Words for the stemmer: every branch of NLTK's Porter rules, and its irregular forms.
STEM_WORDS = """caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated
troubled sized hopping tanned falling hissing fizzed failing filing happy sky relational conditional
rational valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli
vietnamization predication operator feudalism decisiveness hopefulness callousness formaliti
sensitiviti sensibiliti triplicate formative formalize electriciti electrical hopeful goodness
revival allowance inference airliner gyroscopic adjustable defensible irritant replacement
adjustment dependent adoption homologou communism activate angulariti homologous effective
bowdlerize probate rate cease controll roll generalization oscillators dying lying tying news
innings outings cannings howe proceed exceed succeed skies dies spied cried ied agreed
bleed knotted ought analogies fully logically archaeology biology hopefully y yy yes by ay
running jumped easily fairly cycling generously organization universities maximum played
playing plays xylophone zigzagging abilities possibly quickly centralization argues argued
caring cared""".split()

CASES = [
    ("The cat sat on the mat.", ["The cat sat on the mat."]),
    ("the cat sat on the mat", ["The cat is on the mat."]),
    ("Hello, world! How are you?", ["Hello world, how are you doing?"]),
    ("It costs $3.14, or 1,000 yen.", ["It costs 3.14 dollars (1,000 yen)."]),
    ("Scores were 2-3 and 10-7 today.", ["The scores: 2-3, then 10-7."]),
    ("Tom &amp; Jerry &lt;3 &quot;cheese&quot;", ['Tom & Jerry <3 "cheese"']),
    ("well-known e-mail re-use", ["a well known email reuse"]),
    ("", ["Something to say."]),
    ("Something to say.", [""]),
    ("I I I I I", ["I am here."]),
    ("yes", ["yes"]),
    ("no", ["yes"]),
    ("a b c d e f g", ["a b c d e f g h i j k l"]),
    ("a b c d e f g h i j k l", ["a b c d"]),
    ("Do you eat a lot of vegetables ?", ["Yes, I eat a lot of fruits and vegetables.", "No, I do not."]),
    ("Ça va très bien, merci ! Naïve café.", ["Ça va bien, merci. Naive cafe!"]),
    ("Mixed CASE Words and case words", ["mixed case words and CASE WORDS"]),
    ("tabs\tand\nnewlines -\nhere", ["tabs and newlines here"]),
    ("Wait... what?! (really) [yes] {no} ~maybe~", ["Wait, what? Really yes no maybe."]),
    ("<skipped> the end", ["the end"]),
    ("U.S.A. vs. U.K., 5.5% growth", ["USA vs UK 5.5 % growth"]),
    ("emoji 🙂 and ☃ signs", ["emoji and signs"]),
    ("the the the the the the the", ["the cat is on the mat"]),
    ("It is 9:30 am, isn't it?", ["It's 9:30 in the morning, isn't it?"]),
]


def main():
    rs = rouge_scorer.RougeScorer(["rouge2", "rougeL"])
    out = []
    for hyp, refs in CASES:
        b = sacrebleu.sentence_bleu(hyp, refs)
        r = rs.score(refs[0], hyp)
        out.append({
            "hypothesis": hyp,
            "references": refs,
            "tokens_13a": sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(hyp.rstrip()).split(),
            "bleu": b.score,
            "bleu_bp": b.bp,
            "rouge2": [r["rouge2"].precision, r["rouge2"].recall, r["rouge2"].fmeasure],
            "rougeL": [r["rougeL"].precision, r["rougeL"].recall, r["rougeL"].fmeasure],
        })
    stemmer = PorterStemmer()
    meteor_cases = [
        (hyp.split(), [r.split() for r in refs]) for hyp, refs in CASES
    ] + [
        ("It is a guide to action which ensures that the military always obeys the commands of the party".split(),
         ["It is a guide to action that ensures that the military will forever heed Party commands".split()]),
        ("the cats were running and jumping quickly".split(), ["The cat runs and jumped quick".split()]),
        ("organizations generalized their hopes".split(), ["the organization generalizes its hope".split()]),
        ("a canine sprinted fast to the automobile".split(), ["the dog ran quickly to the car".split()]),
        ("the troops always heed the party direction".split(), ["the army forever obeys party commands".split()]),
        ("they ate good fruit at home".split(), ["they eat well fruits in the house".split()]),
    ]
    wn = debian_wordnet()
    meteor_out = [
        {
            "hypothesis": h,
            "references": rs,
            "meteor": meteor_score(rs, h, wordnet=NoWordNet()),
            "meteor_wordnet": meteor_score(rs, h, wordnet=wn),
        }
        for h, rs in meteor_cases
    ]
    synonyms = {w: sorted({l.name() for s in wn.synsets(w) for l in s.lemmas()}) for w in SYN_WORDS}
    import string

    texts = [hyp for hyp, _ in CASES if hyp.strip()]
    tok = sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()
    lower = [[w.lower() for w in tok(t.rstrip()).split()] for t in texts]
    nopunct = [[w for w in inst if w not in set(string.punctuation)] for inst in lower]
    diversity = {"texts": texts, "all": gem_ngram_stats(lower), "nopunct": gem_ngram_stats(nopunct)}
    # Corpus BLEU over single-reference cases: all of them, and two slices.
    single = [(h, rs[0]) for h, rs in CASES if rs]
    corpora = [single, single[:5], single[5:12]]
    corpus_out = [
        {
            "hypotheses": [h for h, _ in c],
            "references": [r for _, r in c],
            "bleu": sacrebleu.corpus_bleu([h for h, _ in c], [[r for _, r in c]]).score,
        }
        for c in corpora
    ]
    doc = {
        "generated_by": f"sacrebleu {sacrebleu.__version__}, rouge-score (RougeScorer, no stemmer), nltk (meteor_score with an empty WordNet, PorterStemmer)",
        "cases": out,
        "corpus_bleu": corpus_out,
        "meteor": meteor_out,
        "porter": {w: stemmer.stem(w) for w in STEM_WORDS},
        "wordnet_synonyms": synonyms,
        "diversity": diversity,
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "metrics.json")
    if "--check" in sys.argv:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{path} differs from what sacrebleu / rouge-score give now; rerun without --check")
        print("metrics fixtures match the reference packages")
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
