//! The inputs of the programs that run every slot at once, slot `b`'s
//! tokens in row `b` or in the `b`-th run of a packed sequence; a free
//! slot's a placeholder just past the rows it keeps (`kept[b]`, see
//! `SlotDecoder::keep_rows`).

use super::{SlotInput, SlotStep};
use crate::generate::{tensor_err, GenerateError};
use wgraph::Tensor;

type Feed = Vec<(String, Tensor)>;

fn tensor(shape: [usize; 2], v: Vec<i64>) -> Result<Tensor, GenerateError> {
    Tensor::new(shape, v).map_err(tensor_err)
}

/// Each slot's cached positions' mask: `past_attention_mask.{b}`.
fn past_masks(pasts: &[usize]) -> Result<Feed, GenerateError> {
    pasts
        .iter()
        .enumerate()
        .map(|(b, &past)| Ok((format!("past_attention_mask.{b}"), tensor([1, past], vec![1; past])?)))
        .collect()
}

/// The decode step of the busy slots in `busy` (one token each), the
/// others free, keeping `kept[b]` rows each.
pub(super) fn one_token_each(kept: &[usize], busy: &[SlotStep]) -> Result<Feed, GenerateError> {
    let slots = kept.len();
    let mut tokens = vec![0i64; slots];
    let mut pasts = kept.to_vec();
    for s in busy {
        tokens[s.slot] = s.token;
        pasts[s.slot] = s.past;
    }
    let positions = pasts.iter().map(|&p| p as i64).collect();
    // Each slot's token attends to its cached positions and itself.
    let keys = pasts.iter().max().map_or(1, |&p| p + 1);
    let attend = pasts.iter().flat_map(|&p| (0..keys).map(move |j| i64::from(j <= p))).collect();
    let mut feed = vec![
        ("input_ids".to_string(), tensor([slots, 1], tokens)?),
        ("position_ids".to_string(), tensor([slots, 1], positions)?),
        ("attention_mask".to_string(), tensor([slots, keys], attend)?),
    ];
    feed.extend(past_masks(&pasts)?);
    Ok(feed)
}

/// One step of every slot, each slot's tokens one after another in slot
/// order (a free slot's one placeholder after its `kept[b]` rows), and
/// where each slot's last token is (`last_positions`).
pub(super) fn packed_rows(kept: &[usize], inputs: &[SlotInput<'_>]) -> Result<Feed, GenerateError> {
    let slots = kept.len();
    let mut by_slot: Vec<SlotInput<'_>> =
        kept.iter().enumerate().map(|(slot, &past)| SlotInput { slot, tokens: &[0], past }).collect();
    for input in inputs {
        by_slot[input.slot] = *input;
    }
    let mut tokens = Vec::new();
    let mut positions = Vec::new();
    let mut last = Vec::with_capacity(slots);
    let mut feed = Vec::with_capacity(2 * slots + 3);
    for (b, input) in by_slot.iter().enumerate() {
        let len = input.tokens.len();
        tokens.extend_from_slice(input.tokens);
        positions.extend((input.past..input.past + len).map(|p| p as i64));
        last.push(tokens.len() as i64 - 1);
        feed.push((format!("attention_mask.{b}"), tensor([1, len], vec![1; len])?));
    }
    let total = tokens.len();
    feed.push(("input_ids".to_string(), tensor([1, total], tokens)?));
    feed.push(("position_ids".to_string(), tensor([1, total], positions)?));
    feed.push(("last_positions".to_string(), tensor([slots, 1], last)?));
    feed.extend(past_masks(&by_slot.iter().map(|i| i.past).collect::<Vec<_>>())?);
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(feed: &Feed, name: &str) -> (Vec<usize>, Vec<i64>) {
        let t = &feed.iter().find(|(n, _)| n == name).unwrap().1;
        (t.shape().to_vec(), t.to_i64_vec())
    }

    #[test]
    fn slots_tokens_are_packed_in_slot_order_and_read_at_their_last() {
        let prompt = [5, 6, 7];
        let inputs = [SlotInput { slot: 2, tokens: &prompt, past: 0 }, SlotInput { slot: 0, tokens: &[9], past: 4 }];
        // Free slot 1 keeps 3 rows: its placeholder goes at position 3.
        let feed = packed_rows(&[0, 3, 0], &inputs).unwrap();
        assert_eq!(get(&feed, "input_ids"), (vec![1, 5], vec![9, 0, 5, 6, 7]));
        assert_eq!(get(&feed, "position_ids").1, vec![4, 3, 0, 1, 2]);
        assert_eq!(get(&feed, "last_positions"), (vec![3, 1], vec![0, 1, 4]));
        assert_eq!(get(&feed, "attention_mask.2"), (vec![1, 3], vec![1; 3]));
        assert_eq!(get(&feed, "attention_mask.1"), (vec![1, 1], vec![1]));
        assert_eq!(get(&feed, "past_attention_mask.0"), (vec![1, 4], vec![1; 4]));
        assert_eq!(get(&feed, "past_attention_mask.1"), (vec![1, 3], vec![1; 3]));
    }

    #[test]
    fn a_free_slot_steps_past_the_rows_it_keeps() {
        let busy = [SlotStep { slot: 1, token: 8, past: 6 }];
        let feed = one_token_each(&[2, 0, 0], &busy).unwrap();
        assert_eq!(get(&feed, "input_ids"), (vec![3, 1], vec![0, 8, 0]));
        assert_eq!(get(&feed, "position_ids").1, vec![2, 6, 0]);
        // Each slot attends to its first `past + 1` of the 7 positions the longest needs.
        let attend = [[1, 1, 1, 0, 0, 0, 0], [1; 7], [1, 0, 0, 0, 0, 0, 0]].concat();
        assert_eq!(get(&feed, "attention_mask"), (vec![3, 7], attend));
        assert_eq!(get(&feed, "past_attention_mask.0"), (vec![1, 2], vec![1; 2]));
        assert_eq!(get(&feed, "past_attention_mask.2").0, vec![1, 0]);
    }
}
