//! HF checkpoint directories: `config.json` read with typed, named errors.

use std::path::{Path, PathBuf};
use thiserror::Error;
use wgraph::{AutodiffError, GraphError};

/// Errors turning a checkpoint directory into a graph.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: `{key}` must be {expected}{}", found.as_ref().map(|f| format!(", found {f}")).unwrap_or_else(|| ", but it is missing".into()))]
    Field { path: PathBuf, key: String, expected: &'static str, found: Option<String> },
    #[error("{path}: {detail}")]
    Config { path: PathBuf, detail: String },
    #[error("model_type `{model_type}` is not supported; wgraph builds: {}", supported.join(", "))]
    Unsupported { model_type: String, supported: Vec<&'static str> },
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
}

/// The most layers a config may ask for (see [`HfConfig::layers`]).
pub const MAX_LAYERS: usize = 1024;

/// A parsed `config.json`.
#[derive(Debug, Clone)]
pub struct HfConfig {
    path: PathBuf,
    json: serde_json::Value,
}

impl HfConfig {
    /// Reads `<dir>/config.json`; for a GGUF file given in place of the
    /// directory, the config its metadata implies.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<HfConfig, ModelError> {
        if dir.as_ref().is_file() {
            let path = dir.as_ref().to_path_buf();
            let text = crate::gguf_config::config_from_gguf(&path)
                .map_err(|detail| ModelError::Config { path: path.clone(), detail })?;
            return HfConfig::from_str(&text, path);
        }
        let path = dir.as_ref().join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        HfConfig::from_str(&text, path)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn from_str(text: &str, path: impl Into<PathBuf>) -> Result<HfConfig, ModelError> {
        let path = path.into();
        let json = serde_json::from_str(text).map_err(|source| ModelError::Json { path: path.clone(), source })?;
        Ok(HfConfig { path, json })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn field_error(&self, key: &str, expected: &'static str) -> ModelError {
        ModelError::Field {
            path: self.path.clone(),
            key: key.into(),
            expected,
            found: self.json.get(key).map(|v| v.to_string()),
        }
    }

    /// A problem with the values (not the types) of the config.
    pub fn invalid(&self, detail: impl Into<String>) -> ModelError {
        ModelError::Config { path: self.path.clone(), detail: detail.into() }
    }

    pub fn model_type(&self) -> Result<&str, ModelError> {
        self.json.get("model_type").and_then(|v| v.as_str()).ok_or_else(|| self.field_error("model_type", "a string"))
    }

    /// `architectures`, e.g. `["DistilBertForSequenceClassification"]`.
    pub fn architectures(&self) -> Vec<String> {
        let list = self.json.get("architectures").and_then(|v| v.as_array());
        list.map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default()
    }

    /// A required non-negative integer.
    pub fn usize(&self, key: &str) -> Result<usize, ModelError> {
        let v = self
            .json
            .get(key)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| self.field_error(key, "a non-negative integer"))?;
        usize::try_from(v).map_err(|_| self.field_error(key, "an integer that fits in usize"))
    }

    /// A required count of layers: at most [`MAX_LAYERS`]. A config with a
    /// billion layers would otherwise make the graph builder allocate until
    /// the process is killed.
    pub fn layers(&self, key: &str) -> Result<usize, ModelError> {
        let n = self.usize(key)?;
        if n > MAX_LAYERS {
            return Err(self.invalid(format!(
                "`{key}` is {n}; wgraph builds at most {MAX_LAYERS} layers (the largest published models have \
                 under 200): is the config corrupt?"
            )));
        }
        Ok(n)
    }

    /// An optional non-negative integer (`null` counts as absent).
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, ModelError> {
        match self.json.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(_) => self.usize(key),
        }
    }

    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, ModelError> {
        match self.json.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.field_error(key, "a number")),
        }
    }

    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str, ModelError> {
        match self.json.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.field_error(key, "a string")),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ModelError> {
        match self.json.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.field_error(key, "true or false")),
        }
    }

    /// A number at a nested path (`["rope_parameters", "rope_theta"]`).
    pub fn json_f64(&self, path: &[&str]) -> Option<f64> {
        path.iter().try_fold(&self.json, |v, k| v.get(k))?.as_f64()
    }

    /// A string at a nested path.
    pub fn json_str(&self, path: &[&str]) -> Option<&str> {
        path.iter().try_fold(&self.json, |v, k| v.get(k))?.as_str()
    }

    /// An integer or list of integers (`eos_token_id` is either); empty when absent.
    pub fn int_list(&self, key: &str) -> Vec<i64> {
        match self.json.get(key) {
            Some(serde_json::Value::Number(n)) => n.as_i64().into_iter().collect(),
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_i64()).collect(),
            _ => Vec::new(),
        }
    }

    /// The labels of a classification head as HF's `PretrainedConfig` has
    /// them: `id2label` when present (it decides `num_labels`), otherwise
    /// `num_labels` (default 2) labels named `LABEL_0`, `LABEL_1`, ...
    pub fn class_labels(&self) -> Result<Vec<String>, ModelError> {
        let labels = self.id2label()?;
        if self.json.get("id2label").is_some() {
            return Ok(labels);
        }
        let n = self.usize_or("num_labels", 2)?;
        Ok((0..n).map(|i| format!("LABEL_{i}")).collect())
    }

    /// `problem_type` (`regression`, `single_label_classification`,
    /// `multi_label_classification`), when the config sets it.
    pub fn problem_type(&self) -> Result<Option<&str>, ModelError> {
        match self.json.get("problem_type") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.field_error("problem_type", "a string")),
        }
    }

    /// Labels ordered by id from `id2label` (`{"0": "NEGATIVE", "1": "POSITIVE"}`);
    /// empty when absent.
    pub fn id2label(&self) -> Result<Vec<String>, ModelError> {
        let Some(map) = self.json.get("id2label") else { return Ok(Vec::new()) };
        let map = map.as_object().ok_or_else(|| self.field_error("id2label", "an object of id to label"))?;
        let mut labels: Vec<(usize, String)> = Vec::with_capacity(map.len());
        for (k, v) in map {
            let id = k.parse().map_err(|_| self.field_error("id2label", "an object keyed by integer ids"))?;
            labels.push((id, v.as_str().unwrap_or_default().to_string()));
        }
        labels.sort();
        if labels.iter().enumerate().any(|(i, (id, _))| i != *id) {
            return Err(self.invalid("`id2label` ids must be 0..n without gaps"));
        }
        Ok(labels.into_iter().map(|(_, l)| l).collect())
    }
}
