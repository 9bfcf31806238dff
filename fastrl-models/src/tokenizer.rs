//! Tokenizers through the `tokenizers` crate: a Hugging Face `tokenizer.json` (with the
//! chat template and end-of-turn token of the `tokenizer_config.json` beside it), or a
//! byte-level BPE trained on the corpus (GPT-2's scheme) with `<|endoftext|>` (end of a
//! response, also the padding token) and `<EOU>` (end of an utterance) as special tokens.

use crate::chat::{turns_of, ChatTemplate};
use crate::error::ModelError;
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerBuilder,
};

/// End of a response (GPT-2's end-of-text token); also used as padding.
pub const EOS: &str = "<|endoftext|>";
pub use crate::chat::EOU;
/// The file beside `tokenizer.json` with the chat template and special tokens.
pub const CONFIG_FILE: &str = "tokenizer_config.json";

/// A tokenizer with the ids the trainer needs.
#[derive(Clone)]
pub struct Tok {
    inner: Tokenizer,
    /// Id of the token that ends a response: the chat template's end of turn (the
    /// `eos_token` of `tokenizer_config.json`) when there is one, else [`EOS`].
    pub eos: i64,
    /// The chat template contexts are rendered with, if the model has one.
    chat: Option<ChatTemplate>,
}

impl std::fmt::Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tok")
            .field("vocab", &self.vocab_size())
            .field("eos", &self.eos)
            .field("chat", &self.chat)
            .finish()
    }
}

/// The part of a Hugging Face `tokenizer_config.json` the trainer reads.
#[derive(serde::Deserialize)]
struct TokConfigFile {
    #[serde(default)]
    chat_template: Option<TemplateField>,
    #[serde(default)]
    bos_token: Option<TokenField>,
    #[serde(default)]
    eos_token: Option<TokenField>,
}

/// `chat_template`: a string, or (older files) a list of named templates.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TemplateField {
    One(String),
    Named(Vec<NamedTemplate>),
}

#[derive(serde::Deserialize)]
struct NamedTemplate {
    name: String,
    template: String,
}

/// A special token: its string, or an `AddedToken` record.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TokenField {
    Text(String),
    Added { content: String },
}

impl TokenField {
    fn text(&self) -> &str {
        match self {
            TokenField::Text(s) | TokenField::Added { content: s } => s,
        }
    }
}

/// Chat settings: the template and the strings of its special tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatSpec {
    /// The Jinja template.
    pub template: String,
    /// `bos_token` (may be empty).
    pub bos_token: String,
    /// `eos_token`: the end of an assistant turn.
    pub eos_token: String,
}

fn tk_err(what: &str) -> impl Fn(tokenizers::Error) -> ModelError + '_ {
    move |e| ModelError::Tokenizer(format!("{what}: {e}"))
}

impl Tok {
    fn wrap(inner: Tokenizer, origin: &str) -> Result<Self, ModelError> {
        let eos = inner.token_to_id(EOS).ok_or_else(|| {
            ModelError::Tokenizer(format!(
                "{origin} has no {EOS} token and no tokenizer_config.json naming an \
                 eos_token; the trainer needs one to end responses"
            ))
        })? as i64;
        Ok(Tok {
            inner,
            eos,
            chat: None,
        })
    }

    /// `inner` with a chat template: responses end at `spec.eos_token`, which must be a
    /// token of the vocabulary.
    fn wrap_chat(inner: Tokenizer, spec: &ChatSpec, origin: &str) -> Result<Self, ModelError> {
        let eos = inner.token_to_id(&spec.eos_token).ok_or_else(|| {
            ModelError::Tokenizer(format!(
                "{origin}: the eos_token {:?} is not a token of the vocabulary",
                spec.eos_token
            ))
        })? as i64;
        let chat = ChatTemplate::new(&spec.template, &spec.bos_token, &spec.eos_token, origin)?;
        Ok(Tok {
            inner,
            eos,
            chat: Some(chat),
        })
    }

    /// The chat settings read from a `tokenizer_config.json` text; `None` when it has no
    /// chat template (an eos_token alone only replaces [`EOS`]).
    fn read_config(
        text: &str,
        origin: &str,
    ) -> Result<(Option<ChatSpec>, Option<String>), ModelError> {
        let c: TokConfigFile = serde_json::from_str(text)
            .map_err(|e| ModelError::Tokenizer(format!("{origin}: {e}")))?;
        let eos = c.eos_token.as_ref().map(|t| t.text().to_string());
        let template = match c.chat_template {
            None => None,
            Some(TemplateField::One(s)) => Some(s),
            Some(TemplateField::Named(list)) => {
                let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
                let Some(t) = list.iter().find(|t| t.name == "default") else {
                    return Err(ModelError::Tokenizer(format!(
                        "{origin}: chat_template lists {names:?} but no \"default\""
                    )));
                };
                Some(t.template.clone())
            }
        };
        let Some(template) = template else {
            return Ok((None, eos));
        };
        let Some(eos_token) = eos else {
            return Err(ModelError::Tokenizer(format!(
                "{origin} has a chat_template but no eos_token: the end of a turn is unknown"
            )));
        };
        let spec = ChatSpec {
            template,
            bos_token: c
                .bos_token
                .map(|t| t.text().to_string())
                .unwrap_or_default(),
            eos_token,
        };
        Ok((Some(spec), None))
    }

    /// A tokenizer with an explicit chat setup (a GGUF file's metadata).
    pub fn from_json_with_chat(
        json: &str,
        spec: &ChatSpec,
        origin: &str,
    ) -> Result<Self, ModelError> {
        let inner: Tokenizer = json
            .parse()
            .map_err(|e| ModelError::Tokenizer(format!("{origin}: {e}")))?;
        Tok::wrap_chat(inner, spec, origin)
    }

    /// The chat template, if contexts are rendered with one.
    pub fn chat(&self) -> Option<&ChatTemplate> {
        self.chat.as_ref()
    }

    /// The `tokenizer_config.json` that makes [`Tok::load`] rebuild this tokenizer's chat
    /// setup (and transformers' `apply_chat_template` render the same text); `None`
    /// without a chat template.
    pub fn config_json(&self) -> Option<String> {
        let c = self.chat.as_ref()?;
        let v = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": c.bos_token,
            "eos_token": c.eos_token,
            "chat_template": c.source,
            "add_bos_token": false,
            "clean_up_tokenization_spaces": false,
        });
        serde_json::to_string_pretty(&v).ok()
    }

    /// Token ids of a corpus context (utterances separated by `<EOU>`) as the prompt of
    /// the reply, at most `max_tokens` long. With a chat template: each utterance a turn
    /// (the last one the user's), rendered with the opening of the assistant's turn; the
    /// earliest turns are dropped until it fits, then the earliest words of the last
    /// turn. Without: the last `max_tokens` tokens of the text.
    pub fn encode_context(&self, context: &str, max_tokens: usize) -> Result<Vec<i64>, ModelError> {
        let Some(chat) = &self.chat else {
            let mut ids = self.encode(context)?;
            if ids.len() > max_tokens {
                ids.drain(..ids.len() - max_tokens);
            }
            return Ok(ids);
        };
        let mut turns = turns_of(context);
        for start in 0..turns.len() {
            let ids = self.encode(&chat.render(&turns[start..], true)?)?;
            if ids.len() <= max_tokens {
                return Ok(ids);
            }
        }
        // The last turn alone is too long: drop its first words (binary search on how
        // many to keep; fewer words never encode longer).
        let Some(last) = turns.pop() else {
            let ids = self.encode(&chat.render(&[], true)?)?;
            return if ids.len() <= max_tokens {
                Ok(ids)
            } else {
                Err(self.too_short(max_tokens, ids.len()))
            };
        };
        let words: Vec<&str> = last.content.split_whitespace().collect();
        let with = |keep: usize| -> Result<Vec<i64>, ModelError> {
            let mut m = last.clone();
            m.content = words[words.len() - keep..].join(" ");
            self.encode(&chat.render(std::slice::from_ref(&m), true)?)
        };
        let empty = with(0)?;
        if empty.len() > max_tokens {
            return Err(self.too_short(max_tokens, empty.len()));
        }
        let (mut lo, mut hi) = (0usize, words.len());
        let mut best = empty;
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let ids = with(mid)?;
            if ids.len() <= max_tokens {
                lo = mid;
                best = ids;
            } else {
                hi = mid - 1;
            }
        }
        Ok(best)
    }

    fn too_short(&self, max_tokens: usize, need: usize) -> ModelError {
        ModelError::Config(format!(
            "tokenizer.max_context_tokens = {max_tokens} cannot hold the chat template's own \
             tokens ({need} for a turn without words); raise it"
        ))
    }

    /// Trains a byte-level BPE of `vocab_size` entries on `texts`.
    pub fn train<'a>(
        texts: impl Iterator<Item = &'a str> + Send,
        vocab_size: usize,
    ) -> Result<Self, ModelError> {
        if vocab_size < 260 {
            return Err(ModelError::Config(format!(
                "tokenizer.vocab_size {vocab_size} < 260: byte-level BPE needs the 256 bytes \
                 and the special tokens"
            )));
        }
        let mut tok = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        >::default()
        .with_model(BPE::default())
        .with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
            false, true, true,
        ))))
        .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())))
        .build()
        .map_err(tk_err("building the BPE tokenizer"))?;
        let specials = vec![AddedToken::from(EOS, true), AddedToken::from(EOU, true)];
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        tok.train(&mut trainer, texts)
            .map_err(tk_err("training the BPE tokenizer"))?;
        let json = tok
            .to_string(false)
            .map_err(tk_err("serialising the tokenizer"))?;
        let inner: Tokenizer = json
            .parse()
            .map_err(tk_err("reloading the trained tokenizer"))?;
        Tok::wrap(inner, "the trained tokenizer")
    }

    /// Loads a `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        if !path.exists() {
            return Err(ModelError::Tokenizer(format!(
                "{} does not exist; set tokenizer.path to a tokenizer.json, or leave it empty \
                 to train one on the corpus",
                path.display()
            )));
        }
        let inner = Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        let cfg_path = path.with_file_name(CONFIG_FILE);
        if !cfg_path.is_file() {
            return Tok::wrap(inner, &path.display().to_string());
        }
        let origin = cfg_path.display().to_string();
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
        match Tok::read_config(&text, &origin)? {
            (Some(spec), _) => Tok::wrap_chat(inner, &spec, &origin),
            (None, Some(eos)) if inner.token_to_id(EOS).is_none() => {
                let id = inner.token_to_id(&eos).ok_or_else(|| {
                    ModelError::Tokenizer(format!(
                        "{origin}: the eos_token {eos:?} is not a token of the vocabulary"
                    ))
                })?;
                Ok(Tok {
                    inner,
                    eos: i64::from(id),
                    chat: None,
                })
            }
            (None, _) => Tok::wrap(inner, &path.display().to_string()),
        }
    }

    /// Parses a `tokenizer.json` text; `origin` names it in errors.
    pub fn from_json(json: &str, origin: &str) -> Result<Self, ModelError> {
        let inner: Tokenizer = json
            .parse()
            .map_err(|e| ModelError::Tokenizer(format!("{origin}: {e}")))?;
        Tok::wrap(inner, origin)
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.inner.token_to_id(token).map(i64::from)
    }

    /// The string of token `id`, if it is in the vocabulary.
    pub fn decode_token(&self, id: i64) -> Option<String> {
        u32::try_from(id)
            .ok()
            .and_then(|i| self.inner.id_to_token(i))
    }

    /// Writes `tokenizer.json` to `path`.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.inner
            .save(path, false)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// Vocabulary size including special tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text` (no special tokens added; `<EOU>` in the text is recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, ModelError> {
        let enc = self.inner.encode(text, false).map_err(tk_err("encoding"))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Text of `ids`, special tokens dropped.
    pub fn decode(&self, ids: &[i64]) -> Result<String, ModelError> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner.decode(&ids, true).map_err(tk_err("decoding"))
    }

    /// Checks that every id this tokenizer produces is an embedding row of a model with
    /// `model_vocab` rows.
    pub fn check_model(&self, model_vocab: i64) -> Result<(), ModelError> {
        if self.vocab_size() as i64 > model_vocab {
            return Err(ModelError::Tokenizer(format!(
                "the tokenizer has {} tokens but the model's vocab_size is {model_vocab}: they \
                 do not belong together (use the tokenizer.json saved with the model)",
                self.vocab_size()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_round_trips_and_keeps_specials() {
        let texts = [
            "hello there how are you <EOU>",
            "i am fine thank you",
            "what are you doing today ? <EOU>",
            "nothing much , just reading a book",
        ];
        let tok = Tok::train(texts.iter().copied().cycle().take(200), 300).unwrap();
        let ids = tok.encode("how are you <EOU> fine").unwrap();
        assert!(ids.contains(&(tok.inner.token_to_id(EOU).unwrap() as i64)));
        assert_eq!(tok.decode(&ids).unwrap(), "how are you  fine");
        let plain = tok.encode("i am reading").unwrap();
        assert_eq!(tok.decode(&plain).unwrap(), "i am reading");
        // Unseen characters still encode (byte level).
        let odd = tok.encode("zebra ü").unwrap();
        assert_eq!(tok.decode(&odd).unwrap(), "zebra ü");
        assert!(tok.check_model(tok.vocab_size() as i64).is_ok());
        let e = tok.check_model(10).unwrap_err().to_string();
        assert!(e.contains("do not belong"), "{e}");
        assert!(Tok::train(texts.iter().copied(), 100).is_err());
    }
}
