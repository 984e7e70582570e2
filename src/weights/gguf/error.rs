//! What can be wrong with a GGUF file, each naming the key, tensor or
//! offset at fault.

/// A GGUF file that cannot be read as one.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GgufError {
    /// The file does not start with `GGUF`.
    #[error("not a GGUF file: it starts with {found:?}, not \"GGUF\"")]
    NotGguf {
        /// The first bytes.
        found: String,
    },
    /// A byte-swapped (big-endian) GGUF file.
    #[error("a big-endian GGUF file (version {version} byte-swapped); only little-endian files are read\n  hint: convert it with llama.cpp's gguf tools on a little-endian machine")]
    BigEndian {
        /// The version, byte-swapped back.
        version: u32,
    },
    /// A version other than 2 or 3.
    #[error("GGUF version {version} is not read (versions 2 and 3 are){}", if *version == 1 { "\n  hint: version 1 files predate August 2023; convert the model again with a current llama.cpp" } else { "" })]
    Version {
        /// The file's version.
        version: u32,
    },
    /// The file ends inside a field.
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, but the file has {len}")]
    Truncated {
        /// The field (`the value of key \`general.name\``).
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// The file's length.
        len: u64,
    },
    /// A count larger than the bytes left could hold.
    #[error("{what} claims {count} entries, more than the {left} bytes left in the file can hold")]
    Count {
        /// What is counted.
        what: String,
        /// The count in the file.
        count: u64,
        /// Bytes after it.
        left: u64,
    },
    /// A string that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    Utf8 {
        /// The field.
        what: String,
    },
    /// An unknown metadata value type.
    #[error("key `{key}` has value type {id}, which GGUF does not define (0-12)")]
    ValueType {
        /// The key.
        key: String,
        /// The type number.
        id: u32,
    },
    /// Arrays nested deeper than any real file nests them.
    #[error("key `{key}` nests arrays more than {max} deep")]
    Nesting {
        /// The key.
        key: String,
        /// The deepest nesting read.
        max: usize,
    },
    /// A key given twice.
    #[error("key `{key}` appears twice")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// `general.alignment` is not a power of two held in a u32.
    #[error("`general.alignment` is {value}; it must be a u32 power of two")]
    Alignment {
        /// The value as written.
        value: String,
    },
    /// A tensor name given twice.
    #[error("tensor `{name}` appears twice")]
    DuplicateTensor {
        /// The name.
        name: String,
    },
    /// A tensor type number ggml does not define.
    #[error("tensor `{tensor}` has type {id}, which ggml does not define")]
    TensorType {
        /// The tensor.
        tensor: String,
        /// The type number.
        id: u32,
    },
    /// Dimensions that describe no tensor.
    #[error("tensor `{tensor}`: {detail}")]
    Dims {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// Data outside the file or not where the alignment puts it.
    #[error("tensor `{tensor}`: {detail}")]
    Placement {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
}
