//! The Porter stemmer exactly as NLTK's `PorterStemmer()` (mode `NLTK_EXTENSIONS`, the
//! default), which METEOR's stem stage uses. Words are handled as sequences of Unicode
//! scalar values, as Python strings are.

type Cond<'a> = Option<&'a dyn Fn(&[char]) -> bool>;

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

fn is_consonant(w: &[char], mut i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    if w[i] == 'y' {
        let mut negate = false;
        while i > 0 && w[i] == 'y' {
            negate = !negate;
            i -= 1;
        }
        return is_vowel(w[i]) == negate;
    }
    true
}

fn consonant_flags(w: &[char]) -> Vec<bool> {
    let mut f: Vec<bool> = Vec::with_capacity(w.len());
    for (i, &c) in w.iter().enumerate() {
        let v = if is_vowel(c) {
            false
        } else if c == 'y' {
            if i == 0 {
                true
            } else {
                !f[i - 1]
            }
        } else {
            true
        };
        f.push(v);
    }
    f
}

/// The number of `vc` pairs in the consonant/vowel pattern.
fn measure(stem: &[char]) -> usize {
    let f = consonant_flags(stem);
    f.windows(2).filter(|p| !p[0] && p[1]).count()
}

fn contains_vowel(stem: &[char]) -> bool {
    !consonant_flags(stem).iter().all(|&c| c)
}

fn ends_double_consonant(w: &[char]) -> bool {
    w.len() >= 2 && w[w.len() - 1] == w[w.len() - 2] && is_consonant(w, w.len() - 1)
}

fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

fn ends_with(w: &[char], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    w.len() >= s.len() && w[w.len() - s.len()..] == s[..]
}

fn strip<'a>(w: &'a [char], suffix: &str) -> &'a [char] {
    &w[..w.len() - suffix.chars().count()]
}

fn join(stem: &[char], add: &str) -> Vec<char> {
    stem.iter().copied().chain(add.chars()).collect()
}

/// `_apply_rule_list`: the first rule whose suffix matches decides.
fn apply(w: &[char], rules: &[(&str, &str, Cond<'_>)]) -> Vec<char> {
    for &(suffix, repl, cond) in rules {
        if suffix == "*d" && ends_double_consonant(w) {
            let stem = &w[..w.len() - 2];
            return if cond.is_none_or(|c| c(stem)) {
                join(stem, repl)
            } else {
                w.to_vec()
            };
        }
        if ends_with(w, suffix) {
            let stem = strip(w, suffix);
            return if cond.is_none_or(|c| c(stem)) {
                join(stem, repl)
            } else {
                w.to_vec()
            };
        }
    }
    w.to_vec()
}

fn step1a(w: &[char]) -> Vec<char> {
    if ends_with(w, "ies") && w.len() == 4 {
        return join(strip(w, "ies"), "ie");
    }
    apply(
        w,
        &[
            ("sses", "ss", None),
            ("ies", "i", None),
            ("ss", "ss", None),
            ("s", "", None),
        ],
    )
}

fn step1b(w: &[char]) -> Vec<char> {
    if ends_with(w, "ied") {
        return join(strip(w, "ied"), if w.len() == 4 { "ie" } else { "i" });
    }
    if ends_with(w, "eed") {
        let stem = strip(w, "eed");
        return if measure(stem) > 0 {
            join(stem, "ee")
        } else {
            w.to_vec()
        };
    }
    let mut inter: Option<&[char]> = None;
    for suffix in ["ed", "ing"] {
        if ends_with(w, suffix) {
            let s = strip(w, suffix);
            if contains_vowel(s) {
                inter = Some(s);
                break;
            }
        }
    }
    let Some(inter) = inter else {
        return w.to_vec();
    };
    let last = inter.last().copied().unwrap_or(' ');
    let last_s = last.to_string();
    let not_lsz = move |_: &[char]| !matches!(last, 'l' | 's' | 'z');
    let m1_cvc = |s: &[char]| measure(s) == 1 && ends_cvc(s);
    apply(
        inter,
        &[
            ("at", "ate", None),
            ("bl", "ble", None),
            ("iz", "ize", None),
            ("*d", &last_s, Some(&not_lsz)),
            ("", "e", Some(&m1_cvc)),
        ],
    )
}

fn step1c(w: &[char]) -> Vec<char> {
    let cond = |s: &[char]| s.len() > 1 && is_consonant(s, s.len() - 1);
    apply(w, &[("y", "i", Some(&cond))])
}

fn positive(s: &[char]) -> bool {
    measure(s) > 0
}

fn step2(w: &[char]) -> Vec<char> {
    if ends_with(w, "alli") && positive(strip(w, "alli")) {
        return step2(&join(strip(w, "alli"), "al"));
    }
    let logi = |_: &[char]| positive(&w[..w.len() - 3]);
    let p: Cond<'_> = Some(&positive);
    apply(
        w,
        &[
            ("ational", "ate", p),
            ("tional", "tion", p),
            ("enci", "ence", p),
            ("anci", "ance", p),
            ("izer", "ize", p),
            ("bli", "ble", p),
            ("alli", "al", p),
            ("entli", "ent", p),
            ("eli", "e", p),
            ("ousli", "ous", p),
            ("ization", "ize", p),
            ("ation", "ate", p),
            ("ator", "ate", p),
            ("alism", "al", p),
            ("iveness", "ive", p),
            ("fulness", "ful", p),
            ("ousness", "ous", p),
            ("aliti", "al", p),
            ("iviti", "ive", p),
            ("biliti", "ble", p),
            ("fulli", "ful", p),
            ("logi", "log", Some(&logi)),
        ],
    )
}

fn step3(w: &[char]) -> Vec<char> {
    let p: Cond<'_> = Some(&positive);
    apply(
        w,
        &[
            ("icate", "ic", p),
            ("ative", "", p),
            ("alize", "al", p),
            ("iciti", "ic", p),
            ("ical", "ic", p),
            ("ful", "", p),
            ("ness", "", p),
        ],
    )
}

fn step4(w: &[char]) -> Vec<char> {
    let gt1 = |s: &[char]| measure(s) > 1;
    let ion = |s: &[char]| measure(s) > 1 && matches!(s.last(), Some('s' | 't'));
    let g: Cond<'_> = Some(&gt1);
    apply(
        w,
        &[
            ("al", "", g),
            ("ance", "", g),
            ("ence", "", g),
            ("er", "", g),
            ("ic", "", g),
            ("able", "", g),
            ("ible", "", g),
            ("ant", "", g),
            ("ement", "", g),
            ("ment", "", g),
            ("ent", "", g),
            ("ion", "", Some(&ion)),
            ("ou", "", g),
            ("ism", "", g),
            ("ate", "", g),
            ("iti", "", g),
            ("ous", "", g),
            ("ive", "", g),
            ("ize", "", g),
        ],
    )
}

fn step5a(w: &[char]) -> Vec<char> {
    if ends_with(w, "e") {
        let stem = strip(w, "e");
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    w.to_vec()
}

fn step5b(w: &[char]) -> Vec<char> {
    let cond = |_: &[char]| measure(&w[..w.len() - 1]) > 1;
    apply(w, &[("ll", "l", Some(&cond))])
}

/// `nltk.stem.PorterStemmer().stem(word)`.
pub fn porter_stem(word: &str) -> String {
    let lower = word.to_lowercase();
    let irregular = match lower.as_str() {
        "sky" | "skies" => Some("sky"),
        "dying" => Some("die"),
        "lying" => Some("lie"),
        "tying" => Some("tie"),
        "news" => Some("news"),
        "innings" | "inning" => Some("inning"),
        "outings" | "outing" => Some("outing"),
        "cannings" | "canning" => Some("canning"),
        "howe" => Some("howe"),
        "proceed" => Some("proceed"),
        "exceed" => Some("exceed"),
        "succeed" => Some("succeed"),
        _ => None,
    };
    if let Some(s) = irregular {
        return s.to_string();
    }
    if word.chars().count() <= 2 {
        return lower;
    }
    let w: Vec<char> = lower.chars().collect();
    let w = step5b(&step5a(&step4(&step3(&step2(&step1c(&step1b(&step1a(
        &w,
    ))))))));
    w.into_iter().collect()
}
