//! Tokenizers through the `tokenizers` crate: a Hugging Face `tokenizer.json`, or a
//! byte-level BPE trained on the corpus (GPT-2's scheme) with `<|endoftext|>` (end of a
//! response, also the padding token) and `<EOU>` (end of an utterance) as special tokens.

use crate::error::TrainerError;
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerBuilder,
};

/// End of a response (GPT-2's end-of-text token); also used as padding.
pub const EOS: &str = "<|endoftext|>";
/// End of an utterance inside a context.
pub const EOU: &str = "<EOU>";

/// A tokenizer with the ids the trainer needs.
#[derive(Clone)]
pub struct Tok {
    inner: Tokenizer,
    /// Id of [`EOS`].
    pub eos: i64,
}

impl std::fmt::Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tok")
            .field("vocab", &self.vocab_size())
            .field("eos", &self.eos)
            .finish()
    }
}

fn tk_err(what: &str) -> impl Fn(tokenizers::Error) -> TrainerError + '_ {
    move |e| TrainerError::Tokenizer(format!("{what}: {e}"))
}

impl Tok {
    fn wrap(inner: Tokenizer, origin: &str) -> Result<Self, TrainerError> {
        let eos = inner.token_to_id(EOS).ok_or_else(|| {
            TrainerError::Tokenizer(format!(
                "{origin} has no {EOS} token; the trainer needs it to end responses"
            ))
        })? as i64;
        Ok(Tok { inner, eos })
    }

    /// Trains a byte-level BPE of `vocab_size` entries on `texts`.
    pub fn train<'a>(
        texts: impl Iterator<Item = &'a str> + Send,
        vocab_size: usize,
    ) -> Result<Self, TrainerError> {
        if vocab_size < 260 {
            return Err(TrainerError::Config(format!(
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
    pub fn load(path: &Path) -> Result<Self, TrainerError> {
        if !path.exists() {
            return Err(TrainerError::Tokenizer(format!(
                "{} does not exist; set tokenizer.path to a tokenizer.json, or leave it empty \
                 to train one on the corpus",
                path.display()
            )));
        }
        let inner = Tokenizer::from_file(path)
            .map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", path.display())))?;
        Tok::wrap(inner, &path.display().to_string())
    }

    /// Parses a `tokenizer.json` text; `origin` names it in errors.
    pub fn from_json(json: &str, origin: &str) -> Result<Self, TrainerError> {
        let inner: Tokenizer = json
            .parse()
            .map_err(|e| TrainerError::Tokenizer(format!("{origin}: {e}")))?;
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
    pub fn save(&self, path: &Path) -> Result<(), TrainerError> {
        self.inner
            .save(path, false)
            .map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// Vocabulary size including special tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text` (no special tokens added; `<EOU>` in the text is recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, TrainerError> {
        let enc = self.inner.encode(text, false).map_err(tk_err("encoding"))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Text of `ids`, special tokens dropped.
    pub fn decode(&self, ids: &[i64]) -> Result<String, TrainerError> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner.decode(&ids, true).map_err(tk_err("decoding"))
    }

    /// Checks that every id this tokenizer produces is an embedding row of a model with
    /// `model_vocab` rows.
    pub fn check_model(&self, model_vocab: i64) -> Result<(), TrainerError> {
        if self.vocab_size() as i64 > model_vocab {
            return Err(TrainerError::Tokenizer(format!(
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
