//! VADER's compound sentiment score (Hutto & Gilbert, "VADER: A Parsimonious Rule-based
//! Model for Sentiment Analysis of Social Media Text", ICWSM 2014), as PyPI
//! `vaderSentiment` 3.3.2 computes it, rule for rule, with its lexicons embedded
//! (`data/vader/`, MIT, C.J. Hutto; see THIRD-PARTY.md).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::bleu::py_space;

/// `vader_lexicon.txt` of vaderSentiment 3.3.2: `word \t mean valence \t sd \t ratings`.
const LEXICON: &str = include_str!("../data/vader/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` of vaderSentiment 3.3.2: `emoji \t description`.
const EMOJI_LEXICON: &str = include_str!("../data/vader/emoji_utf8_lexicon.txt");

/// Booster increment (empirical mean rating increase of a booster word).
const B_INCR: f64 = 0.293;
/// Dampener decrement.
const B_DECR: f64 = -0.293;
/// Increment for a word in ALL CAPS among words that are not.
const C_INCR: f64 = 0.733;
/// Negation scalar.
const N_SCALAR: f64 = -0.74;

/// vaderSentiment's `BOOSTER_DICT`: the increment of a degree word (lower case).
fn booster(word: &str) -> Option<f64> {
    match word {
        "absolutely" | "amazingly" | "awfully" | "completely" | "considerable" | "considerably"
        | "decidedly" | "deeply" | "effing" | "enormous" | "enormously" | "entirely"
        | "especially" | "exceptional" | "exceptionally" | "extreme" | "extremely"
        | "fabulously" | "flipping" | "flippin" | "frackin" | "fracking" | "fricking"
        | "frickin" | "frigging" | "friggin" | "fully" | "fuckin" | "fucking" | "fuggin"
        | "fugging" | "greatly" | "hella" | "highly" | "hugely" | "incredible" | "incredibly"
        | "intensely" | "major" | "majorly" | "more" | "most" | "particularly" | "purely"
        | "quite" | "really" | "remarkably" | "so" | "substantially" | "thoroughly" | "total"
        | "totally" | "tremendous" | "tremendously" | "uber" | "unbelievably" | "unusually"
        | "utter" | "utterly" | "very" => Some(B_INCR),
        "almost" | "barely" | "hardly" | "just enough" | "kind of" | "kinda" | "kindof"
        | "kind-of" | "less" | "little" | "marginal" | "marginally" | "occasional"
        | "occasionally" | "partly" | "scarce" | "scarcely" | "slight" | "slightly"
        | "somewhat" | "sort of" | "sorta" | "sortof" | "sort-of" => Some(B_DECR),
        _ => None,
    }
}

/// vaderSentiment's `SPECIAL_CASES`: idioms that replace the valence (lower case).
fn special_case(seq: &str) -> Option<f64> {
    match seq {
        "the shit" | "the bomb" | "to die for" => Some(3.0),
        "bad ass" | "badass" => Some(1.5),
        "bus stop" => Some(0.0),
        "yeah right" => Some(-2.0),
        "kiss of death" => Some(-1.5),
        "beating heart" => Some(3.5),
        _ => None,
    }
}

/// The two lexicons, parsed once.
struct Lexicons {
    /// Word -> mean valence.
    words: HashMap<&'static str, f64>,
    /// Emoji (one code point) -> description. Entries of several code points are left out:
    /// vaderSentiment looks emoji up one code point at a time, so they never match.
    emojis: HashMap<char, &'static str>,
}

fn lexicons() -> &'static Lexicons {
    static LEX: OnceLock<Lexicons> = OnceLock::new();
    LEX.get_or_init(|| {
        // As `make_lex_dict` / `make_emoji_dict`: lines split on '\n', stripped of white
        // space (the files end lines with "\r\n"), the first two tab-separated fields;
        // a later line wins over an earlier one with the same key.
        let mut words = HashMap::new();
        for line in LEXICON.trim_end_matches('\n').split('\n') {
            if line.is_empty() {
                continue;
            }
            let mut f = line.trim_matches(py_space).split('\t');
            let (word, measure) = (f.next().unwrap_or(""), f.next());
            let measure: f64 = measure
                .and_then(|m| m.trim_matches(py_space).parse().ok())
                .unwrap_or_else(|| panic!("embedded VADER lexicon: bad line {line:?}"));
            words.insert(word, measure);
        }
        let mut emojis = HashMap::new();
        for line in EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut f = line.trim_matches(py_space).split('\t');
            let (emoji, desc) = (f.next().unwrap_or(""), f.next());
            let desc =
                desc.unwrap_or_else(|| panic!("embedded VADER emoji lexicon: bad line {line:?}"));
            let mut cs = emoji.chars();
            if let (Some(c), None) = (cs.next(), cs.next()) {
                emojis.insert(c, desc);
            }
        }
        Lexicons { words, emojis }
    })
}

/// Python's `str.isupper`: at least one upper-case character and no lower- or title-case one.
fn py_isupper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Unicode general category Lt (titlecase letters), which Rust's `char` has no test for.
fn is_titlecase(c: char) -> bool {
    matches!(
        c,
        '\u{1c5}'
            | '\u{1c8}'
            | '\u{1cb}'
            | '\u{1f2}'
            | '\u{1f88}'..='\u{1f8f}'
            | '\u{1f98}'..='\u{1f9f}'
            | '\u{1fa8}'..='\u{1faf}'
            | '\u{1fbc}'
            | '\u{1fcc}'
            | '\u{1ffc}'
    )
}

/// `SentiText._strip_punc_if_word`: leading and trailing ASCII punctuation removed, unless
/// that leaves two code points or fewer (then the token, likely an emoticon, stays whole).
fn strip_punc_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

/// vaderSentiment's `negated([word])` for one lower-case word: a word of its `NEGATE` list,
/// or one containing "n't".
fn negated(word: &str) -> bool {
    match word {
        "aint" | "arent" | "cannot" | "cant" | "couldnt" | "darent" | "didnt" | "doesnt"
        | "ain't" | "aren't" | "can't" | "couldn't" | "daren't" | "didn't" | "doesn't" | "dont"
        | "hadnt" | "hasnt" | "havent" | "isnt" | "mightnt" | "mustnt" | "neither" | "don't"
        | "hadn't" | "hasn't" | "haven't" | "isn't" | "mightn't" | "mustn't" | "neednt"
        | "needn't" | "never" | "none" | "nope" | "nor" | "not" | "nothing" | "nowhere"
        | "oughtnt" | "shant" | "shouldnt" | "uhuh" | "wasnt" | "werent" | "oughtn't"
        | "shan't" | "shouldn't" | "uh-uh" | "wasn't" | "weren't" | "without" | "wont"
        | "wouldnt" | "won't" | "wouldn't" | "rarely" | "seldom" | "despite" => true,
        _ => word.contains("n't"),
    }
}

/// The tokens of one text: as written (for the ALL-CAPS tests) and lower-cased.
struct Tokens<'a> {
    words: Vec<&'a str>,
    lower: Vec<String>,
    /// `allcap_differential`: some, but not all, words are ALL CAPS.
    cap_diff: bool,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        let words: Vec<&str> = text
            .split(py_space)
            .filter(|w| !w.is_empty())
            .map(strip_punc_if_word)
            .collect();
        let lower = words.iter().map(|w| w.to_lowercase()).collect();
        let caps = words.iter().filter(|w| py_isupper(w)).count();
        let not_caps = words.len() - caps;
        let cap_diff = 0 < not_caps && not_caps < words.len();
        Tokens {
            words,
            lower,
            cap_diff,
        }
    }

    fn len(&self) -> usize {
        self.words.len()
    }

    fn l(&self, i: usize) -> &str {
        &self.lower[i]
    }
}

/// `scalar_inc_dec`: the booster increment that the word before a sentiment word adds.
fn scalar_inc_dec(word: &str, word_lower: &str, valence: f64, cap_diff: bool) -> f64 {
    let Some(mut scalar) = booster(word_lower) else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar *= -1.0;
    }
    if py_isupper(word) && cap_diff {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

/// `_negation_check` for the word `start_i + 1` places before word `i`.
fn negation_check(mut valence: f64, t: &Tokens<'_>, start_i: usize, i: usize) -> f64 {
    match start_i {
        0 => {
            if negated(t.l(i - 1)) {
                valence *= N_SCALAR;
            }
        }
        1 => {
            if t.l(i - 2) == "never" && (t.l(i - 1) == "so" || t.l(i - 1) == "this") {
                valence *= 1.25;
            } else if t.l(i - 2) == "without" && t.l(i - 1) == "doubt" {
            } else if negated(t.l(i - 2)) {
                valence *= N_SCALAR;
            }
        }
        _ => {
            // Python's `a and (b or c) or (d or e)`: "so"/"this" right before the word
            // boosts whatever the third word back is.
            if (t.l(i - 3) == "never" && (t.l(i - 2) == "so" || t.l(i - 2) == "this"))
                || (t.l(i - 1) == "so" || t.l(i - 1) == "this")
            {
                valence *= 1.25;
            } else if t.l(i - 3) == "without" && (t.l(i - 2) == "doubt" || t.l(i - 1) == "doubt") {
            } else if negated(t.l(i - 3)) {
                valence *= N_SCALAR;
            }
        }
    }
    valence
}

/// `_special_idioms_check` for word `i >= 3`.
fn special_idioms_check(mut valence: f64, t: &Tokens<'_>, i: usize) -> f64 {
    let onezero = format!("{} {}", t.l(i - 1), t.l(i));
    let twoonezero = format!("{} {} {}", t.l(i - 2), t.l(i - 1), t.l(i));
    let twoone = format!("{} {}", t.l(i - 2), t.l(i - 1));
    let threetwoone = format!("{} {} {}", t.l(i - 3), t.l(i - 2), t.l(i - 1));
    let threetwo = format!("{} {}", t.l(i - 3), t.l(i - 2));
    if let Some(v) = [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo]
        .into_iter()
        .find_map(|s| special_case(s))
    {
        valence = v;
    }
    if t.len() - 1 > i {
        if let Some(v) = special_case(&format!("{} {}", t.l(i), t.l(i + 1))) {
            valence = v;
        }
    }
    if t.len() - 1 > i + 1 {
        let zeroonetwo = format!("{} {} {}", t.l(i), t.l(i + 1), t.l(i + 2));
        if let Some(v) = special_case(&zeroonetwo) {
            valence = v;
        }
    }
    for n_gram in [&threetwoone, &threetwo, &twoone] {
        if let Some(b) = booster(n_gram) {
            valence += b;
        }
    }
    valence
}

/// `sentiment_valence`: the valence of word `i` after VADER's rules (0 off the lexicon).
fn sentiment_valence(lex: &HashMap<&str, f64>, t: &Tokens<'_>, i: usize) -> f64 {
    let item = t.l(i);
    let Some(&base) = lex.get(item) else {
        return 0.0;
    };
    let in_lex = |j: usize| lex.contains_key(t.l(j));
    let mut valence = base;
    // "no" before a lexicon word negates that word instead of counting itself.
    if item == "no" && i != t.len() - 1 && in_lex(i + 1) {
        valence = 0.0;
    }
    if (i > 0 && t.l(i - 1) == "no")
        || (i > 1 && t.l(i - 2) == "no")
        || (i > 2 && t.l(i - 3) == "no" && (t.l(i - 1) == "or" || t.l(i - 1) == "nor"))
    {
        valence = base * N_SCALAR;
    }
    if py_isupper(t.words[i]) && t.cap_diff {
        if valence > 0.0 {
            valence += C_INCR;
        } else {
            valence -= C_INCR;
        }
    }
    // The (up to) three words before word i, nearest first.
    for start_i in 0..i.min(3) {
        let j = i - start_i - 1;
        if !in_lex(j) {
            let mut s = scalar_inc_dec(t.words[j], t.l(j), valence, t.cap_diff);
            if start_i == 1 && s != 0.0 {
                s *= 0.95;
            }
            if start_i == 2 && s != 0.0 {
                s *= 0.9;
            }
            valence += s;
            valence = negation_check(valence, t, start_i, i);
            if start_i == 2 {
                valence = special_idioms_check(valence, t, i);
            }
        }
    }
    // `_least_check`: "least" before the word negates it, unless "at least" / "very least".
    if i > 1 && !in_lex(i - 1) && t.l(i - 1) == "least" {
        if t.l(i - 2) != "at" && t.l(i - 2) != "very" {
            valence *= N_SCALAR;
        }
    } else if i > 0 && !in_lex(i - 1) && t.l(i - 1) == "least" {
        valence *= N_SCALAR;
    }
    valence
}

/// `_but_check`, including the package's quirk: each value is looked up with
/// `list.index`, so of several equal sentiments only the first is rescaled, once per copy.
fn but_check(t: &Tokens<'_>, sentiments: &mut [f64]) {
    let Some(bi) = t.lower.iter().position(|w| w == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let v = sentiments[k];
        let si = sentiments.iter().position(|&x| x == v).unwrap_or(k);
        if si < bi {
            sentiments[si] = v * 0.5;
        } else if si > bi {
            sentiments[si] = v * 1.5;
        }
    }
}

/// `_punctuation_emphasis`: 0.292 per '!' (at most 4), and for 2 or 3 '?' 0.18 each,
/// for more 0.96.
fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.matches('!').count().min(4) as f64 * 0.292;
    let qm = match text.matches('?').count() {
        n @ 2..=3 => n as f64 * 0.18,
        n if n > 3 => 0.96,
        _ => 0.0,
    };
    ep + qm
}

/// Python's `round(x, 4)`: the double nearest to `x` correctly rounded to 4 decimals
/// (ties to even). Rust's fixed-precision formatting rounds the exact binary value the same way.
fn py_round4(x: f64) -> f64 {
    format!("{x:.4}").parse().unwrap_or(x)
}

/// VADER's compound score of `text`, equal to PyPI `vaderSentiment` 3.3.2's
/// `SentimentIntensityAnalyzer().polarity_scores(text)["compound"]` (tested on
/// `tests/fixtures/vader.json`).
///
/// Each emoji is replaced by its description; the text is split on white space and
/// stripped of surrounding punctuation; each lexicon word gets its valence v_i, adjusted for
/// preceding degree words, negations, ALL CAPS, "least", idioms, and a contrastive "but"
/// (x0.5 before it, x1.5 after); with s = sum_i v_i plus the '!'/'?' emphasis p carried
/// in the sign of the sum (s + p if s > 0, s - p if s < 0), the score is
///
/// ```text
/// compound = round(s / sqrt(s^2 + alpha), 4),   alpha = 15,
/// ```
///
/// clamped to [-1, 1] before rounding. The rules and their constants are those of Hutto &
/// Gilbert (2014), as the package implements them (quirks included, e.g. its `but` rescaling
/// via `list.index`); the normalisation is the package's `normalize`, not an equation of the
/// paper. An empty text, or one with no sentiment word, scores 0. The sum runs left to right
/// as CPython <= 3.11's `sum` does (3.12's compensated `sum` could move a result that sits on
/// a rounding boundary by 1e-4).
pub fn vader_compound(text: &str) -> f64 {
    let lex = lexicons();
    // Emoji -> " description", with a space before it unless one precedes it already.
    let mut replaced = String::with_capacity(text.len());
    let mut prev_space = true;
    for c in text.chars() {
        if let Some(desc) = lex.emojis.get(&c) {
            if !prev_space {
                replaced.push(' ');
            }
            replaced.push_str(desc);
            prev_space = false;
        } else {
            replaced.push(c);
            prev_space = c == ' ';
        }
    }
    let text = replaced.trim_matches(py_space);
    let t = Tokens::new(text);
    let mut sentiments = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let v = if booster(t.l(i)).is_some()
            || (i + 1 < t.len() && t.l(i) == "kind" && t.l(i + 1) == "of")
        {
            0.0
        } else {
            sentiment_valence(&lex.words, &t, i)
        };
        sentiments.push(v);
    }
    but_check(&t, &mut sentiments);
    if sentiments.is_empty() {
        return 0.0;
    }
    let mut sum = sentiments.iter().fold(0.0, |a, &v| a + v);
    let p = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += p;
    } else if sum < 0.0 {
        sum -= p;
    }
    let norm = (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0);
    py_round4(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicons_parse() {
        let lex = lexicons();
        // As Python's dicts: 7506 distinct words, 1212 one-code-point emoji.
        assert_eq!(lex.words.len(), 7506);
        assert_eq!(lex.emojis.len(), 1212);
        assert_eq!(lex.words.get("good"), Some(&1.9));
        assert_eq!(lex.words.get(":)"), Some(&2.0));
        assert_eq!(lex.emojis.get(&'😀'), Some(&"grinning face"));
    }

    #[test]
    fn hand_derived() {
        // "good" = 1.9: 1.9 / sqrt(1.9^2 + 15) = 0.44036... -> 0.4404.
        assert_eq!(vader_compound("good"), 0.4404);
        // Negated: 1.9 * -0.74 = -1.406 -> -1.406 / sqrt(1.406^2 + 15) = -0.3412.
        assert_eq!(vader_compound("not good"), -0.3412);
        // "but": 1.9 * 0.5 + (-2.5) * 1.5 = -2.8 -> -2.8 / sqrt(2.8^2 + 15) = -0.58589...
        assert_eq!(vader_compound("good but bad"), -0.5859);
        assert_eq!(vader_compound(""), 0.0);
        assert_eq!(vader_compound("the table"), 0.0);
    }

    #[test]
    fn python_string_predicates() {
        assert!(py_isupper("GOOD!"));
        assert!(!py_isupper("Good"));
        assert!(!py_isupper("123"));
        assert!(!py_isupper("Aǅ"));
        assert_eq!(strip_punc_if_word(":)"), ":)");
        assert_eq!(strip_punc_if_word("'good'"), "good");
        assert_eq!(strip_punc_if_word("(ok)"), "(ok)");
        assert_eq!(py_round4(0.03125), 0.0312);
        assert_eq!(py_round4(0.09375), 0.0938);
    }
}
