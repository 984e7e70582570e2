//! "Did you mean" for weight names: edit distance and common prefixes.

/// Up to `n` names closest to `wanted` by edit distance, closest first;
/// names too far to be a plausible typo are left out.
pub fn closest_names<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<String> {
    let limit = (wanted.len() / 2).max(3);
    let mut scored: Vec<(usize, &str)> =
        candidates.into_iter().map(|c| (strsim::levenshtein(wanted, c), c)).filter(|(d, _)| *d <= limit).collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, c)| c.to_string()).collect()
}

/// A prefix that explains a set of missing names at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixHint {
    /// The file's names are the graph's names with `prefix` in front.
    FileHasPrefix {
        /// The prefix (`distilbert.`); [`Weights::with_prefix`](super::Weights::with_prefix) fixes this case.
        prefix: String,
        /// How many missing names it explains.
        explains: usize,
    },
    /// The graph's names carry `prefix`, the file's do not.
    GraphHasPrefix {
        /// The prefix the graph adds.
        prefix: String,
        /// How many missing names it explains.
        explains: usize,
    },
}

/// Looks for one prefix that turns most missing names into stored ones.
/// Only a prefix explaining at least two names (or the only missing one)
/// and more than half of them is worth a hint.
pub fn common_prefix(missing: &[&str], stored: &[&str]) -> Option<PrefixHint> {
    use std::collections::HashMap;
    let mut file_side: HashMap<&str, usize> = HashMap::new();
    let mut graph_side: HashMap<&str, usize> = HashMap::new();
    for m in missing {
        for s in stored {
            if s.len() > m.len() && s.ends_with(m) && s.as_bytes()[s.len() - m.len() - 1] == b'.' {
                *file_side.entry(&s[..s.len() - m.len()]).or_default() += 1;
            }
            if m.len() > s.len() && m.ends_with(s) && m.as_bytes()[m.len() - s.len() - 1] == b'.' {
                *graph_side.entry(&m[..m.len() - s.len()]).or_default() += 1;
            }
        }
    }
    fn best(map: HashMap<&str, usize>) -> Option<(&str, usize)> {
        map.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
    }
    let worth = |count: usize| count * 2 > missing.len() && (count >= 2 || missing.len() == 1);
    let file = best(file_side).filter(|(_, c)| worth(*c));
    let graph = best(graph_side).filter(|(_, c)| worth(*c));
    match (file, graph) {
        (Some((p, c)), Some((_, c2))) if c >= c2 => Some(PrefixHint::FileHasPrefix { prefix: p.into(), explains: c }),
        (_, Some((p, c))) => Some(PrefixHint::GraphHasPrefix { prefix: p.into(), explains: c }),
        (Some((p, c)), None) => Some(PrefixHint::FileHasPrefix { prefix: p.into(), explains: c }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_prefers_small_edits() {
        let stored =
            ["encoder.layer.0.attention.q_lin.weight", "encoder.layer.0.attention.k_lin.weight", "pooler.dense.bias"];
        let got = closest_names("encoder.layer.0.attention.q_lim.weight", stored, 2);
        assert_eq!(got, ["encoder.layer.0.attention.q_lin.weight", "encoder.layer.0.attention.k_lin.weight"]);
        assert!(closest_names("something.else.entirely", stored, 3).is_empty());
    }

    #[test]
    fn prefix_found_on_either_side() {
        let stored = ["distilbert.embeddings.word_embeddings.weight", "distilbert.transformer.layer.0.ffn.lin1.weight"];
        let missing = ["embeddings.word_embeddings.weight", "transformer.layer.0.ffn.lin1.weight"];
        assert_eq!(
            common_prefix(&missing, &stored),
            Some(PrefixHint::FileHasPrefix { prefix: "distilbert.".into(), explains: 2 })
        );
        assert_eq!(
            common_prefix(&stored, &missing),
            Some(PrefixHint::GraphHasPrefix { prefix: "distilbert.".into(), explains: 2 })
        );
    }
}
