//! The weight registry: safetensors files (one, several, or HF shards with
//! `model.safetensors.index.json`) and GGUF files memory-mapped, plus
//! in-memory tensors for tests and generated weights. Tensors are converted
//! to the dtype the graph declares when they are read; GGUF tensors of the
//! LLaMA family go by their HF names, Q and K rows back in HF's order.

mod file_bytes;
mod gguf_file;

pub(crate) use file_bytes::FileBytes;

use super::gguf::{self, GgmlType, GgufFile};

use super::error::WeightError;
use super::suggest::closest_names;
use crate::graph::{DType, Tensor};
use safetensors::{Dtype as FileDtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a tensor's bytes live.
#[derive(Debug, Clone)]
enum Storage {
    /// `file` indexes `Weights::files`; `range` is absolute within the mapping.
    Mapped {
        file: usize,
        range: std::ops::Range<usize>,
        /// For each row in the order the graph reads, the stored row
        /// (GGUF Q and K, stored in llama.cpp's rotary order).
        rows: Option<Arc<[usize]>>,
    },
    Memory(Arc<Tensor>),
}

/// Metadata of one stored tensor.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// The dtype as the file spells it (`F32`, `BF16`, `F8_E4M3`, ...).
    pub file_dtype: String,
    /// The stored shape.
    pub shape: Vec<usize>,
    /// Which file holds it (empty for in-memory tensors).
    pub path: PathBuf,
    /// The name in the file, when the registry gives it another (a GGUF
    /// tensor under its HF name).
    pub file_name: Option<String>,
    storage_dtype: StoredDtype,
    storage: Storage,
}

/// The stored element type, as far as conversion is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredDtype {
    Known(DType),
    /// Integer types we read by converting on load.
    I8,
    I16,
    U8,
    U16,
    U64,
    /// A ggml block format (GGUF), read as floats by dequantizing.
    Ggml(GgmlType),
    /// Formats wgraph cannot convert (fp8, fp4, ...).
    Unsupported,
}

impl StoredDtype {
    fn of(d: FileDtype) -> StoredDtype {
        match d {
            FileDtype::F32 => StoredDtype::Known(DType::F32),
            FileDtype::F16 => StoredDtype::Known(DType::F16),
            FileDtype::BF16 => StoredDtype::Known(DType::BF16),
            FileDtype::I32 => StoredDtype::Known(DType::I32),
            FileDtype::I64 => StoredDtype::Known(DType::I64),
            FileDtype::U32 => StoredDtype::Known(DType::U32),
            FileDtype::BOOL => StoredDtype::Known(DType::Bool),
            FileDtype::F64 => StoredDtype::Known(DType::F64),
            FileDtype::I8 => StoredDtype::I8,
            FileDtype::I16 => StoredDtype::I16,
            FileDtype::U8 => StoredDtype::U8,
            FileDtype::U16 => StoredDtype::U16,
            FileDtype::U64 => StoredDtype::U64,
            _ => StoredDtype::Unsupported,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, StoredDtype::Known(d) if d.is_float()) || matches!(self, StoredDtype::Ggml(_))
    }

    fn is_int(self) -> bool {
        matches!(self, StoredDtype::Known(d) if d.is_int())
            || matches!(
                self,
                StoredDtype::I8 | StoredDtype::I16 | StoredDtype::U8 | StoredDtype::U16 | StoredDtype::U64
            )
    }

    /// Floats load as any float, integers as any integer, bool (or u8) as bool.
    fn converts_to(self, want: DType) -> bool {
        if want.is_float() {
            self.is_float()
        } else if want.is_int() {
            self.is_int()
        } else {
            matches!(self, StoredDtype::Known(DType::Bool) | StoredDtype::U8)
        }
    }
}

/// A set of named tensors: the checkpoint a graph's weights come from.
/// Cloning is cheap: the mappings and in-memory tensors are shared.
#[derive(Debug, Default, Clone)]
pub struct Weights {
    files: Vec<Arc<FileBytes>>,
    entries: BTreeMap<String, TensorInfo>,
    /// Prepended to every name the graph asks for (see [`Weights::with_prefix`]).
    prefix: String,
    /// What the registry was opened from, for messages.
    origin: String,
    /// A GGUF file's header and metadata, when the registry is one.
    gguf: Option<Arc<GgufFile>>,
}

impl Weights {
    /// An empty registry.
    pub fn new() -> Weights {
        Weights { origin: "in-memory tensors".into(), ..Default::default() }
    }

    /// Memory-maps one or several safetensors files. Nothing is read until a
    /// tensor is asked for; a name held by two files is an error.
    ///
    /// ```
    /// use wgraph::weights::save_safetensors;
    /// use wgraph::{DType, NamedTensors, Tensor, Weights};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("model.safetensors");
    /// let bias = Tensor::new([3], vec![0.5f32, -1.0, 2.0])?;
    /// save_safetensors(&path, &NamedTensors(vec![("fc.bias".into(), bias)]), None)?;
    ///
    /// let weights = Weights::open([&path])?;
    /// assert_eq!(weights.info("fc.bias").unwrap().shape, [3]);
    /// assert_eq!(weights.get("fc.bias", DType::F16)?.to_f32_vec(), [0.5, -1.0, 2.0]); // converted on read
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Weights, WeightError> {
        let mut w = Weights::new();
        let mut names = Vec::new();
        for p in paths {
            w.add_file(p.as_ref())?;
            names.push(p.as_ref().display().to_string());
        }
        w.origin = names.join(", ");
        Ok(w)
    }

    /// Opens the checkpoint of an HF model directory: `model.safetensors`, or
    /// the shards listed in `model.safetensors.index.json`; or a GGUF file
    /// given in its place.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Weights, WeightError> {
        let dir = dir.as_ref();
        if dir.is_file() {
            return Weights::open([dir]);
        }
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if index.is_file() {
            Weights::from_index(&index)
        } else if single.is_file() {
            Weights::open([single])
        } else {
            Err(WeightError::NoCheckpoint { dir: dir.to_path_buf() })
        }
    }

    /// Opens the shards an HF `model.safetensors.index.json` lists, and checks
    /// that each tensor is in the shard the index names.
    pub fn from_index(index: &Path) -> Result<Weights, WeightError> {
        let text = std::fs::read_to_string(index).map_err(|source| WeightError::Io { path: index.into(), source })?;
        let bad = |detail: String| WeightError::Index { path: index.into(), detail };
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let map =
            json.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| bad("no `weight_map` object".into()))?;
        let dir = index.parent().unwrap_or(Path::new("."));
        // A shard is a plain relative path inside the model directory: an
        // index must not make us read files elsewhere on the machine.
        for (name, shard) in map {
            let shard = shard.as_str().ok_or_else(|| bad(format!("`{name}` maps to {shard}, not a file name")))?;
            let plain = !shard.is_empty()
                && Path::new(shard).components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(bad(format!(
                    "`{name}` is listed in shard `{shard}`: a shard must be a relative path inside the model \
                     directory (no absolute path, no `..`)"
                )));
            }
        }
        let mut shards: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
        shards.sort_unstable();
        shards.dedup();
        let w = Weights::open(shards.iter().map(|s| dir.join(s)))?;
        for (name, shard) in map {
            let shard = shard.as_str().unwrap_or_default();
            match w.entries.get(name) {
                None => return Err(bad(format!("lists `{name}` in {shard}, but no shard holds it"))),
                Some(info) if !info.path.ends_with(shard) => {
                    return Err(bad(format!("lists `{name}` in {shard}, but it is in {}", info.path.display())))
                }
                Some(_) => {}
            }
        }
        Ok(w)
    }

    fn add_file(&mut self, path: &Path) -> Result<(), WeightError> {
        let io = |source| WeightError::Io { path: path.into(), source };
        // Only regular files (symlinks to them, as in the HF cache, are
        // followed): opening a FIFO would block until someone writes to it.
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(WeightError::NotAFile { path: path.into(), kind: file_kind(&meta) });
        }
        let map = FileBytes::open(path).map_err(io)?;
        self.add_bytes(path, map)
    }

    /// A registry of one checkpoint file's bytes, safetensors or GGUF (told
    /// apart by their first bytes), named `name` in messages: where there
    /// is no filesystem to map (a browser's `fetch`), or bytes already in
    /// memory.
    ///
    /// ```
    /// use wgraph::{DType, Tensor, Weights};
    /// let bytes = safetensors::serialize([("fc.bias", safetensors::tensor::TensorView::new(
    ///     safetensors::Dtype::F32, vec![2], bytemuck::cast_slice(&[0.5f32, -1.0]))?)], None)?;
    /// let weights = Weights::from_bytes("model.safetensors", bytes)?;
    /// assert_eq!(weights.get("fc.bias", DType::F32)?.to_f32_vec(), [0.5, -1.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Weights, WeightError> {
        let mut w = Weights::new();
        w.add_bytes(Path::new(name), FileBytes::Owned(bytes))?;
        w.origin = name.to_string();
        Ok(w)
    }

    fn add_bytes(&mut self, path: &Path, map: FileBytes) -> Result<(), WeightError> {
        if map.starts_with(b"GGUF") {
            return self.add_gguf(path, map);
        }
        let (header_len, meta) =
            SafeTensors::read_metadata(&map).map_err(|source| WeightError::Parse { path: path.into(), source })?;
        let base = 8 + header_len;
        let file_index = self.files.len();
        for (name, info) in meta.tensors() {
            if let Some(prev) = self.entries.get(&name) {
                return Err(WeightError::Duplicate { name, first: prev.path.clone(), second: path.into() });
            }
            let (start, end) = info.data_offsets;
            self.entries.insert(
                name,
                TensorInfo {
                    file_dtype: format!("{:?}", info.dtype),
                    shape: info.shape.clone(),
                    path: path.into(),
                    file_name: None,
                    storage_dtype: StoredDtype::of(info.dtype),
                    storage: Storage::Mapped { file: file_index, range: base + start..base + end, rows: None },
                },
            );
        }
        self.files.push(Arc::new(map));
        Ok(())
    }

    /// The GGUF file's header and metadata (architecture, hyperparameters,
    /// tokenizer), when the registry was opened from one.
    pub fn gguf(&self) -> Option<&GgufFile> {
        self.gguf.as_deref()
    }

    /// A registry of in-memory tensors (tests, generated or trained weights).
    pub fn from_tensors<S: Into<String>>(tensors: impl IntoIterator<Item = (S, Tensor)>) -> Weights {
        let mut w = Weights::new();
        for (name, t) in tensors {
            w.insert(name, t);
        }
        w
    }

    /// Adds or replaces an in-memory tensor.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) {
        let info = TensorInfo {
            file_dtype: format!("{:?}", tensor.dtype()).to_uppercase(),
            shape: tensor.shape().to_vec(),
            path: PathBuf::new(),
            file_name: None,
            storage_dtype: StoredDtype::Known(tensor.dtype()),
            storage: Storage::Memory(Arc::new(tensor)),
        };
        self.entries.insert(name.into(), info);
    }

    /// Looks every graph name up as `prefix + name`: for checkpoints saved from
    /// a wrapper model (`distilbert.` inside `DistilBertForSequenceClassification`)
    /// used by a graph of the bare model.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Weights {
        self.prefix = prefix.into();
        self
    }

    /// Drops the mapped files' pages from this process's resident memory
    /// (they stay in the page cache; reading a tensor again faults them
    /// back in). Uploads call it once the device holds its copy.
    pub(crate) fn release_mapped_pages(&self) {
        self.files.iter().for_each(|f| f.release_pages());
    }

    /// The prefix set with [`Weights::with_prefix`] (empty by default).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What the registry was opened from (file names), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every stored name, sorted (file names, without the prefix logic).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The number of stored tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the registry holds no tensors (graphs without weights run with it).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stored name a graph name resolves to.
    pub fn resolve(&self, graph_name: &str) -> String {
        format!("{}{graph_name}", self.prefix)
    }

    /// Metadata of a stored tensor, by its stored name.
    pub fn info(&self, stored_name: &str) -> Option<&TensorInfo> {
        self.entries.get(stored_name)
    }

    /// Whether a stored tensor can be read as `want`.
    pub fn converts_to(info: &TensorInfo, want: DType) -> bool {
        info.storage_dtype.converts_to(want)
    }

    /// Reads a stored tensor by its stored name, in the dtype it is stored
    /// in (integer formats wgraph has no dtype for are widened to i64).
    pub fn read(&self, stored_name: &str) -> Result<Tensor, WeightError> {
        let info = self.entries.get(stored_name).ok_or_else(|| WeightError::NotFound {
            closest: closest_names(stored_name, self.names(), 3),
            name: stored_name.to_string(),
        })?;
        match (&info.storage, info.storage_dtype) {
            (Storage::Memory(t), _) => Ok((**t).clone()),
            (_, StoredDtype::Unsupported) => Err(WeightError::Unconvertible {
                name: stored_name.to_string(),
                file_dtype: info.file_dtype.clone(),
                want: DType::F32,
            }),
            (Storage::Mapped { file, range, rows }, dtype) => {
                let bytes = self.files.get(*file).and_then(|m| m.get(range.clone())).unwrap_or_default();
                let reordered = rows.as_ref().map(|order| gguf_file::reorder_rows(bytes, order));
                let bytes = reordered.as_deref().unwrap_or(bytes);
                if let StoredDtype::Ggml(t) = dtype {
                    let elements = info.shape.iter().product();
                    let values = gguf::dequantize(t, bytes, elements)
                        .map_err(|source| WeightError::Dequantize { name: stored_name.to_string(), source })?;
                    return Tensor::new(info.shape.clone(), values)
                        .map_err(|e| WeightError::Data { name: stored_name.to_string(), source: e });
                }
                decode(dtype, &info.shape, bytes)
                    .map_err(|e| WeightError::Data { name: stored_name.to_string(), source: e })
            }
        }
    }

    /// Reads the tensor the graph calls `graph_name`, converted to `want`.
    pub fn get(&self, graph_name: &str, want: DType) -> Result<Tensor, WeightError> {
        let name = self.resolve(graph_name);
        let info = self.entries.get(&name).ok_or_else(|| WeightError::NotFound {
            closest: closest_names(&name, self.names(), 3),
            name: name.clone(),
        })?;
        if !info.storage_dtype.converts_to(want) {
            return Err(WeightError::Unconvertible { name, file_dtype: info.file_dtype.clone(), want });
        }
        let tensor = self.read(&name)?;
        // Stored as wanted: no second copy of a large weight.
        Ok(if tensor.dtype() == want { tensor } else { tensor.cast(want) })
    }
}

/// Decodes stored bytes; the wider or narrower integer and float formats go
/// through i64/f64 so that [`Tensor::cast`] can finish the conversion.
fn decode(dtype: StoredDtype, shape: &[usize], bytes: &[u8]) -> Result<Tensor, crate::graph::TensorError> {
    fn le<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }
    let expect = |n: usize| {
        let want = shape.iter().product::<usize>() * n;
        if bytes.len() == want {
            Ok(())
        } else {
            Err(crate::graph::TensorError::Bytes {
                dtype: DType::I64,
                shape: shape.to_vec(),
                expected: want,
                got: bytes.len(),
            })
        }
    };
    let ints = |v: Vec<i64>| Tensor::new(shape.to_vec(), v);
    match dtype {
        StoredDtype::Known(d) => Tensor::from_le_bytes(d, shape.to_vec(), bytes),
        StoredDtype::I8 => ints(bytes.iter().map(|&b| b as i8 as i64).collect()),
        StoredDtype::U8 => ints(bytes.iter().map(|&b| b as i64).collect()),
        StoredDtype::I16 => {
            expect(2)?;
            ints(le::<2>(bytes).map(|a| i16::from_le_bytes(a) as i64).collect())
        }
        StoredDtype::U16 => {
            expect(2)?;
            ints(le::<2>(bytes).map(|a| u16::from_le_bytes(a) as i64).collect())
        }
        StoredDtype::U64 => {
            expect(8)?;
            ints(le::<8>(bytes).map(|a| u64::from_le_bytes(a) as i64).collect())
        }
        StoredDtype::Ggml(_) | StoredDtype::Unsupported => Err(crate::graph::TensorError::Bytes {
            dtype: DType::F32,
            shape: shape.to_vec(),
            expected: 0,
            got: bytes.len(),
        }),
    }
}

/// What a path that is not a regular file is, for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}
