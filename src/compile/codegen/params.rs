//! Runtime sizes a kernel reads: every symbolic dim a kernel needs becomes
//! one `u32` in its params buffer, evaluated from the bindings at run time.
//! Static dims are written into the WGSL as literals instead.

use crate::graph::Dim;

/// The symbolic dims one kernel reads, in params-buffer order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamTable {
    /// Each dim once; `P[i]` in the WGSL is `dims[i]` evaluated.
    pub dims: Vec<Dim>,
}

impl ParamTable {
    /// The WGSL expression for `d`: a literal (`7u`) or a params read (`P[2]`).
    pub fn expr(&mut self, d: &Dim) -> String {
        if let Some(n) = d.as_static() {
            return format!("{n}u");
        }
        self.read(d)
    }

    /// A params read of `d` even when it is static: for sizes that differ
    /// between otherwise equal kernels (one conversation slot's region of
    /// a shared cache), so that they share one WGSL source and pipeline.
    pub fn read(&mut self, d: &Dim) -> String {
        let i = match self.dims.iter().position(|x| x == d) {
            Some(i) => i,
            None => {
                self.dims.push(d.clone());
                self.dims.len() - 1
            }
        };
        format!("P[{i}]")
    }
}
