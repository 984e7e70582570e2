//! The `tokenizer.ggml.*` metadata of a GGUF file, read and checked once:
//! every array the builders use has the token list's length and the right
//! element type, or the error names the key.

use wgraph::weights::gguf::{GgufFile, MetaValue};

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
    /// A value llama.cpp does not define; treated as a normal token.
    Other,
}

impl TokenType {
    fn from_id(id: u64) -> TokenType {
        match id {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Other,
        }
    }
}

/// What a builder needs from the file.
pub(super) struct Spec<'a> {
    pub architecture: &'a str,
    /// `tokenizer.ggml.model`: `gpt2`, `llama`, ...
    pub model: &'a str,
    /// `tokenizer.ggml.pre`; `default` when absent.
    pub pre: &'a str,
    pub tokens: Vec<&'a str>,
    /// One per token when the file has `tokenizer.ggml.scores`.
    pub scores: Option<Vec<f64>>,
    /// One per token; all normal when the file has no types.
    pub types: Vec<TokenType>,
    pub merges: Option<Vec<&'a str>>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
}

impl<'a> Spec<'a> {
    pub fn read(gguf: &'a GgufFile) -> Result<Spec<'a>, String> {
        let text = |key: &str| gguf.get(key).and_then(MetaValue::as_str);
        let model = text("tokenizer.ggml.model").ok_or("no `tokenizer.ggml.model`: the file carries no tokenizer")?;
        let array = |key: &str| -> Result<Option<&'a [MetaValue]>, String> {
            match gguf.get(key) {
                None => Ok(None),
                Some(v) => v.as_array().map(Some).ok_or(format!("`{key}` is {}, not an array", v.type_name())),
            }
        };
        let strings = |key: &str| -> Result<Option<Vec<&'a str>>, String> {
            let Some(items) = array(key)? else { return Ok(None) };
            let each = |v: &'a MetaValue| v.as_str().ok_or(format!("`{key}` holds {}, not strings", v.type_name()));
            items.iter().map(each).collect::<Result<Vec<_>, _>>().map(Some)
        };
        let tokens = strings("tokenizer.ggml.tokens")?.ok_or("no `tokenizer.ggml.tokens` array")?;
        let per_token = |key: &str, items: &[MetaValue]| -> Result<(), String> {
            match items.len() == tokens.len() {
                true => Ok(()),
                false => Err(format!("`{key}` has {} entries for {} tokens", items.len(), tokens.len())),
            }
        };
        let scores = match array("tokenizer.ggml.scores")? {
            None => None,
            Some(items) => {
                per_token("tokenizer.ggml.scores", items)?;
                let each = |v: &MetaValue| v.as_f64().ok_or(format!("`tokenizer.ggml.scores` holds {}", v.type_name()));
                Some(items.iter().map(each).collect::<Result<Vec<_>, _>>()?)
            }
        };
        let types = match array("tokenizer.ggml.token_type")? {
            None => vec![TokenType::Normal; tokens.len()],
            Some(items) => {
                per_token("tokenizer.ggml.token_type", items)?;
                let each = |v: &MetaValue| {
                    v.as_u64()
                        .map(TokenType::from_id)
                        .ok_or(format!("`tokenizer.ggml.token_type` holds {}", v.type_name()))
                };
                items.iter().map(each).collect::<Result<Vec<_>, _>>()?
            }
        };
        let id = |key: &str| -> Result<Option<u32>, String> {
            let Some(v) = gguf.get(key) else { return Ok(None) };
            let id = v.as_u64().ok_or(format!("`{key}` is {v}, not a token id"))?;
            match usize::try_from(id).is_ok_and(|i| i < tokens.len()) {
                true => Ok(Some(id as u32)),
                false => Err(format!("`{key}` {id} is past the {} tokens", tokens.len())),
            }
        };
        let flag = |key: &str| gguf.get(key).and_then(MetaValue::as_bool);
        Ok(Spec {
            architecture: gguf.architecture().unwrap_or(""),
            model,
            pre: text("tokenizer.ggml.pre").unwrap_or("default"),
            scores,
            types,
            merges: strings("tokenizer.ggml.merges")?,
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            unk: id("tokenizer.ggml.unknown_token_id")?,
            pad: id("tokenizer.ggml.padding_token_id")?,
            // llama.cpp adds BOS to a SentencePiece vocabulary that does not
            // say otherwise; HF's loader follows it.
            add_bos: flag("tokenizer.ggml.add_bos_token").unwrap_or(model == "llama"),
            add_eos: flag("tokenizer.ggml.add_eos_token").unwrap_or(false),
            tokens,
        })
    }

    /// The tokens of one type, in id order.
    pub fn tokens_of(&self, kind: TokenType) -> impl Iterator<Item = &'a str> + '_ {
        self.tokens.iter().zip(&self.types).filter(move |(_, t)| **t == kind).map(|(tok, _)| *tok)
    }

    /// The ids the file names BOS, EOS, UNK and PAD.
    pub fn named_ids(&self) -> impl Iterator<Item = u32> {
        [self.bos, self.eos, self.unk, self.pad].into_iter().flatten()
    }

    /// The merges as token pairs, when the file lists them.
    pub fn merge_pairs(&self) -> Result<Option<Vec<(String, String)>>, String> {
        let Some(merges) = &self.merges else { return Ok(None) };
        let pair = |m: &&str| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or(format!("merge `{m}` is not two tokens"))
        };
        merges.iter().map(pair).collect::<Result<Vec<_>, _>>().map(Some)
    }
}
