//! What a diverging gradient looks like, from the numbers: no gradient at
//! all, no gradient for some positions, or exactly one path's contribution
//! missing (a residual whose input was detached). Falls back to the
//! patterns [`diagnose`] knows (sign, scale, transpose, masked rows).

use super::diagnosis::{diagnose, Tolerance};
use crate::graph::Tensor;

/// Diagnoses the first diverging gradient `name` (ours `a`, the reference
/// `b`); `earlier` are the reference's gradients computed before it in
/// backward order, `(name, tensor)`, nearest the loss first.
pub(crate) fn diagnose_gradient(a: &Tensor, b: &Tensor, earlier: &[(&str, &Tensor)], tol: Tolerance) -> Option<String> {
    let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
    if va.len() == vb.len() {
        if let Some(why) = zeros(&va, &vb, b.shape()) {
            return Some(why);
        }
        if let Some(why) = one_path_off(&va, &vb, earlier) {
            return Some(why);
        }
    }
    diagnose(a, b, tol)
}

/// All of ours zero where the reference is not, or some rows (positions).
fn zeros(va: &[f64], vb: &[f64], shape: &[usize]) -> Option<String> {
    let zero = |v: &[f64]| v.iter().all(|&x| x == 0.0);
    if zero(va) && !zero(vb) {
        return Some(
            "no gradient reaches it in ours (all zeros, the reference's are not): a detached value or a cut path \
             between it and the loss"
                .into(),
        );
    }
    if zero(vb) && !zero(va) {
        return Some(
            "the reference has no gradient here and ours does: the reference detaches a path ours keeps".into(),
        );
    }
    let c = *shape.last()?;
    if shape.len() < 2 || c == 0 {
        return None;
    }
    let rows = va.len() / c;
    let cut = (0..rows).filter(|&i| zero(&va[i * c..(i + 1) * c]) && !zero(&vb[i * c..(i + 1) * c])).count();
    (cut > 0).then(|| {
        format!(
            "{cut} of {rows} rows (positions) get no gradient in ours where the reference's do: those positions \
             are cut off from the loss (masked or detached?)"
        )
    })
}

/// Ours differs from the reference by exactly an earlier gradient: the path
/// that hands that gradient straight to this output (a residual connection)
/// is missing, or counted twice.
fn one_path_off(va: &[f64], vb: &[f64], earlier: &[(&str, &Tensor)]) -> Option<String> {
    let missing: Vec<f64> = vb.iter().zip(va).map(|(b, a)| b - a).collect();
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    for (name, t) in earlier {
        let vt = t.to_f64_vec();
        let size = norm(&mut vt.iter().copied());
        if vt.len() != va.len() || size == 0.0 {
            continue;
        }
        // Up to rounding: a hundredth of the term itself.
        let off_by = |sign: f64| norm(&mut missing.iter().zip(&vt).map(|(m, t)| sign * m - t)) <= 1e-2 * size;
        if off_by(1.0) {
            return Some(format!(
                "ours is the reference minus the gradient at `{name}`: the path that hands that gradient straight \
                 to this output (a residual connection) is cut in ours (a detached input?)"
            ));
        }
        if off_by(-1.0) {
            return Some(format!(
                "ours is the reference plus the gradient at `{name}`: that gradient reaches this output twice in \
                 ours (a residual added twice?)"
            ));
        }
    }
    None
}
