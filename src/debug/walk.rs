//! The order `compare` walks two dumps in: forward values in execution
//! order, then gradients (`grad/<module path>`) in backward order, from the
//! loss towards the inputs. That is the order the values were computed in,
//! so the first entry that differs is where a bug starts: a forward bug at
//! module M changes M's output, everything after it, the loss and every
//! gradient; a backward-only bug (a detached value, a wrong gradient rule)
//! leaves the forward alone and first shows in the gradient computed right
//! after it.

use crate::graph::NamedTensors;
use std::collections::HashMap;

/// The name prefix of a gradient entry: `grad/<module path>` holds the
/// gradient of the loss with respect to that module's output.
pub const GRAD_PREFIX: &str = "grad/";

/// Which pass of a training step a dump entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A forward value: a module output, `logits`, `loss` (or any name
    /// without the `grad/` prefix).
    Forward,
    /// A `grad/<module path>` entry: the gradient of the loss with respect
    /// to a module output.
    Gradient,
}

impl Section {
    /// The section a dump entry named `name` belongs to.
    pub fn of(name: &str) -> Section {
        if name.starts_with(GRAD_PREFIX) {
            Section::Gradient
        } else {
            Section::Forward
        }
    }
}

/// The loss is computed from every other forward value; dumps written for
/// gradients put it first, so the walk moves it to the end of the forward.
const LOSS: &str = "loss";

/// The names `ours` shares with `reference`, in walk order: forward values
/// in ours' order (`loss` last), then gradients in backward order. In a
/// gradient dump, a reference gradient ours lacks for a module whose
/// output ours has is walked too (see [`gradient_missing`]).
///
/// Backward order is the reverse of the order the forward produced the
/// module outputs, taken from ours' forward entries (or the reference's
/// when ours has none for these gradients), so it does not depend on the
/// order either file lists its gradients in. A gradient whose module has
/// no forward entry stays right after the gradient ours lists before it
/// (both `wgraph grad --dump` and `tools/torch_dump.py --grads` list
/// gradients in backward order); with no forward entries at all, ours'
/// order is used as it is.
pub(crate) fn walk_order<'a>(ours: &'a NamedTensors, reference: &'a NamedTensors) -> Vec<&'a str> {
    let shared = |n: &&str| reference.get(n).is_some();
    let (mut forward, mut gradients): (Vec<&str>, Vec<&str>) =
        ours.names().filter(shared).partition(|n| Section::of(n) == Section::Forward);
    if let Some(i) = forward.iter().position(|&n| n == LOSS) {
        let loss = forward.remove(i);
        forward.push(loss);
    }
    // Placed by their module's forward position like the others.
    gradients.extend(reference.names().filter(|n| gradient_missing(ours, n)));
    forward.extend(backward_order(&gradients, ours, reference));
    forward
}

/// Whether `name` is a gradient ours' gradient dump lacks although ours
/// computes that module's output: the loss does not reach the output in
/// ours' backward (a detached value), which the walk compares as zeros, as
/// PyTorch's `param.grad` of `None` means zeros. (Without gradients of its
/// own, ours is a forward dump and lacks them all for that reason.)
pub(crate) fn gradient_missing(ours: &NamedTensors, name: &str) -> bool {
    let Some(module) = name.strip_prefix(GRAD_PREFIX) else { return false };
    ours.get(name).is_none() && ours.get(module).is_some() && ours.names().any(|n| Section::of(n) == Section::Gradient)
}

/// `gradients` (ours' order) sorted into backward order.
fn backward_order<'a>(gradients: &[&'a str], ours: &NamedTensors, reference: &NamedTensors) -> Vec<&'a str> {
    let module = |g: &str| g.strip_prefix(GRAD_PREFIX).unwrap_or(g).to_string();
    let ranks = |dump: &NamedTensors| -> HashMap<String, usize> {
        dump.names()
            .filter(|n| Section::of(n) == Section::Forward)
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect()
    };
    let covers = |r: &HashMap<String, usize>| gradients.iter().any(|g| r.contains_key(&module(g)));
    let rank = Some(ranks(ours)).filter(covers).or_else(|| Some(ranks(reference)).filter(covers));
    let Some(rank) = rank else { return gradients.to_vec() };
    // Key: (forward position of the module, entries ours lists after it
    // without a forward position of their own); sorted latest module first.
    let mut keyed = Vec::with_capacity(gradients.len());
    let (mut last, mut tail) = (usize::MAX, 0usize);
    for &g in gradients {
        match rank.get(&module(g)) {
            Some(&r) => (last, tail) = (r, 0),
            None => tail += 1,
        }
        keyed.push(((std::cmp::Reverse(last), tail), g));
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Tensor;

    fn dump(names: &[&str]) -> NamedTensors {
        NamedTensors(names.iter().map(|n| (n.to_string(), Tensor::scalar(0f32))).collect())
    }

    #[test]
    fn gradients_walk_from_the_loss_back_whatever_order_the_file_lists() {
        let ours = dump(&["grad/a", "loss", "grad/c", "a", "b", "grad/b", "c", "logits", "grad/logits"]);
        let reference = dump(&["a", "b", "c", "logits", "loss", "grad/logits", "grad/c", "grad/b", "grad/a"]);
        let want = ["a", "b", "c", "logits", "loss", "grad/logits", "grad/c", "grad/b", "grad/a"];
        assert_eq!(walk_order(&ours, &reference), want);
        assert_eq!(walk_order(&reference, &ours), want);
    }

    #[test]
    fn gradient_only_dumps_use_the_forward_order_the_reference_has_or_their_own() {
        let ours = dump(&["loss", "grad/a", "grad/b", "grad/c"]);
        let reference = dump(&["a", "b", "c", "loss", "grad/a", "grad/b", "grad/c"]);
        assert_eq!(walk_order(&ours, &reference), ["loss", "grad/c", "grad/b", "grad/a"]);
        let reference = dump(&["grad/c", "grad/a", "loss", "grad/b"]);
        assert_eq!(walk_order(&ours, &reference), ["loss", "grad/a", "grad/b", "grad/c"]);
    }

    #[test]
    fn a_gradient_ours_lacks_for_a_module_it_computes_is_walked_in_place() {
        let ours = dump(&["a", "b", "c", "grad/c", "grad/a"]);
        let reference = dump(&["a", "b", "c", "grad/c", "grad/b", "grad/a", "grad/dropout"]);
        assert_eq!(walk_order(&ours, &reference), ["a", "b", "c", "grad/c", "grad/b", "grad/a"]);
        // A forward dump lacks every gradient: none is walked.
        let forward = dump(&["a", "b", "c"]);
        assert_eq!(walk_order(&forward, &reference), ["a", "b", "c"]);
    }

    #[test]
    fn a_gradient_without_a_forward_entry_stays_after_its_predecessor() {
        let ours = dump(&["a", "b", "grad/b", "grad/extra", "grad/a"]);
        assert_eq!(walk_order(&ours, &ours), ["a", "b", "grad/b", "grad/extra", "grad/a"]);
    }
}
