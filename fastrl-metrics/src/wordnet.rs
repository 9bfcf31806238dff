//! A WordNet 3.0 reader for METEOR's synonym stage, answering what nltk's
//! `wordnet.synsets(word)` + `lemma.name()` answer: the lemma names of every synset of
//! every part of speech whose lemma is `word` or its morphological base form (nltk 3.10's
//! `_morphy`: the exception list, else one round of suffix rules).
//!
//! Reads the database files of the WordNet distribution (`index.{noun,verb,adj,adv}`,
//! `data.*`, `*.exc`), e.g. Debian's `wordnet-base` in `/usr/share/wordnet`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

const FILES: [&str; 4] = ["noun", "verb", "adj", "adv"];

/// nltk's `MORPHOLOGICAL_SUBSTITUTIONS`, per part of speech (noun, verb, adj, adv).
const RULES: [&[(&str, &str)]; 4] = [
    &[
        ("s", ""),
        ("ses", "s"),
        ("ves", "f"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ],
    &[
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ],
    &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    &[],
];

/// The WordNet database in memory.
#[derive(Debug)]
pub struct WordNet {
    /// lemma -> synset offsets per part of speech.
    index: HashMap<String, [Vec<usize>; 4]>,
    exceptions: [HashMap<String, Vec<String>>; 4],
    data: [Vec<u8>; 4],
}

fn bad(file: &Path, line: usize, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}:{line}: {what}", file.display()),
    )
}

impl WordNet {
    /// Where WordNet is looked for: `$FASTRL_WORDNET`, else `/usr/share/wordnet` (Debian's
    /// `wordnet-base`), if it holds `data.noun`.
    pub fn default_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("FASTRL_WORDNET")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/wordnet"));
        dir.join("data.noun").is_file().then_some(dir)
    }

    /// Loads the database from `dir`.
    pub fn load(dir: &Path) -> io::Result<Self> {
        let mut index: HashMap<String, [Vec<usize>; 4]> = HashMap::new();
        let mut exceptions: [HashMap<String, Vec<String>>; 4] = Default::default();
        let mut data: [Vec<u8>; 4] = Default::default();
        for (p, name) in FILES.iter().enumerate() {
            let path = dir.join(format!("index.{name}"));
            let text = std::fs::read_to_string(&path)?;
            for (i, line) in text.lines().enumerate() {
                if line.starts_with(' ') || line.is_empty() {
                    continue; // license header
                }
                let t: Vec<&str> = line.split_whitespace().collect();
                let num = |k: usize| {
                    t.get(k)
                        .and_then(|x| x.parse::<usize>().ok())
                        .ok_or_else(|| bad(&path, i + 1, "bad field"))
                };
                let n_synsets = num(2)?;
                let n_pointers = num(3)?;
                let first = 4 + n_pointers + 2;
                let offsets = (0..n_synsets)
                    .map(|k| num(first + k))
                    .collect::<io::Result<Vec<_>>>()?;
                index.entry(t[0].to_string()).or_default()[p] = offsets;
            }
            let exc = dir.join(format!("{name}.exc"));
            for line in std::fs::read_to_string(&exc)?.lines() {
                let mut t = line.split_whitespace();
                if let Some(form) = t.next() {
                    exceptions[p].insert(form.to_string(), t.map(str::to_string).collect());
                }
            }
            data[p] = std::fs::read(dir.join(format!("data.{name}")))?;
        }
        Ok(WordNet {
            index,
            exceptions,
            data,
        })
    }

    /// nltk's `_morphy(form, pos)`.
    fn morphy(&self, form: &str, p: usize) -> Vec<&str> {
        let mut candidates: Vec<String> = vec![form.to_string()];
        match self.exceptions[p].get(form) {
            Some(bases) => candidates.extend(bases.iter().cloned()),
            None => {
                for (old, new) in RULES[p] {
                    if let Some(stem) = form.strip_suffix(old) {
                        candidates.push(format!("{stem}{new}"));
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in candidates {
            if let Some((key, offs)) = self.index.get_key_value(c.as_str()) {
                if !offs[p].is_empty() && seen.insert(key.as_str()) {
                    out.push(key.as_str());
                }
            }
        }
        out
    }

    /// The lemma names (case kept, adjective markers like `(a)` removed) of the synset at
    /// byte `offset` of the data file of part of speech `p`.
    fn lemma_names(&self, p: usize, offset: usize, out: &mut Vec<String>) {
        let d = &self.data[p];
        let Some(rest) = d.get(offset..) else { return };
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]);
        let cols = line.split('|').next().unwrap_or("");
        let t: Vec<&str> = cols.split_whitespace().collect();
        let Some(n) = t.get(3).and_then(|x| usize::from_str_radix(x, 16).ok()) else {
            return;
        };
        for k in 0..n {
            if let Some(name) = t.get(4 + 2 * k) {
                // nltk: re.match(r"(.*?)(\(.*\))?$") drops a trailing "(...)" marker.
                let name = match (name.find('('), name.ends_with(')')) {
                    (Some(i), true) => &name[..i],
                    _ => name,
                };
                out.push(name.to_string());
            }
        }
    }

    /// The names of all lemmas of all synsets of `word` (lowercased first, as nltk does).
    pub fn synonyms(&self, word: &str) -> HashSet<String> {
        let word = word.to_lowercase();
        let mut names = Vec::new();
        for p in 0..4 {
            for form in self.morphy(&word, p) {
                for &off in &self.index[form][p] {
                    self.lemma_names(p, off, &mut names);
                }
            }
        }
        names.into_iter().collect()
    }
}
