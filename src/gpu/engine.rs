//! ONNX Runtime through `ort` (loaded dynamically from the library `install-models.sh` puts
//! under the models folder), and one loaded model: its session plus what its task needs
//! (a tokenizer and mean pooling for embeddings). Runs on a worker's own thread, never on the
//! async executor.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ndarray::{Array2, Axis};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::manifest::{Device, ModelSpec, Task};

static RUNTIME: OnceLock<Environment> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process's one ONNX Runtime environment (ORT allows only one), loaded from `library` on
/// first success. An error says why (no library installed, wrong version), for the AI
/// endpoints' 503 and `/readyz`; a later call tries again (the library may be installed since).
pub fn runtime(library: &Path) -> Result<Environment, String> {
    let _one_at_a_time = LOADING.lock().expect("runtime lock");
    if let Some(env) = RUNTIME.get() {
        return Ok(env.clone());
    }
    if !library.exists() {
        return Err(format!(
            "ONNX Runtime is not installed at {} (run scripts/install-models.sh)",
            library.display()
        ));
    }
    let env = ort::init_from(library)
        .map_err(|e| format!("loading ONNX Runtime from {}: {e}", library.display()))?
        .with_name("creo")
        .build()
        .map_err(|e| format!("starting ONNX Runtime: {e}"))?;
    Ok(RUNTIME.get_or_init(|| env).clone())
}

/// Whether this node has an NVIDIA GPU (its device node exists).
pub fn gpu_present() -> bool {
    Path::new("/dev/nvidia0").exists()
}

/// The device a model will run on, or why it cannot.
pub fn resolve_device(wanted: Device) -> Result<&'static str, String> {
    match wanted {
        Device::Cpu => Ok("cpu"),
        Device::Cuda if !gpu_present() => {
            Err("the model asks for CUDA and this node has no GPU".into())
        }
        Device::Cuda => Ok("cuda"),
        Device::Auto if gpu_present() => Ok("cuda"),
        Device::Auto => Ok("cpu"),
    }
}

pub struct Engine {
    session: Session,
    kind: Kind,
    output: String,
}

enum Kind {
    Dense {
        input: String,
        width: usize,
    },
    Embedding {
        tokenizer: Box<Tokenizer>,
        inputs: [String; 3],
    },
}

/// What an engine is given: one item per request of the batch.
pub enum Batch<'a> {
    Rows(Vec<&'a [f32]>),
    Texts(Vec<&'a str>),
}

impl Engine {
    pub fn load(
        spec: &ModelSpec,
        env: &Environment,
        device: &str,
        threads: usize,
    ) -> Result<Engine, String> {
        let m = &spec.manifest;
        let mut builder = Session::builder(env)
            .map_err(|e| e.to_string())?
            // ORT 1.20 and older refuse Level3; All is the same level everywhere.
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| e.to_string())?
            .with_intra_threads(threads.max(1))
            .map_err(|e| e.to_string())?
            // ORT's threads otherwise spin for a while after each run, taking the cores the
            // HTTP workers and other models need while this worker waits for its next batch.
            .with_intra_op_spinning(false)
            .map_err(|e| e.to_string())?;
        if device == "cuda" {
            // error_on_failure: a CUDA provider that cannot load must fail loudly, not fall
            // back to the CPU without a word.
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| format!("CUDA execution provider: {e}"))?;
        }
        let session = builder
            .commit_from_file(spec.model_path())
            .map_err(|e| format!("loading {}: {e}", spec.model_path().display()))?;
        let kind = match m.task {
            Task::Dense => Kind::Dense {
                input: m.input.clone().unwrap_or_default(),
                width: m.width.unwrap_or(0),
            },
            Task::Embedding => {
                let path = spec
                    .dir
                    .join(m.tokenizer.as_deref().unwrap_or("tokenizer.json"));
                let mut tokenizer = Tokenizer::from_file(&path)
                    .map_err(|e| format!("loading tokenizer {}: {e}", path.display()))?;
                // Pad each batch to its own longest input (not a fixed 128), truncate at max_length.
                tokenizer.with_padding(Some(PaddingParams {
                    strategy: PaddingStrategy::BatchLongest,
                    ..PaddingParams::default()
                }));
                tokenizer
                    .with_truncation(Some(TruncationParams {
                        max_length: m.max_length,
                        ..TruncationParams::default()
                    }))
                    .map_err(|e| e.to_string())?;
                Kind::Embedding {
                    tokenizer: Box::new(tokenizer),
                    inputs: [
                        m.inputs[0].clone(),
                        m.inputs[1].clone(),
                        m.inputs[2].clone(),
                    ],
                }
            }
        };
        Ok(Engine {
            session,
            kind,
            output: m.output.clone(),
        })
    }

    /// One output vector per input, in order.
    pub fn run(&mut self, batch: Batch<'_>) -> Result<Vec<Vec<f32>>, String> {
        match (&self.kind, batch) {
            (Kind::Dense { input, width }, Batch::Rows(rows)) => {
                let n = rows.len();
                let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
                let x = Array2::from_shape_vec((n, *width), flat).map_err(|e| e.to_string())?;
                let input = input.clone();
                let tensor = TensorRef::from_array_view(&x).map_err(|e| e.to_string())?;
                let outputs = self
                    .session
                    .run(ort::inputs![input => tensor])
                    .map_err(|e| e.to_string())?;
                let y = outputs[self.output.as_str()]
                    .try_extract_array::<f32>()
                    .map_err(|e| e.to_string())?;
                Ok(y.axis_iter(Axis(0))
                    .map(|row| row.iter().copied().collect())
                    .collect())
            }
            (Kind::Embedding { tokenizer, inputs }, Batch::Texts(texts)) => {
                let encodings = tokenizer
                    .encode_batch(texts, true)
                    .map_err(|e| e.to_string())?;
                let n = encodings.len();
                let len = encodings.first().map_or(0, |e| e.len());
                let mut ids = Array2::<i64>::zeros((n, len));
                let mut mask = Array2::<i64>::zeros((n, len));
                let mut types = Array2::<i64>::zeros((n, len));
                for (i, e) in encodings.iter().enumerate() {
                    for j in 0..len.min(e.len()) {
                        ids[[i, j]] = i64::from(e.get_ids()[j]);
                        mask[[i, j]] = i64::from(e.get_attention_mask()[j]);
                        types[[i, j]] = i64::from(e.get_type_ids()[j]);
                    }
                }
                let outputs = self
                    .session
                    .run(ort::inputs![
                        inputs[0].clone() => TensorRef::from_array_view(&ids).map_err(|e| e.to_string())?,
                        inputs[1].clone() => TensorRef::from_array_view(&mask).map_err(|e| e.to_string())?,
                        inputs[2].clone() => TensorRef::from_array_view(&types).map_err(|e| e.to_string())?,
                    ])
                    .map_err(|e| e.to_string())?;
                let hidden = outputs[self.output.as_str()]
                    .try_extract_array::<f32>()
                    .map_err(|e| e.to_string())?;
                let hidden = hidden
                    .into_dimensionality::<ndarray::Ix3>()
                    .map_err(|e| format!("{} is not [batch, tokens, dims]: {e}", self.output))?;
                Ok((0..n)
                    .map(|i| mean_pool(hidden.index_axis(Axis(0), i), mask.row(i)))
                    .collect())
            }
            _ => Err("inputs do not match the model's task".into()),
        }
    }
}

/// Mean of the token vectors the attention mask keeps, scaled to unit length (what
/// sentence-transformers does for all-MiniLM-L6-v2).
fn mean_pool(tokens: ndarray::ArrayView2<'_, f32>, mask: ndarray::ArrayView1<'_, i64>) -> Vec<f32> {
    let dims = tokens.ncols();
    let mut sum = vec![0f32; dims];
    let mut count = 0f32;
    for (t, &m) in tokens.axis_iter(Axis(0)).zip(mask.iter()) {
        if m != 0 {
            for (s, v) in sum.iter_mut().zip(t.iter()) {
                *s += v;
            }
            count += 1.0;
        }
    }
    let count = count.max(1e-9);
    sum.iter_mut().for_each(|s| *s /= count);
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter_mut().for_each(|s| *s /= norm);
    sum
}
