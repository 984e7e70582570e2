//! Host tensors: concrete data for constants, inputs, outputs and the
//! interpreter. Row-major, little-endian when turned into bytes.

use super::dtype::DType;
use half::{bf16, f16};
use thiserror::Error;

/// Typed element storage of a [`Tensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// [`DType::F32`] elements.
    F32(Vec<f32>),
    /// [`DType::F64`] elements.
    F64(Vec<f64>),
    /// [`DType::F16`] elements.
    F16(Vec<f16>),
    /// [`DType::BF16`] elements.
    BF16(Vec<bf16>),
    /// [`DType::I32`] elements.
    I32(Vec<i32>),
    /// [`DType::I64`] elements.
    I64(Vec<i64>),
    /// [`DType::U32`] elements.
    U32(Vec<u32>),
    /// [`DType::Bool`] elements.
    Bool(Vec<bool>),
}

/// Problems constructing a tensor from host data.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorError {
    /// The number of elements given does not match the shape's element count.
    #[error("shape {shape:?} holds {expected} elements but {got} were given")]
    Length {
        /// The requested shape.
        shape: Vec<usize>,
        /// Its element count.
        expected: usize,
        /// The number of elements given.
        got: usize,
    },
    /// A byte buffer's length does not match the dtype's size times the element count.
    #[error("{dtype} data of shape {shape:?} needs {expected} bytes but {got} were given")]
    Bytes {
        /// The element type the bytes were read as.
        dtype: DType,
        /// The requested shape.
        shape: Vec<usize>,
        /// The byte count the shape and dtype need.
        expected: usize,
        /// The byte count given.
        got: usize,
    },
    /// The shape's element count (or byte count) overflows `usize`.
    #[error("shape {shape:?} has more elements than this machine can address")]
    TooLarge {
        /// The requested shape.
        shape: Vec<usize>,
    },
}

/// A Rust element type that maps onto a [`DType`].
///
/// Implemented for `f32`, `f64`, [`half::f16`], [`half::bf16`], `i32`, `i64`, `u32` and
/// `bool`, so [`Tensor::new`] and [`Tensor::as_slice`] take plain `Vec`s and
/// slices of those.
pub trait Element: Copy + Send + Sync + 'static {
    /// The dtype this Rust type stores.
    const DTYPE: DType;
    /// Wraps owned elements in the matching [`TensorData`] variant.
    fn wrap(values: Vec<Self>) -> TensorData;
    /// The elements of `data` when it holds this type, `None` otherwise.
    fn view(data: &TensorData) -> Option<&[Self]>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(values: Vec<Self>) -> TensorData {
                TensorData::$variant(values)
            }
            fn view(data: &TensorData) -> Option<&[Self]> {
                match data {
                    TensorData::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, F32);
element!(f64, F64);
element!(f16, F16);
element!(bf16, BF16);
element!(i32, I32);
element!(i64, I64);
element!(u32, U32);
element!(bool, Bool);

/// A dense, row-major host tensor with a concrete shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

pub(crate) fn numel_of(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// A tensor from a shape and its row-major elements.
    pub fn new<T: Element>(shape: impl Into<Vec<usize>>, values: Vec<T>) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let expected = numel_of(&shape).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        if expected != values.len() {
            return Err(TensorError::Length { shape, expected, got: values.len() });
        }
        Ok(Tensor { shape, data: T::wrap(values) })
    }

    /// A rank-0 tensor.
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor { shape: Vec::new(), data: T::wrap(vec![value]) }
    }

    /// A tensor of `dtype` filled with zeros (false for bool).
    pub fn zeros(dtype: DType, shape: impl Into<Vec<usize>>) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let n = numel_of(&shape).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        Ok(Tensor::from_f64_unchecked(dtype, shape, &vec![0.0; n]))
    }

    /// Converts `values` to `dtype` (rounding to nearest for floats,
    /// truncating toward zero and saturating for integers, `!= 0` for bool).
    pub fn from_f64(dtype: DType, shape: impl Into<Vec<usize>>, values: &[f64]) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let expected = numel_of(&shape).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        if expected != values.len() {
            return Err(TensorError::Length { shape, expected, got: values.len() });
        }
        Ok(Tensor::from_f64_unchecked(dtype, shape, values))
    }

    pub(crate) fn from_f64_unchecked(dtype: DType, shape: Vec<usize>, values: &[f64]) -> Tensor {
        let it = values.iter().copied();
        let data = match dtype {
            DType::F32 => TensorData::F32(it.map(|v| v as f32).collect()),
            DType::F64 => TensorData::F64(values.to_vec()),
            DType::F16 => TensorData::F16(it.map(f16::from_f64).collect()),
            DType::BF16 => TensorData::BF16(it.map(bf16::from_f64).collect()),
            DType::I32 => TensorData::I32(it.map(|v| v as i32).collect()),
            DType::I64 => TensorData::I64(it.map(|v| v as i64).collect()),
            DType::U32 => TensorData::U32(it.map(|v| v as u32).collect()),
            DType::Bool => TensorData::Bool(it.map(|v| v != 0.0).collect()),
        };
        Tensor { shape, data }
    }

    /// Wraps data whose length the caller guarantees matches `shape`.
    pub(crate) fn from_data_unchecked(shape: Vec<usize>, data: TensorData) -> Tensor {
        Tensor { shape, data }
    }

    /// Integers keep full i64 precision (token ids, indices).
    pub(crate) fn from_i64_unchecked(dtype: DType, shape: Vec<usize>, values: &[i64]) -> Tensor {
        let it = values.iter().copied();
        let data = match dtype {
            DType::I32 => TensorData::I32(it.map(|v| v as i32).collect()),
            DType::I64 => TensorData::I64(values.to_vec()),
            DType::U32 => TensorData::U32(it.map(|v| v as u32).collect()),
            DType::Bool => TensorData::Bool(it.map(|v| v != 0).collect()),
            _ => {
                return Tensor::from_f64_unchecked(dtype, shape, &values.iter().map(|&v| v as f64).collect::<Vec<_>>())
            }
        };
        Tensor { shape, data }
    }

    /// Parses little-endian bytes as safetensors stores them.
    pub fn from_le_bytes(dtype: DType, shape: impl Into<Vec<usize>>, bytes: &[u8]) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let n = numel_of(&shape).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        let expected =
            n.checked_mul(dtype.size_in_bytes()).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        if bytes.len() != expected {
            return Err(TensorError::Bytes { dtype, shape, expected, got: bytes.len() });
        }
        fn chunks<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
            bytes
                .chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect()
        }
        let data = match dtype {
            DType::F32 => TensorData::F32(chunks(bytes, f32::from_le_bytes)),
            DType::F64 => TensorData::F64(chunks(bytes, f64::from_le_bytes)),
            DType::F16 => TensorData::F16(chunks(bytes, f16::from_le_bytes)),
            DType::BF16 => TensorData::BF16(chunks(bytes, bf16::from_le_bytes)),
            DType::I32 => TensorData::I32(chunks(bytes, i32::from_le_bytes)),
            DType::I64 => TensorData::I64(chunks(bytes, i64::from_le_bytes)),
            DType::U32 => TensorData::U32(chunks(bytes, u32::from_le_bytes)),
            DType::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        };
        Ok(Tensor { shape, data })
    }

    /// Little-endian bytes, the layout safetensors and GPU buffers use.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::BF16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8).collect(),
        }
    }

    /// The element type, read off the storage.
    pub fn dtype(&self) -> DType {
        match &self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
            TensorData::F16(_) => DType::F16,
            TensorData::BF16(_) => DType::BF16,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::U32(_) => DType::U32,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    /// The concrete shape, outermost axis first (`[]` for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::F16(v) => v.len(),
            TensorData::BF16(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::U32(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }

    /// The typed storage, for matching on the dtype once instead of per element.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// The elements, when `T` is this tensor's element type.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        T::view(&self.data)
    }

    /// Every element widened to f64 (exact for all dtypes but huge i64).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::F16(v) => v.iter().map(|x| x.to_f64()).collect(),
            TensorData::BF16(v) => v.iter().map(|x| x.to_f64()).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        }
    }

    /// Every element as f32 (the usual way to read float outputs).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            _ => self.to_f64_vec().into_iter().map(|x| x as f32).collect(),
        }
    }

    /// Every element as i64; floats truncate toward zero.
    pub fn to_i64_vec(&self) -> Vec<i64> {
        match &self.data {
            TensorData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I64(v) => v.clone(),
            TensorData::U32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            _ => self.to_f64_vec().into_iter().map(|x| x as i64).collect(),
        }
    }

    /// Converts to another dtype with the rules of [`Tensor::from_f64`];
    /// integer to integer conversions keep all 64 bits.
    pub fn cast(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        if !self.dtype().is_float() && !dtype.is_float() {
            return Tensor::from_i64_unchecked(dtype, self.shape.clone(), &self.to_i64_vec());
        }
        Tensor::from_f64_unchecked(dtype, self.shape.clone(), &self.to_f64_vec())
    }

    /// Same elements, new shape of the same element count.
    pub fn reshape(mut self, shape: impl Into<Vec<usize>>) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let expected = numel_of(&shape).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        if expected != self.numel() {
            return Err(TensorError::Length { shape, expected, got: self.numel() });
        }
        self.shape = shape;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_for_every_dtype() {
        for dtype in DType::ALL {
            let t = Tensor::from_f64(dtype, [2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 1.0]).unwrap();
            let back = Tensor::from_le_bytes(dtype, [2, 3], &t.to_le_bytes()).unwrap();
            assert_eq!(t, back, "{dtype}");
        }
    }

    #[test]
    fn length_errors_name_shape_and_counts() {
        let err = Tensor::new([2, 2], vec![1.0f32; 3]).unwrap_err();
        assert_eq!(err.to_string(), "shape [2, 2] holds 4 elements but 3 were given");
    }
}
