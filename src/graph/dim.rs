//! Dimensions: static sizes and symbolic ones (`batch`, `seq`), with just
//! enough algebra for transformers.
//!
//! A [`Dim`] is a polynomial with integer coefficients over named symbols, kept
//! in a canonical form so that equality is structural: `seq + past` equals
//! `past + seq`, `batch*seq` equals `seq*batch`. That covers what models need
//! (flattening `[batch, seq, h]` to `[batch*seq, h]`, a KV cache of length
//! `past + seq`, `seq - 1` for shifted labels) without a general solver.

use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Add, Mul, Sub};
use std::sync::Arc;

/// The name of a symbolic dimension. Equal names mean equal sizes.
pub type Symbol = Arc<str>;

/// Sizes bound to symbols for one execution.
pub type Bindings = BTreeMap<Symbol, usize>;

/// One dimension of a tensor shape: a static size or a polynomial over symbols.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dim {
    /// Monomial (sorted symbol list, empty for the constant term) to a non-zero coefficient.
    terms: BTreeMap<Vec<Symbol>, i64>,
}

impl Dim {
    /// A static size.
    pub fn new(size: usize) -> Dim {
        Dim::constant(size as i64)
    }

    fn constant(c: i64) -> Dim {
        let mut terms = BTreeMap::new();
        if c != 0 {
            terms.insert(Vec::new(), c);
        }
        Dim { terms }
    }

    /// A symbolic size, bound when inputs arrive. Equal names mean equal sizes.
    pub fn sym(name: impl AsRef<str>) -> Dim {
        let mut terms = BTreeMap::new();
        terms.insert(vec![Symbol::from(name.as_ref())], 1);
        Dim { terms }
    }

    /// The size, when it does not depend on any symbol (and is not negative).
    pub fn as_static(&self) -> Option<usize> {
        match self.terms.len() {
            0 => Some(0),
            1 => {
                let (mono, &c) = self.terms.iter().next()?;
                (mono.is_empty() && c >= 0).then_some(c as usize)
            }
            _ => None,
        }
    }

    /// Whether the size is known without binding any symbol.
    pub fn is_static(&self) -> bool {
        self.as_static().is_some()
    }

    /// The symbol, when this dim is exactly one symbol (`seq`, not `seq + 1`).
    pub fn as_symbol(&self) -> Option<&Symbol> {
        if self.terms.len() != 1 {
            return None;
        }
        let (mono, &c) = self.terms.iter().next()?;
        (mono.len() == 1 && c == 1).then(|| &mono[0])
    }

    /// Every symbol this dim mentions.
    pub fn symbols(&self) -> BTreeSet<Symbol> {
        self.terms.keys().flatten().cloned().collect()
    }

    /// The size under `bindings`; `None` when a symbol is unbound or the
    /// value would be negative or overflow.
    pub fn eval(&self, bindings: &Bindings) -> Option<usize> {
        let mut total: i64 = 0;
        for (mono, &c) in &self.terms {
            let mut term = c;
            for s in mono {
                let v = i64::try_from(*bindings.get(s)?).ok()?;
                term = term.checked_mul(v)?;
            }
            total = total.checked_add(term)?;
        }
        usize::try_from(total).ok()
    }

    /// Whether every value this dim can take is a multiple of `n` (all
    /// coefficients divisible by `n`).
    pub fn divisible_by(&self, n: i64) -> bool {
        n != 0 && self.terms.values().all(|c| c % n == 0)
    }

    /// The product of several dims (the element count of a shape).
    pub fn product<'a>(dims: impl IntoIterator<Item = &'a Dim>) -> Dim {
        dims.into_iter().fold(Dim::new(1), |acc, d| &acc * d)
    }

    fn from_terms(terms: BTreeMap<Vec<Symbol>, i64>) -> Dim {
        Dim { terms: terms.into_iter().filter(|(_, c)| *c != 0).collect() }
    }
}

impl From<usize> for Dim {
    fn from(size: usize) -> Dim {
        Dim::new(size)
    }
}

impl From<&str> for Dim {
    fn from(name: &str) -> Dim {
        Dim::sym(name)
    }
}

impl From<&Dim> for Dim {
    fn from(d: &Dim) -> Dim {
        d.clone()
    }
}

impl Add for &Dim {
    type Output = Dim;
    fn add(self, rhs: &Dim) -> Dim {
        let mut terms = self.terms.clone();
        for (mono, c) in &rhs.terms {
            *terms.entry(mono.clone()).or_insert(0) += c;
        }
        Dim::from_terms(terms)
    }
}

impl Sub for &Dim {
    type Output = Dim;
    fn sub(self, rhs: &Dim) -> Dim {
        let mut terms = self.terms.clone();
        for (mono, c) in &rhs.terms {
            *terms.entry(mono.clone()).or_insert(0) -= c;
        }
        Dim::from_terms(terms)
    }
}

#[allow(clippy::suspicious_arithmetic_impl)] // a product of polynomials sums products of terms
impl Mul for &Dim {
    type Output = Dim;
    fn mul(self, rhs: &Dim) -> Dim {
        let mut terms: BTreeMap<Vec<Symbol>, i64> = BTreeMap::new();
        for (ma, ca) in &self.terms {
            for (mb, cb) in &rhs.terms {
                let mut mono: Vec<Symbol> = ma.iter().chain(mb).cloned().collect();
                mono.sort();
                *terms.entry(mono).or_insert(0) += ca.saturating_mul(*cb);
            }
        }
        Dim::from_terms(terms)
    }
}

macro_rules! owned_dim_ops {
    ($($tr:ident $f:ident),*) => {$(
        impl $tr for Dim {
            type Output = Dim;
            fn $f(self, rhs: Dim) -> Dim { (&self).$f(&rhs) }
        }
        impl $tr<usize> for Dim {
            type Output = Dim;
            fn $f(self, rhs: usize) -> Dim { (&self).$f(&Dim::new(rhs)) }
        }
    )*};
}
owned_dim_ops!(Add add, Sub sub, Mul mul);

impl fmt::Display for Dim {
    /// Symbolic terms first (highest degree first), the constant last:
    /// `batch*seq`, `past + seq`, `seq - 1`, `2*seq`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terms.is_empty() {
            return f.write_str("0");
        }
        let mut terms: Vec<(&Vec<Symbol>, i64)> = self.terms.iter().map(|(m, c)| (m, *c)).collect();
        terms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        for (i, (mono, c)) in terms.into_iter().enumerate() {
            let mag = c.unsigned_abs();
            if i == 0 {
                if c < 0 {
                    f.write_str("-")?;
                }
            } else {
                f.write_str(if c < 0 { " - " } else { " + " })?;
            }
            if mono.is_empty() {
                write!(f, "{mag}")?;
            } else {
                if mag != 1 {
                    write!(f, "{mag}*")?;
                }
                let names: Vec<&str> = mono.iter().map(|s| s.as_ref()).collect();
                f.write_str(&names.join("*"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Dim {
    /// Static dims serialize as numbers, symbolic ones as their printed form.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_static() {
            Some(n) => s.serialize_u64(n as u64),
            None => s.serialize_str(&self.to_string()),
        }
    }
}

/// A list of dims, printed as `[batch, seq, 768]`.
pub struct ShapeDisplay<'a>(pub &'a [Dim]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// Builds a shape from anything dim-like: `shape![Dim::sym("batch"), 768]`
/// is spelled `[Dim::sym("batch"), 768.into()]` or with this helper.
pub fn shape<I, D>(dims: I) -> Vec<Dim>
where
    I: IntoIterator<Item = D>,
    D: Into<Dim>,
{
    dims.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_compare_structurally() {
        let (b, s) = (Dim::sym("batch"), Dim::sym("seq"));
        assert_eq!(&b * &s, &s * &b);
        assert_eq!(&(&s + &Dim::new(3)) - &Dim::new(3), s);
        assert_eq!(Dim::product([&b, &s, &Dim::new(4)]).to_string(), "4*batch*seq");
        assert_eq!((&s - &Dim::new(1)).to_string(), "seq - 1");
        assert_eq!((Dim::sym("past") + Dim::sym("seq")).to_string(), "past + seq");
        assert_eq!(Dim::new(7).as_static(), Some(7));
        assert_eq!(s.as_symbol().map(|x| x.as_ref()), Some("seq"));
        assert!((&s + &Dim::new(1)).as_symbol().is_none());
    }

    #[test]
    fn evaluates_under_bindings() {
        let d = &(&Dim::sym("batch") * &Dim::sym("seq")) - &Dim::new(2);
        let mut b = Bindings::new();
        assert_eq!(d.eval(&b), None);
        b.insert("batch".into(), 3);
        b.insert("seq".into(), 5);
        assert_eq!(d.eval(&b), Some(13));
        b.insert("seq".into(), 0);
        assert_eq!(d.eval(&b), None, "negative sizes do not evaluate");
    }
}
