//! The model registry on disk: `MODELS/<name>/<version>/manifest.toml` beside the model file.
//! The supervisor rescans it, so models can be added, replaced or removed without a restart.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// What a model computes, and so how its inputs are prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Sentences → token ids (its tokenizer) → hidden states → mean pooling → unit vectors.
    Embedding,
    /// Rows of `width` floats → rows of floats (small dense models; the tests' fixtures).
    Dense,
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CUDA when the node has a GPU, the CPU otherwise.
    #[default]
    Auto,
    Cpu,
    /// CUDA or nothing: a model that asks for it fails loudly instead of running on the CPU.
    Cuda,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub task: Task,
    /// The model file in the version folder.
    #[serde(default = "default_model_file")]
    pub model: String,
    /// Input names: one for `dense`; ids, attention mask and token types for `embedding`.
    #[serde(default)]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub input: Option<String>,
    pub output: String,
    /// `dense`: floats per input row.
    #[serde(default)]
    pub width: Option<usize>,
    /// `embedding`: the tokenizer file, longest sequence in tokens, vector size.
    #[serde(default)]
    pub tokenizer: Option<String>,
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// Requests gathered into one run, and how long the first waits for others.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// Requests waiting for this version before new ones are refused (503).
    #[serde(default = "default_queue")]
    pub queue: usize,
    #[serde(default)]
    pub device: Device,
    /// Share of the model's traffic among its loaded versions (0: loaded, sent nothing).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_model_file() -> String {
    "model.onnx".into()
}
fn default_max_length() -> usize {
    256
}
fn default_max_batch() -> usize {
    32
}
fn default_max_wait_ms() -> u64 {
    2
}
fn default_queue() -> usize {
    1024
}
fn default_weight() -> u32 {
    100
}

/// One version of one model found on disk.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub version: u32,
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Changes when the manifest or the model file changes: the version is then reloaded.
    pub fingerprint: (Option<SystemTime>, Option<SystemTime>, u64),
}

impl ModelSpec {
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.model)
    }

    pub fn key(&self) -> (String, u32) {
        (self.name.clone(), self.version)
    }

    fn validate(&self) -> Result<(), String> {
        let m = &self.manifest;
        match m.task {
            Task::Dense if m.input.is_none() || m.width.is_none() => {
                Err("a dense model needs `input` and `width`".into())
            }
            Task::Embedding if m.inputs.len() != 3 || m.tokenizer.is_none() => Err(
                "an embedding model needs three `inputs` (ids, mask, types) and a `tokenizer`"
                    .into(),
            ),
            _ if m.max_batch == 0 || m.queue == 0 => Err("max_batch and queue must be > 0".into()),
            _ => Ok(()),
        }
    }
}

fn modified(path: &Path) -> (Option<SystemTime>, u64) {
    match std::fs::metadata(path) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

/// Every valid `name/version/manifest.toml` under `root`, and the folders that were refused with
/// why. Names are folder names of `[a-z0-9._-]`; versions are positive integers.
pub fn scan(root: &Path) -> (Vec<ModelSpec>, Vec<(PathBuf, String)>) {
    let (mut found, mut refused) = (Vec::new(), Vec::new());
    let Ok(models) = std::fs::read_dir(root) else {
        return (found, refused);
    };
    for model in models.flatten() {
        let name = model.file_name().to_string_lossy().to_string();
        let valid_name = !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !valid_name || !model.path().is_dir() {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(model.path()) else {
            continue;
        };
        for v in versions.flatten() {
            let Ok(version) = v.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let dir = v.path();
            let manifest_path = dir.join("manifest.toml");
            if !manifest_path.exists() {
                continue;
            }
            let manifest: Manifest = match Figment::from(Toml::file_exact(&manifest_path)).extract()
            {
                Ok(m) => m,
                Err(e) => {
                    refused.push((dir, e.to_string()));
                    continue;
                }
            };
            let (manifest_time, _) = modified(&manifest_path);
            let (model_time, model_len) = modified(&dir.join(&manifest.model));
            let spec = ModelSpec {
                name: name.clone(),
                version,
                dir: dir.clone(),
                manifest,
                fingerprint: (manifest_time, model_time, model_len),
            };
            match spec.validate() {
                Ok(()) => found.push(spec),
                Err(e) => refused.push((dir, e)),
            }
        }
    }
    found.sort_by_key(|s| s.key());
    (found, refused)
}
