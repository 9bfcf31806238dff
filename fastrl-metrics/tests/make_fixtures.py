#!/usr/bin/env python3
"""Writes the parity fixtures that tests/parity.rs reads; scripts/test.sh regenerates them
and fails on a diff:

- fixtures/metrics.json: sentence BLEU (sacrebleu), ROUGE-2 and ROUGE-L (rouge-score),
  METEOR and the Porter stemmer (nltk), on hand-picked cases that exercise the tokenizers'
  edges (needs Debian's WordNet 3.0 under /usr/share/wordnet);
- fixtures/vader.json: VADER's compound score (vaderSentiment 3.3.2) on sentences that
  exercise each of its rules, plus lines from the Chit Chat dataset.

    .venv/bin/python fastrl-metrics/tests/make_fixtures.py [--check] [--only metrics|vader]
"""

import glob
import gzip
import json
import os
import re
import shutil
import sys
import tempfile


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


def metrics_doc():
    """The document of fixtures/metrics.json."""
    import sacrebleu
    from nltk.stem import PorterStemmer
    from nltk.translate.meteor_score import meteor_score
    from rouge_score import rouge_scorer

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
    return doc, f"{len(out)} cases"


# VADER sentences, one group per rule of vaderSentiment 3.3.2 (comments name the rule).
VADER_SENTENCES = [
    # The package's own examples.
    "VADER is smart, handsome, and funny.",
    "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.",
    "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "The book was good.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    "It was one of the worst movies I've seen, despite good reviews.",
    "Unbelievably bad acting!!",
    "Poor direction.",
    "VERY poor production.",
    "The movie was bad.",
    "Very bad movie.",
    "VERY BAD movie!",
    "balloons", "cake", "candles", "happy birthday", "friends", "laughing", "smiling", "party",
    "riot", "fire", "fight", "blood", "mob", "war", "police", "tear gas",
    # Negations: every NEGATE word, n't forms, distance 1-3, "no" as negation and as a word.
    "I am not happy.",
    "I am not very happy.",
    "I am not at all happy about it.",
    "This isn't good.",
    "This isnt good.",
    "This is NOT good.",
    "It ain't bad.",
    "They aren't nice people.",
    "I cannot recommend it, it is awful.",
    "I can't say I love it.",
    "She couldn't be happier.",
    "He didn't like the food.",
    "It doesn't hurt.",
    "Don't worry, be happy.",
    "I dont hate it.",
    "We hadn't won yet.",
    "He hasn't smiled in days.",
    "I haven't had fun.",
    "It mightn't be a disaster.",
    "You mustn't panic.",
    "Neither good nor bad.",
    "You needn't be sad.",
    "I have never been so happy.",
    "I have never been this happy!",
    "I never said it was great.",
    "None of it was helpful.",
    "Nope, not funny.",
    "Nothing good ever happens.",
    "Nowhere near perfect.",
    "It shouldn't be a problem.",
    "uhuh, not great",
    "uh-uh, that is wrong",
    "It wasn't terrible.",
    "They weren't friendly.",
    "A day without sunshine is sad.",
    "It won't fail.",
    "I wouldn't call it a success.",
    "Rarely have I seen such beauty.",
    "I seldom feel lonely.",
    "Despite the rain, we had a wonderful time.",
    "no problem",
    "No way, that is great!",
    "There is no love here.",
    "no no no",
    "No.",
    "No good deed goes unpunished.",
    "There is no joy or love here.",
    "no hope nor love left",
    "It is no fun at all.",
    "Not the worst thing ever.",
    "This is n't good.",
    "I've got no complaints.",
    # "least".
    "That was the least helpful answer.",
    "At least it works.",
    "Very least helpful.",
    "least helpful",
    "It is least wonderful.",
    # "but" (and the package's index() quirk on repeated values).
    "I love it but I hate the price.",
    "The food was great, but the service was terrible.",
    "Good but not great.",
    "good good but bad bad",
    "bad bad but good good",
    "nice nice nice but ok",
    "But it was good.",
    "It was good but.",
    "It was bad, BUT the ending was lovely.",
    "Fun but tiring, but worth it.",
    "happy sad happy but sad happy sad",
    "I wanted to like it but I couldn't.",
    "It was nice but okay.",
    "The staff was helpful but the room was okay.",
    "You are kind, but that joke was ok",
    "I laugh but it is cool.",
    "nice nice but okay okay",
    # All caps, mixed caps.
    "GREAT!",
    "THIS IS GREAT",
    "This is GREAT",
    "This is GREAT, really GREAT.",
    "I HATE Mondays.",
    "I am SO happy.",
    "I am SO SAD today.",
    "It is VERY VERY good.",
    "NO problem at all.",
    "That is NOT bad.",
    "Kind OF good.",
    "ÉNORME succès, GOOD job.",
    "ΚΑΛΗΜΕΡΑ friends, GOOD morning.",
    "ǅemal is GOOD.",
    "ǅA GOOD",
    "(ÇÀ) GOOD (çà)",
    "LOL that was FUNNY",
    "WTF is this?",
    "OMG I love it",
    "A+ great work",
    # Exclamation and question marks.
    "Good!",
    "Good!!",
    "Good!!!",
    "Good!!!!",
    "Good!!!!!!!!",
    "Bad!!!",
    "Really?",
    "Is it good?",
    "Is it good??",
    "Is it good???",
    "Is it good????",
    "Is it bad?????",
    "Is it good?!?!",
    "!!!",
    "???",
    "Why?? Why would you do that??",
    "What a lovely day!!! Isn't it??",
    "Sure! Why not?",
    "The table is brown!",
    # Emoticons and emoji.
    ":)",
    ":(",
    ":-)",
    ":-(",
    ":D",
    ";)",
    ":/",
    ":P",
    "<3",
    "</3",
    "xD",
    "XD",
    ":'(",
    "8-)",
    "^_^",
    "o_O",
    "=)",
    "I passed :)",
    "I failed :(",
    "I passed :-) yay",
    "lol :D :D",
    "great :((",
    "(: good",
    "love it <3 <3",
    "😀",
    "😢",
    "😂😂😂",
    "I love you ❤",
    "I love you ❤️",
    "Nice work 👍",
    "Nice work 👍🏽",
    "That is 💩",
    "great😀!",
    "😀great",
    "sad 😢 but 😀 happy",
    "Going home 🏠 now",
    "🇺🇸 flag day",
    "👨‍👩‍👧 family time",
    "so 😡 right now",
    "🔥🔥🔥 amazing",
    "☹ sigh",
    "☺ ok",
    "✨ magic ✨",
    "I'm 💯 sure",
    "🎉🎂 party time!!",
    "🙂",
    "🙃 whatever",
    "😭😭 why",
    "🤔?",
    # "kind of", "sort of" and other degree words (boosters and dampeners).
    "It was kind of good.",
    "It was kind of bad.",
    "It was sort of nice.",
    "It was kinda nice.",
    "It was sorta bad.",
    "It was kindof great.",
    "It was kind-of great.",
    "It was sort-of ugly.",
    "kind of",
    "It is just enough good.",
    "It was almost perfect.",
    "It is barely acceptable.",
    "It is hardly helpful.",
    "A little happy.",
    "A slightly better day.",
    "It was somewhat disappointing.",
    "It was occasionally funny.",
    "It was marginally better.",
    "It was partly cloudy and partly sad.",
    "It was scarcely useful.",
    "It was absolutely amazing.",
    "It was amazingly bad.",
    "It was awfully nice.",
    "It was completely wrong.",
    "It was considerably better.",
    "It was decidedly ugly.",
    "I am deeply sorry.",
    "That was effing great.",
    "It was enormously helpful.",
    "It was entirely fine.",
    "It was especially sweet.",
    "It was exceptionally good.",
    "It is extremely dangerous.",
    "It was fabulously rich.",
    "It was flipping awesome.",
    "It was frickin horrible.",
    "It is fully safe.",
    "It is fucking great.",
    "We greatly appreciate it.",
    "It was hella fun.",
    "It is highly recommended.",
    "It is hugely popular.",
    "It was incredibly kind.",
    "I intensely dislike it.",
    "That was majorly stupid.",
    "More fun, more joy.",
    "The most beautiful place.",
    "It was particularly nasty.",
    "It was purely lucky.",
    "It was quite good.",
    "It was really really good.",
    "It was remarkably calm.",
    "I am so so happy.",
    "It substantially improved.",
    "It was thoroughly enjoyable.",
    "Total disaster.",
    "It was totally awesome.",
    "It was tremendously sad.",
    "It was uber cool.",
    "It was unbelievably good.",
    "It was unusually pleasant.",
    "It was utterly ridiculous.",
    "It was very very very good.",
    "It was very, very good.",
    "It was VERY good.",
    "It was very GOOD.",
    "very",
    "so so",
    "It was very not good.",
    "Extremely not funny.",
    "It was so very extremely good.",
    # Special-case idioms, and the sentiment-laden ones the package does not score.
    "This song is the shit.",
    "This party is the bomb.",
    "He is a bad ass.",
    "What a badass move.",
    "I waited at the bus stop.",
    "yeah right, that is great",
    "Oh yeah right, sure.",
    "That was the kiss of death.",
    "A cake to die for.",
    "A beating heart of gold.",
    "It really is the shit, man.",
    "I think this one is the bomb, honestly.",
    "That idea does not cut the mustard.",
    "They live hand to mouth.",
    "A back handed compliment.",
    "Stop blowing smoke.",
    "We have the upper hand.",
    "Break a leg tonight!",
    "Now we are cooking with gas.",
    "The company is in the black.",
    "The company is in the red.",
    "She is on the ball.",
    "I feel under the weather.",
    # Punctuation around words; short tokens kept whole.
    "'good'",
    "\"great\"",
    "(happy)",
    "...sad...",
    "--love--",
    "!good!",
    "ok.",
    "ok",
    "a,b,c good",
    "good,bad",
    "e-mail is great",
    "#happy #blessed",
    "@friend thanks!",
    "http://example.com is great",
    "Good.Bad.",
    # Whitespace, empty and odd input.
    "",
    " ",
    "\t\n",
    "good",
    "   good   ",
    "good\tbad\nugly",
    "good\u00a0day",
    "good\u2003day",
    "good\u001cday happy",
    "good\u200bday",
    "12345",
    "3.14 is a nice number",
    "The quick brown fox jumps over the lazy dog.",
    "Ça va très bien, merci ! Naïve café.",
    "Ich bin glücklich.",
    "Я очень рад.",
    "我很高兴",
    "İstanbul is lovely.",
    "ΣΟΦΟΣ is GREAT",
    "happy happy joy joy",
    "sad " * 20,
    "love " * 50 + "!",
    "not " * 5 + "good",
]

# Degree word x valence word x punctuation, rotated so each combination's parts all occur.
VADER_MODIFIERS = ["", "very ", "VERY ", "not ", "not very ", "kind of ", "sort of ", "barely ",
                   "never so ", "hardly ", "extremely ", "isn't really ", "no ", "the least ",
                   "at least ", "without doubt "]
VADER_WORDS = ["good", "bad", "GOOD", "horrible", "nice", "ok", "disappointing", "fun"]
VADER_PUNCT = [".", "!", "!!!", "?", "??", "?!?!", "", " :)"]


def chitchat_lines(n=80):
    """Every k-th message of the Chit Chat dataset (deterministic): real chit-chat lines."""
    import chitchat_dataset as ccc

    messages = list(ccc.MessageDataset())
    step = len(messages) // n
    return [messages[k * step] for k in range(n)]


def vader_doc():
    """The document of fixtures/vader.json."""
    from importlib.metadata import version

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    templated = [
        f"The movie was {m}{w}{VADER_PUNCT[(i + j) % len(VADER_PUNCT)]}"
        for i, m in enumerate(VADER_MODIFIERS)
        for j, w in enumerate(VADER_WORDS)
    ]
    sentences = VADER_SENTENCES + templated + chitchat_lines()
    assert len(set(sentences)) == len(sentences), "duplicate VADER sentences"
    analyzer = SentimentIntensityAnalyzer()
    cases = [{"text": t, "compound": analyzer.polarity_scores(t)["compound"]} for t in sentences]
    doc = {
        "generated_by": f"vaderSentiment {version('vaderSentiment')} SentimentIntensityAnalyzer().polarity_scores(text)['compound'], "
        + f"chit-chat lines from chitchat-dataset {version('chitchat-dataset')}",
        "cases": cases,
    }
    return doc, f"{len(cases)} VADER cases"


def main():
    targets = {"metrics": metrics_doc, "vader": vader_doc}
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only is not None and only not in targets:
        sys.exit(f"--only {only!r}: expected one of {sorted(targets)}")
    for name, make in targets.items():
        if only is not None and name != only:
            continue
        doc, what = make()
        text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", f"{name}.json")
        if "--check" in sys.argv:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    sys.exit(f"{path} differs from what the reference packages give now; rerun without --check")
            print(f"{name} fixtures match the reference packages")
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {what} to {path}")


if __name__ == "__main__":
    main()
