//! Parsing a GGUF file (versions 2 and 3, little-endian) from its bytes:
//! header, metadata, tensor infos; every count checked against the bytes
//! left before anything is allocated, every tensor's data against the
//! file's end, its alignment and the other tensors.

use super::error::GgufError;
use super::meta::MetaValue;
use super::types::GgmlType;

/// The alignment of tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions a ggml tensor has.
const MAX_DIMS: u32 = 4;
/// Deepest array nesting read (real files nest at most once).
const MAX_NESTING: usize = 4;

/// One tensor's entry in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensor {
    /// The name as the file has it (`blk.0.attn_q.weight`).
    pub name: String,
    /// Its type.
    pub ggml_type: GgmlType,
    /// Dimensions in ggml's order: `dims[0]` varies fastest (a Linear
    /// weight of `out` rows of `in` values is `[in, out]`).
    pub dims: Vec<u64>,
    /// Where its data starts in the file.
    pub start: u64,
    /// Bytes of data.
    pub bytes: u64,
}

impl GgufTensor {
    /// The shape in row-major order (slowest axis first), as safetensors
    /// and PyTorch give it: `dims` reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Elements in all.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed GGUF file: its metadata in file order and its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    /// 2 or 3.
    pub version: u32,
    /// Key-value metadata, in file order.
    pub metadata: Vec<(String, MetaValue)>,
    /// Tensor entries, in file order.
    pub tensors: Vec<GgufTensor>,
    /// Alignment of tensor data (`general.alignment`, else 32).
    pub alignment: u64,
    /// Where the data section starts.
    pub data_start: u64,
}

impl GgufFile {
    /// Parses `bytes` (the whole file).
    pub fn parse(bytes: &[u8]) -> Result<GgufFile, GgufError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(4, || "the magic number".into())?;
        if magic != b"GGUF" {
            return Err(GgufError::NotGguf { found: String::from_utf8_lossy(magic).into_owned() });
        }
        let version = r.u32(|| "the version".into())?;
        if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
            return Err(GgufError::BigEndian { version: version.swap_bytes() });
        }
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version { version });
        }
        let tensor_count = r.u64(|| "the tensor count".into())?;
        let kv_count = r.u64(|| "the metadata count".into())?;
        // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes,
        // a tensor info 8 + 4 + 4 + 8.
        r.check_count(kv_count, 13, "the metadata")?;
        let mut metadata: Vec<(String, MetaValue)> = Vec::with_capacity(kv_count as usize);
        for i in 0..kv_count {
            let key = r.string(|| format!("metadata key {i}"))?;
            if metadata.iter().any(|(k, _)| *k == key) {
                return Err(GgufError::DuplicateKey { key });
            }
            let id = r.u32(|| format!("the type of key `{key}`"))?;
            let value = r.value(id, &key, 0)?;
            metadata.push((key, value));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, MetaValue::U32(a))) if a.is_power_of_two() => u64::from(*a),
            Some((_, v)) => return Err(GgufError::Alignment { value: format!("{v} ({})", v.type_name()) }),
        };
        r.check_count(tensor_count, 24, "the tensor table")?;
        let mut infos = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = r.string(|| format!("the name of tensor {i}"))?;
            let n_dims = r.u32(|| format!("the dimension count of tensor `{name}`"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::Dims {
                    tensor: name,
                    detail: format!("{n_dims} dimensions; ggml tensors have 1 to {MAX_DIMS}"),
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(r.u64(|| format!("dimension {d} of tensor `{name}`"))?);
            }
            let type_id = r.u32(|| format!("the type of tensor `{name}`"))?;
            let offset = r.u64(|| format!("the data offset of tensor `{name}`"))?;
            infos.push((name, dims, type_id, offset));
        }
        let data_start = r.pos.next_multiple_of(alignment as usize) as u64;
        let file_len = bytes.len() as u64;
        let mut tensors: Vec<GgufTensor> = Vec::with_capacity(infos.len());
        for (name, dims, type_id, offset) in infos {
            if tensors.iter().any(|t| t.name == name) {
                return Err(GgufError::DuplicateTensor { name });
            }
            let ggml_type = GgmlType::from_id(type_id)
                .ok_or_else(|| GgufError::TensorType { tensor: name.clone(), id: type_id })?;
            let bytes = tensor_bytes(&name, &dims, ggml_type)?;
            let placement = |detail: String| GgufError::Placement { tensor: name.clone(), detail };
            if !offset.is_multiple_of(alignment) {
                return Err(placement(format!("data offset {offset} is not a multiple of the alignment {alignment}")));
            }
            let start =
                data_start.checked_add(offset).ok_or_else(|| placement(format!("data offset {offset} overflows")))?;
            start.checked_add(bytes).filter(|&e| e <= file_len).ok_or_else(|| {
                placement(format!(
                    "{bytes} bytes of data at offset {start} run past the end of the file ({file_len} bytes)"
                ))
            })?;
            tensors.push(GgufTensor { name, ggml_type, dims, start, bytes });
        }
        check_overlaps(&tensors)?;
        Ok(GgufFile { version, metadata, tensors, alignment, data_start })
    }

    /// The value of metadata `key`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `general.architecture` (`llama`), when the file names one.
    pub fn architecture(&self) -> Option<&str> {
        self.get("general.architecture").and_then(MetaValue::as_str)
    }
}

/// Refuses tensors whose data overlap, naming the later one in the file
/// and the one it overlaps: in order of data start (n log n, whatever the
/// tensor count), each against the furthest-reaching one before it.
fn check_overlaps(tensors: &[GgufTensor]) -> Result<(), GgufError> {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| (tensors[i].start, i));
    let mut reach: Option<usize> = None;
    for i in order {
        let t = &tensors[i];
        if let Some(r) = reach {
            let other = &tensors[r];
            if t.start < other.start + other.bytes {
                let (later, earlier) = if i > r { (t, other) } else { (other, t) };
                return Err(GgufError::Placement {
                    tensor: later.name.clone(),
                    detail: format!("its data overlaps tensor `{}`'s", earlier.name),
                });
            }
        }
        if reach.is_none_or(|r| t.start + t.bytes > tensors[r].start + tensors[r].bytes) {
            reach = Some(i);
        }
    }
    Ok(())
}

/// Bytes of a tensor of `dims` and `t`: whole blocks along the fastest
/// axis, no overflow.
fn tensor_bytes(name: &str, dims: &[u64], t: GgmlType) -> Result<u64, GgufError> {
    let bad = |detail: String| GgufError::Dims { tensor: name.to_string(), detail };
    if let Some(d) = dims.iter().position(|&d| d == 0) {
        return Err(bad(format!("dimension {d} is 0")));
    }
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&e| e <= i64::MAX as u64)
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    if !dims[0].is_multiple_of(t.block_size()) {
        return Err(bad(format!(
            "{t} stores blocks of {} values along the first dimension, which is {}",
            t.block_size(),
            dims[0]
        )));
    }
    (elements / t.block_size()).checked_mul(t.type_size()).ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))
}

/// A cursor over the file's bytes; every read checks the bytes left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<&'a [u8], GgufError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.pos as u64,
                needed: n,
                len: self.bytes.len() as u64,
            });
        }
        let out = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N], GgufError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Refuses a count of items at least `min_bytes` each that the bytes
    /// left cannot hold: no allocation sized by a corrupt count.
    fn check_count(&self, count: u64, min_bytes: u64, what: &str) -> Result<(), GgufError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if count.saturating_mul(min_bytes) > left {
            return Err(GgufError::Count { what: what.to_string(), count, left });
        }
        Ok(())
    }

    fn string(&mut self, what: impl Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(|| format!("the length of {}", what()))?;
        let raw = self.take(len, &what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| GgufError::Utf8 { what: what() })
    }

    /// A value of GGUF type `id` for `key`, arrays `depth` deep.
    fn value(&mut self, id: u32, key: &str, depth: usize) -> Result<MetaValue, GgufError> {
        let what = || format!("the value of key `{key}`");
        Ok(match id {
            0 => MetaValue::U8(self.array::<1>(what)?[0]),
            1 => MetaValue::I8(self.array::<1>(what)?[0] as i8),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => MetaValue::U32(self.u32(what)?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => MetaValue::Bool(self.array::<1>(what)?[0] != 0),
            8 => MetaValue::String(self.string(what)?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(GgufError::Nesting { key: key.to_string(), max: MAX_NESTING });
                }
                let elem = self.u32(|| format!("the element type of key `{key}`"))?;
                let count = self.u64(|| format!("the length of key `{key}`"))?;
                let min = match elem {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => return Err(GgufError::ValueType { key: key.to_string(), id: other }),
                };
                self.check_count(count, min, &format!("the array of key `{key}`"))?;
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(elem, key, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64(what)?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(GgufError::ValueType { key: key.to_string(), id: other }),
        })
    }
}
