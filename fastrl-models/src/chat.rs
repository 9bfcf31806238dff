//! Chat templates: the Jinja template of a Hugging Face `tokenizer_config.json` (or of a
//! GGUF file's `tokenizer.chat_template`) rendered with `minijinja` the way
//! transformers' `apply_chat_template` renders it (`trim_blocks`, `lstrip_blocks`,
//! `raise_exception`, Python's string methods), and the dialogue contexts of the corpus
//! as its turns.

use crate::error::ModelError;
use minijinja::{context, Environment, ErrorKind};
use serde::Serialize;
use std::sync::Arc;

/// End of an utterance inside a corpus context.
pub const EOU: &str = "<EOU>";

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The other speaker.
    User,
    /// The model.
    Assistant,
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The speaker.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// The turns of a corpus context (utterances separated by `<EOU>`): the last utterance
/// is the user's (the reply to generate is the assistant's), the ones before alternate.
/// Empty utterances are dropped.
pub fn turns_of(context: &str) -> Vec<Message> {
    let utts: Vec<&str> = context
        .split(EOU)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let n = utts.len();
    utts.into_iter()
        .enumerate()
        .map(|(i, u)| Message {
            role: if (n - 1 - i) % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: u.to_string(),
        })
        .collect()
}

/// Template evaluation steps allowed per rendering (a template is untrusted input: a
/// loop that never ends is an error, not a hang).
const FUEL: u64 = 1_000_000;

/// A compiled chat template with the special-token strings it may refer to.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Arc<Environment<'static>>,
    /// The template text.
    pub source: String,
    /// `bos_token` as the template sees it.
    pub bos_token: String,
    /// `eos_token` as the template sees it (the end of an assistant turn).
    pub eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("source_len", &self.source.len())
            .finish()
    }
}

const NAME: &str = "chat_template";

impl ChatTemplate {
    /// Compiles `source`; `origin` names the file in errors.
    pub fn new(
        source: &str,
        bos_token: &str,
        eos_token: &str,
        origin: &str,
    ) -> Result<Self, ModelError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_fuel(Some(FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| {
                ModelError::Tokenizer(format!("{origin}: the chat template does not parse: {e}"))
            })?;
        let t = ChatTemplate {
            env: Arc::new(env),
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        };
        // A template that cannot render a plain exchange is refused now, not mid-run.
        t.render(
            &[Message {
                role: Role::User,
                content: "hi".into(),
            }],
            true,
        )
        .map_err(|e| ModelError::Tokenizer(format!("{origin}: {e}")))?;
        Ok(t)
    }

    /// The text of `messages`, followed by the opening of an assistant turn when
    /// `add_generation_prompt`.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, ModelError> {
        let t = self
            .env
            .get_template(NAME)
            .map_err(|e| ModelError::Tokenizer(format!("chat template: {e}")))?;
        t.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
        })
        .map_err(|e| ModelError::Tokenizer(format!("rendering the chat template: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M-Instruct's template, as its GGUF metadata holds it.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn contexts_become_alternating_turns_ending_with_the_user() {
        let t = turns_of("a b <EOU> c <EOU>  <EOU> d");
        let roles: Vec<Role> = t.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        assert_eq!(t[0].content, "a b");
        assert_eq!(t[2].content, "d");
        let two = turns_of("x <EOU> y");
        assert_eq!(two[0].role, Role::Assistant);
        assert_eq!(two[1].role, Role::User);
        assert!(turns_of(" <EOU> ").is_empty());
    }

    #[test]
    fn renders_smollm2_as_chatml_by_hand() {
        let t = ChatTemplate::new(SMOLLM2, "<|im_start|>", "<|im_end|>", "test").unwrap();
        let text = t.render(&turns_of("hello <EOU> hi there"), true).unwrap();
        // Hand-derived from the template: the default system turn, the two turns, the
        // opening of the assistant's.
        assert_eq!(
            text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by \
             Hugging Face<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>\
             user\nhi there<|im_end|>\n<|im_start|>assistant\n"
        );
        let no_gen = t.render(&turns_of("q"), false).unwrap();
        assert!(
            no_gen.ends_with("<|im_start|>user\nq<|im_end|>\n"),
            "{no_gen}"
        );
    }

    #[test]
    fn jinja_features_of_common_templates() {
        // trim_blocks/lstrip_blocks, raise_exception, Python string methods, bos_token.
        let src = "{{ bos_token }}{% for m in messages %}\n  {% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}\n{{ m.content.strip().upper() }}|{% endfor %}";
        let t = ChatTemplate::new(src, "<s>", "</s>", "test").unwrap();
        let out = t.render(&turns_of(" x <EOU> y "), false).unwrap();
        assert_eq!(out, "<s>X|Y|");
        let sys = [Message {
            role: Role::System,
            content: "s".into(),
        }];
        let e = t.render(&sys, false).unwrap_err().to_string();
        assert!(e.contains("bad role system"), "{e}");
    }

    #[test]
    fn broken_and_endless_templates_are_refused_by_name() {
        let e = ChatTemplate::new("{% for m in messages %}", "", "", "cfg.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cfg.json") && e.contains("does not parse"),
            "{e}"
        );
        let endless =
            "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}";
        let e = ChatTemplate::new(endless, "", "", "cfg.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cfg.json"), "{e}");
    }
}
