//! Sentence BLEU as `sacrebleu.sentence_bleu` computes it.

use std::collections::HashMap;

/// A BLEU score and its parts (scores in `[0, 100]`, as sacrebleu).
#[derive(Clone, Debug, PartialEq)]
pub struct Bleu {
    /// The score.
    pub score: f64,
    /// Brevity penalty.
    pub bp: f64,
    /// n-gram precisions (percent), n = 1..4.
    pub precisions: [f64; 4],
    /// Hypothesis length in tokens.
    pub sys_len: usize,
    /// Closest reference length in tokens.
    pub ref_len: usize,
}

/// Python's `str.isspace` (what `str.split()` splits on): Unicode white space plus the
/// ASCII information separators U+001C..U+001F, which Rust's `char::is_whitespace` omits.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// One pass of `re.sub` for a two-character pattern `(A)(B)`: leftmost, non-overlapping.
fn sub2(
    s: &[char],
    a: impl Fn(char) -> bool,
    b: impl Fn(char) -> bool,
    out: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut r = Vec::with_capacity(s.len() + s.len() / 2);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && a(s[i]) && b(s[i + 1]) {
            out(s[i], s[i + 1], &mut r);
            i += 2;
        } else {
            r.push(s[i]);
            i += 1;
        }
    }
    r
}

/// sacrebleu's `13a` tokenizer (mteval-v13a), returning the tokens.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let line = format!(" {line} ");
    // Rule 1: pad symbols: [{-~] [[-`] [ -&] [(-+] [:-@] [/].
    let symbol =
        |c: char| matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/');
    let mut s: Vec<char> = Vec::with_capacity(line.len() * 2);
    for c in line.chars() {
        if symbol(c) {
            s.extend([' ', c, ' ']);
        } else {
            s.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let dot = |c: char| c == '.' || c == ',';
    // Rule 2: ([^0-9])([.,]) -> "\1 \2 "
    let s = sub2(&s, |c| !digit(c), dot, |a, b, r| r.extend([a, ' ', b, ' ']));
    // Rule 3: ([.,])([^0-9]) -> " \1 \2"
    let s = sub2(&s, dot, |c| !digit(c), |a, b, r| r.extend([' ', a, ' ', b]));
    // Rule 4: ([0-9])(-) -> "\1 \2 "
    let s = sub2(
        &s,
        digit,
        |c| c == '-',
        |a, b, r| r.extend([a, ' ', b, ' ']),
    );
    let s: String = s.into_iter().collect();
    s.split(py_space)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// sacrebleu's preprocessing: `rstrip()`, then 13a.
fn preprocess(s: &str) -> Vec<String> {
    tokenize_13a(s.trim_end_matches(py_space))
}

fn ngrams(tokens: &[String]) -> HashMap<&[String], usize> {
    let mut m = HashMap::new();
    for n in 1..=4 {
        for w in tokens.windows(n) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

/// Matched and total n-gram counts (n = 1..4) and the lengths of one sentence, or of a
/// corpus when summed: corpus BLEU is a function of their sum, so a resample of a corpus
/// (a bootstrap's) is scored from its sentences' statistics without tokenising again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    correct: [usize; 4],
    total: [usize; 4],
    sys_len: usize,
    ref_len: usize,
}

impl BleuStats {
    /// One hypothesis against one reference (sacrebleu's per-sentence statistics).
    pub fn of(hypothesis: &str, reference: &str) -> BleuStats {
        stats(hypothesis, &[reference])
    }

    /// Adds `o`'s counts and lengths.
    pub fn add(&mut self, o: &BleuStats) {
        for n in 0..4 {
            self.correct[n] += o.correct[n];
            self.total[n] += o.total[n];
        }
        self.sys_len += o.sys_len;
        self.ref_len += o.ref_len;
    }

    /// The corpus score of these statistics (what [`corpus_bleu`] returns for the
    /// sentences summed into them).
    pub fn corpus_score(&self) -> Bleu {
        score(self, false)
    }
}

/// sacrebleu's per-sentence statistics: clipped n-gram matches against the references'
/// maximum counts, and the closest reference length (ties to the shorter).
fn stats(hypothesis: &str, references: &[&str]) -> BleuStats {
    let hyp = preprocess(hypothesis);
    let refs: Vec<Vec<String>> = references.iter().map(|r| preprocess(r)).collect();
    let mut ref_counts: HashMap<&[String], usize> = HashMap::new();
    for r in &refs {
        for (g, c) in ngrams(r) {
            let e = ref_counts.entry(g).or_insert(0);
            *e = (*e).max(c);
        }
    }
    let sys_len = hyp.len();
    let mut ref_len = 0usize;
    let mut best: Option<usize> = None;
    for r in &refs {
        let d = sys_len.abs_diff(r.len());
        if best.is_none_or(|b| d < b) || (best == Some(d) && r.len() < ref_len) {
            best = Some(d);
            ref_len = r.len();
        }
    }
    let mut st = BleuStats {
        sys_len,
        ref_len,
        ..Default::default()
    };
    for (g, c) in ngrams(&hyp) {
        st.total[g.len() - 1] += c;
        if let Some(&rc) = ref_counts.get(g) {
            st.correct[g.len() - 1] += c.min(rc);
        }
    }
    st
}

/// sacrebleu's `compute_bleu` with `exp` smoothing; `effective_order` (sentence BLEU)
/// averages only the orders the hypothesis has.
fn score(st: &BleuStats, effective_order: bool) -> Bleu {
    let BleuStats {
        correct,
        total,
        sys_len,
        ref_len,
    } = *st;
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0f64; 4];
    if correct.iter().all(|&c| c == 0) {
        return Bleu {
            score: 0.0,
            bp,
            precisions,
            sys_len,
            ref_len,
        };
    }
    let mut smooth = 1.0f64;
    let mut eff_order = 4;
    for n in 1..=4 {
        if total[n - 1] == 0 {
            break;
        }
        if effective_order {
            eff_order = n;
        }
        precisions[n - 1] = if correct[n - 1] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n - 1] as f64)
        } else {
            100.0 * correct[n - 1] as f64 / total[n - 1] as f64
        };
    }
    let my_log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    let score = bp
        * (precisions[..eff_order]
            .iter()
            .map(|&p| my_log(p))
            .sum::<f64>()
            / eff_order as f64)
            .exp();
    Bleu {
        score,
        bp,
        precisions,
        sys_len,
        ref_len,
    }
}

/// `sacrebleu.sentence_bleu(hypothesis, references)` with its defaults: 13a tokenisation,
/// no lowercasing, `exp` smoothing (mteval's: each order with no match gets
/// `100 / (2^k * total)`), effective order. Returns 0 when nothing matches or there are no
/// references.
pub fn sentence_bleu(hypothesis: &str, references: &[&str]) -> Bleu {
    score(&stats(hypothesis, references), true)
}

/// `sacrebleu.corpus_bleu(hypotheses, [references])` with its defaults (13a, `exp`
/// smoothing, no effective order) for one reference per hypothesis: n-gram matches,
/// totals and lengths summed over the corpus, then one score.
pub fn corpus_bleu(hypotheses: &[&str], references: &[&str]) -> Bleu {
    let mut st = BleuStats::default();
    for (h, r) in hypotheses.iter().zip(references) {
        st.add(&BleuStats::of(h, r));
    }
    st.corpus_score()
}
