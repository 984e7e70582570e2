//! Several conversations decoding in one batched step (`SlotDecoder`):
//! each slot's tokens equal its conversation decoded alone (HF's
//! `generate` for the fixture's prompt, `Generator` for the others), with
//! a free slot between busy ones, a conversation joining mid-way and one
//! leaving early; prompts prefilled in one packed program beside busy
//! slots' steps, as one and as several.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::model;

mod common;

use common::device;

use std::collections::BTreeMap;
use wgraph::Weights;
use wgraph_models::decode_slots::{SlotDecoder, SlotError, SlotInput, SlotStep};
use wgraph_models::generate::{GenerateError, Generator};
use wgraph_models::llama::LlamaConfig;
use wgraph_models::HfConfig;

const CAPACITY: usize = 48;

fn config(name: &str) -> LlamaConfig {
    LlamaConfig::from_hf(&HfConfig::from_dir(model(name)).unwrap()).unwrap()
}

fn weights(name: &str) -> Weights {
    Weights::from_dir(model(name)).unwrap()
}

/// A conversation in a slot: its tokens so far and how many it ends with.
struct Conversation {
    tokens: Vec<i64>,
    want: Vec<i64>,
}

#[test]
fn batched_slots_decode_each_conversation_as_alone() {
    let name = "llama_gqa";
    let outputs = Weights::open([model(name).join("outputs.safetensors")]).unwrap();
    let hf: Vec<i64> = outputs.read("generated_ids").unwrap().to_i64_vec();
    let inputs = Weights::open([model(name).join("inputs.safetensors")]).unwrap();
    let ids = inputs.read("input_ids").unwrap();
    let prompt_len = ids.shape()[1];
    let first = ids.to_i64_vec()[..prompt_len].to_vec();
    let new_tokens = hf.len() - prompt_len;

    let alone = Generator::new(config(name), weights(name), device()).unwrap();
    let second = vec![7, 3, 50, 21, 9, 33, 12];
    let third = vec![60, 2, 11];
    let reference = |prompt: &[i64], n: usize| alone.greedy(prompt, n, &[]).unwrap();
    // The HF-checked path agrees with HF here, so it can stand for HF on the other prompts.
    assert_eq!(reference(&first, new_tokens), hf);

    let decoder = SlotDecoder::new(config(name), weights(name), device(), 4, CAPACITY).unwrap();
    // Slot 1 stays free; slot 3 joins after three batched steps; slot 0 leaves first.
    let plans = [(0, first.clone(), new_tokens - 4, 0), (2, second, new_tokens, 0), (3, third, new_tokens + 3, 3)];
    let mut live: BTreeMap<usize, Conversation> = BTreeMap::new();
    for round in 0.. {
        let busy: Vec<SlotStep> = live
            .iter()
            .filter(|(_, c)| c.tokens.len() < c.want.len())
            .map(|(&slot, c)| SlotStep { slot, token: *c.tokens.last().unwrap(), past: c.tokens.len() - 1 })
            .collect();
        let next = decoder.step_busy(&busy).unwrap();
        for (step, token) in busy.iter().zip(next) {
            live.get_mut(&step.slot).unwrap().tokens.push(token);
        }
        // New conversations start after the batched step, as the server runs them.
        for (slot, prompt, n, start) in &plans {
            if *start == round {
                let mut tokens = prompt.clone();
                tokens.push(decoder.start(*slot, prompt).unwrap());
                live.insert(*slot, Conversation { tokens, want: reference(prompt, *n) });
            }
        }
        if round > 3 && live.values().all(|c| c.tokens.len() == c.want.len()) {
            break;
        }
    }
    assert_eq!(live.len(), 3);
    for (slot, c) in &live {
        assert_eq!(c.tokens, c.want, "slot {slot}: tokens differ from the conversation decoded alone");
    }
}

#[test]
fn batched_steps_refuse_bad_slots_by_name() {
    let name = "llama_tied_mha";
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 2, 8).unwrap();
    let step = |slot, past| SlotStep { slot, token: 1, past };
    match decoder.step_busy(&[step(0, 1), step(0, 2)]) {
        Err(SlotError::SlotTwice { slot: 0 }) => {}
        other => panic!("expected SlotTwice, got {other:?}"),
    }
    match decoder.step_busy(&[step(0, 1), step(2, 1)]) {
        Err(SlotError::NoSuchSlot { slot: 2, slots: 2 }) => {}
        other => panic!("expected NoSuchSlot, got {other:?}"),
    }
    match decoder.step_busy(&[step(0, 1), step(1, 8)]) {
        Err(SlotError::Generate(GenerateError::PromptTooLong { prompt: 9, context: 8 })) => {}
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
}

/// How a round with prompts runs.
type Round = fn(&SlotDecoder, &[SlotInput<'_>]) -> Result<Vec<i64>, SlotError>;

/// Rounds as the server runs them, after a warm-up: slot 1 busy from the
/// start, slots 3 and 0 join together after two steps (prompts of 7 and 3 tokens, packed
/// with slot 1's token), slot 2 stays free; every conversation's tokens
/// equal it decoded alone. Returns the rounds run packed.
fn prompts_joining_together_decode_as_alone(round: Round) -> u64 {
    let name = "llama_gqa";
    let alone = Generator::new(config(name), weights(name), device()).unwrap();
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 4, CAPACITY).unwrap();
    // What the warm-up leaves in the caches never reaches a conversation.
    decoder.warm_up(5).unwrap();
    let plans: [(usize, Vec<i64>, usize, usize); 3] =
        [(1, vec![4, 8, 15, 16, 23], 9, 0), (3, vec![7, 3, 50, 21, 9, 33, 12], 6, 2), (0, vec![60, 2, 11], 8, 2)];
    let mut live: BTreeMap<usize, Conversation> = BTreeMap::new();
    for n in 0.. {
        let mut inputs: Vec<(usize, Vec<i64>, usize)> = live
            .iter()
            .filter(|(_, c)| c.tokens.len() < c.want.len())
            .map(|(&slot, c)| (slot, vec![*c.tokens.last().unwrap()], c.tokens.len() - 1))
            .collect();
        for (slot, prompt, new_tokens, start) in &plans {
            if *start == n {
                let want = alone.greedy(prompt, *new_tokens, &[]).unwrap();
                live.insert(*slot, Conversation { tokens: prompt.clone(), want });
                inputs.push((*slot, prompt.clone(), 0));
            }
        }
        if inputs.is_empty() {
            break;
        }
        let inputs: Vec<SlotInput<'_>> =
            inputs.iter().map(|(slot, tokens, past)| SlotInput { slot: *slot, tokens, past: *past }).collect();
        let prompts = inputs.iter().filter(|i| i.tokens.len() > 1).count();
        let next = if prompts > 0 { round(&decoder, &inputs) } else { decoder.advance(&inputs) }.unwrap();
        for (input, token) in inputs.iter().zip(next) {
            live.get_mut(&input.slot).unwrap().tokens.push(token);
        }
    }
    assert_eq!(live.len(), 3);
    for (slot, c) in &live {
        assert_eq!(c.tokens, c.want, "slot {slot}: tokens differ from the conversation decoded alone");
    }
    decoder.packed_rounds()
}

#[test]
fn prompts_packed_beside_busy_slots_decode_as_alone() {
    // The warm-up's, slot 1's start and the round where slots 3 and 0 join.
    assert_eq!(prompts_joining_together_decode_as_alone(SlotDecoder::run_packed), 3);
}

#[test]
fn rounds_decode_as_alone_whichever_way_they_run() {
    assert_eq!(prompts_joining_together_decode_as_alone(SlotDecoder::run_separately), 1, "only the warm-up's");
    prompts_joining_together_decode_as_alone(SlotDecoder::advance);
}

#[test]
fn rounds_refuse_bad_inputs_by_name() {
    let name = "llama_tied_mha";
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 2, 8).unwrap();
    let prompt = [5, 6, 7];
    let round = |inputs: &[SlotInput<'_>]| {
        [decoder.advance(inputs), decoder.run_packed(inputs), decoder.run_separately(inputs)]
    };
    for result in round(&[SlotInput { slot: 0, tokens: &prompt, past: 6 }]) {
        match result {
            Err(SlotError::Generate(GenerateError::PromptTooLong { prompt: 9, context: 8 })) => {}
            other => panic!("expected PromptTooLong, got {other:?}"),
        }
    }
    for result in round(&[SlotInput { slot: 1, tokens: &[], past: 0 }]) {
        match result {
            Err(SlotError::Generate(GenerateError::EmptyPrompt)) => {}
            other => panic!("expected EmptyPrompt, got {other:?}"),
        }
    }
    let twice = [SlotInput { slot: 1, tokens: &prompt, past: 0 }, SlotInput { slot: 1, tokens: &[4], past: 3 }];
    for result in round(&twice) {
        match result {
            Err(SlotError::SlotTwice { slot: 1 }) => {}
            other => panic!("expected SlotTwice, got {other:?}"),
        }
    }
}

/// A conversation leaves its prompt's rows in slot 0 (`keep_rows`); while
/// the slot is free, rounds of other slots run (a packed round, batched
/// steps); a new prompt starting with the same four tokens then resumes
/// at position 4, and every conversation decodes as alone.
#[test]
fn a_free_slot_keeps_its_rows_for_a_prompt_that_starts_the_same() {
    let name = "llama_gqa";
    let alone = Generator::new(config(name), weights(name), device()).unwrap();
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 3, CAPACITY).unwrap();
    decoder.warm_up(5).unwrap();
    // Runs rounds until every conversation has its tokens; `live` maps a
    // slot to (tokens so far, tokens wanted, rows already fed).
    let run = |live: &mut BTreeMap<usize, (Vec<i64>, Vec<i64>, usize)>| loop {
        let inputs: Vec<(usize, Vec<i64>, usize)> = live
            .iter()
            .filter(|(_, (tokens, want, _))| tokens.len() < want.len())
            .map(|(&slot, (tokens, _, fed))| (slot, tokens[*fed..].to_vec(), *fed))
            .collect();
        if inputs.is_empty() {
            break;
        }
        let rounds: Vec<SlotInput<'_>> =
            inputs.iter().map(|(slot, tokens, past)| SlotInput { slot: *slot, tokens, past: *past }).collect();
        for (input, token) in rounds.iter().zip(decoder.advance(&rounds).unwrap()) {
            let (tokens, _, fed) = live.get_mut(&input.slot).unwrap();
            *fed = tokens.len();
            tokens.push(token);
        }
    };
    let first = vec![4, 8, 15, 16, 23, 42];
    let mut live = BTreeMap::from([(0, (first.clone(), alone.greedy(&first, 5, &[]).unwrap(), 0))]);
    run(&mut live);
    assert_eq!(live[&0].0, live[&0].1);
    decoder.keep_rows(0, first.len()).unwrap();
    // Slots 1 and 2 start together (packed when several) and step together.
    let mut others = BTreeMap::new();
    for (slot, prompt) in [(1, vec![7, 3, 50, 21, 9]), (2, vec![60, 2, 11])] {
        others.insert(slot, (prompt.clone(), alone.greedy(&prompt, 6, &[]).unwrap(), 0));
    }
    // A packed round of free slots only: every slot gets a placeholder.
    assert!(decoder.run_packed(&[]).unwrap().is_empty());
    run(&mut others);
    for (slot, (tokens, want, _)) in &others {
        assert_eq!(tokens, want, "slot {slot}");
    }
    let second = vec![4, 8, 15, 16, 31, 5, 2];
    let mut live = BTreeMap::from([(0, (second.clone(), alone.greedy(&second, 7, &[]).unwrap(), 4))]);
    run(&mut live);
    assert_eq!(live[&0].0, live[&0].1, "slot 0 resumed at position 4: tokens differ from the prompt decoded alone");

    match decoder.keep_rows(0, CAPACITY) {
        Err(SlotError::Generate(GenerateError::PromptTooLong { .. })) => {}
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
    assert!(matches!(decoder.keep_rows(3, 1), Err(SlotError::NoSuchSlot { slot: 3, slots: 3 })));
}

/// One packed round holding a prompt that resumes after kept rows, a
/// prompt from position 0 and a busy slot's step (as a server's round
/// mixes them): every conversation decodes as alone.
#[test]
fn a_packed_round_mixes_resumed_fresh_and_busy_slots() {
    let name = "llama_gqa";
    let alone = Generator::new(config(name), weights(name), device()).unwrap();
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 3, CAPACITY).unwrap();
    decoder.warm_up(5).unwrap();
    let shared = vec![4, 8, 15, 16, 23, 42, 9, 1];
    // Every slot holds the shared start (a server's system prompt).
    let every: Vec<SlotInput<'_>> = (0..3).map(|slot| SlotInput { slot, tokens: &shared, past: 0 }).collect();
    decoder.run_packed(&every).unwrap();
    for slot in 0..3 {
        decoder.keep_rows(slot, shared.len()).unwrap();
    }
    let with = |tail: &[i64]| [shared.as_slice(), tail].concat();
    let busy = with(&[7, 3, 50, 21, 9, 33]);
    let resumed = with(&[5, 2, 11, 40]);
    let fresh = vec![60, 2, 11, 7, 7, 3, 1, 2, 9];
    let want = |p: &[i64]| alone.greedy(p, 1, &[]).unwrap()[p.len()];
    // Slot 1 resumes its prompt alone first, then steps beside the others' prompts.
    let first = decoder.advance(&[SlotInput { slot: 1, tokens: &busy[shared.len()..], past: shared.len() }]).unwrap();
    assert_eq!(first, vec![want(&busy)]);
    let inputs = [
        SlotInput { slot: 1, tokens: &first, past: busy.len() },
        SlotInput { slot: 2, tokens: &resumed[shared.len()..], past: shared.len() },
        SlotInput { slot: 0, tokens: &fresh, past: 0 },
    ];
    let got = decoder.run_packed(&inputs).unwrap();
    let busy_next = alone.greedy(&busy, 2, &[]).unwrap()[busy.len() + 1];
    assert_eq!(got, vec![busy_next, want(&resumed), want(&fresh)]);
}

/// A slot that kept few rows while free, then held a longer conversation
/// and resumes a prompt past those rows while other slots step in one
/// batched program (rounds run apart): the batched step must not write
/// its placeholder into the rows the prompt resumes after.
#[test]
fn a_prompt_resuming_beside_a_batched_step_keeps_its_rows() {
    let name = "llama_gqa";
    let alone = Generator::new(config(name), weights(name), device()).unwrap();
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 3, CAPACITY).unwrap();
    decoder.warm_up(5).unwrap();
    let want = |p: &[i64]| alone.greedy(p, 1, &[]).unwrap()[p.len()];
    decoder.run_separately(&[SlotInput { slot: 0, tokens: &[4, 8, 15], past: 0 }]).unwrap();
    decoder.keep_rows(0, 3).unwrap();
    // Slot 0 takes a longer conversation (the server keeps no rows for a busy slot).
    let long = vec![9, 1, 7, 3, 50, 21, 9, 33, 12, 40, 5, 6];
    assert_eq!(decoder.run_separately(&[SlotInput { slot: 0, tokens: &long, past: 0 }]).unwrap(), vec![want(&long)]);
    let (one, two) = (vec![60, 2, 11, 7], vec![7, 7, 3, 1, 2]);
    let starts = [SlotInput { slot: 1, tokens: &one, past: 0 }, SlotInput { slot: 2, tokens: &two, past: 0 }];
    let next = decoder.run_separately(&starts).unwrap();
    // Its next prompt shares 10 rows with it, past the 3 once kept.
    let resumed = [&long[..10], &[2, 2, 8]].concat();
    let inputs = [
        SlotInput { slot: 1, tokens: &next[..1], past: one.len() },
        SlotInput { slot: 2, tokens: &next[1..], past: two.len() },
        SlotInput { slot: 0, tokens: &resumed[10..], past: 10 },
    ];
    let got = decoder.run_separately(&inputs).unwrap();
    let second = |p: &[i64]| alone.greedy(p, 2, &[]).unwrap()[p.len() + 1];
    assert_eq!(got[..2], [second(&one), second(&two)]);
    // Its answer decodes as alone.
    let mut tokens = resumed.clone();
    tokens.push(got[2]);
    while tokens.len() < resumed.len() + 8 {
        let past = tokens.len() - 1;
        tokens.push(decoder.step(0, tokens[past], past).unwrap());
    }
    assert_eq!(tokens, alone.greedy(&resumed, 8, &[]).unwrap());
}

/// The decoder's held activation bytes add up its programs': none before
/// a run, some after the warm-up, more once a slot's prefill ran a longer
/// prompt than the warm-up's.
#[test]
fn held_activation_bytes_add_up_every_program() {
    let name = "llama_gqa";
    let decoder = SlotDecoder::new(config(name), weights(name), device(), 2, CAPACITY).unwrap();
    assert_eq!(decoder.held_activation_bytes(), 0);
    decoder.warm_up(5).unwrap();
    let warm = decoder.held_activation_bytes();
    assert!(warm > 0);
    // A longer prompt needs larger activations in its slot's prefill.
    let prompt: Vec<i64> = (0..40).map(|i| i % 60).collect();
    decoder.run_separately(&[SlotInput { slot: 1, tokens: &prompt, past: 0 }]).unwrap();
    assert!(decoder.held_activation_bytes() > warm);
}

#[test]
fn a_cache_of_every_slot_past_the_binding_limit_is_a_typed_error_before_allocating() {
    let mut cfg = config("llama_gqa");
    let limit = device().target().max_storage_buffer_binding_size;
    let region = (cfg.num_key_value_heads * cfg.head_dim * 4) as u64;
    // Two slots whose positions together need one row more than a binding holds.
    let capacity = (limit / region / 2 + 1) as usize;
    cfg.max_position_embeddings = capacity;
    let Err(err) = SlotDecoder::new(cfg, weights("llama_gqa"), device(), 2, capacity) else {
        panic!("a cache over the binding limit was allocated")
    };
    let message = err.to_string();
    let SlotError::CacheTooLarge { slots, bytes, fits, .. } = err else { panic!("got {err:?}") };
    assert_eq!((slots, bytes, fits), (2, 2 * capacity as u64 * region, 1));
    assert!(message.contains("--parallel") && message.contains("--ctx-size"), "{message}");
}

#[test]
fn a_slot_s_step_past_its_region_is_refused_when_inputs_bind() {
    use wgraph::{BindError, InterpError, Interpreter, Tensor};
    let cfg = config("llama_gqa");
    let graph = wgraph_models::llama::build(
        &cfg,
        wgraph_models::llama::LlamaGraph::OneSlot { slot: 0, slots: 2, seq: None, capacity: 8 },
    )
    .unwrap();
    let ids = |n: usize| Tensor::new([1, n], vec![1i64; n]).unwrap();
    let mut weights = weights("llama_gqa");
    for i in 0..cfg.num_hidden_layers {
        for name in wgraph_models::llama::cache_names(i) {
            let zeros = Tensor::zeros(wgraph::DType::F32, [16, cfg.num_key_value_heads, cfg.head_dim]).unwrap();
            weights.insert(format!("{}{name}", weights.prefix()), zeros);
        }
    }
    // Slot 0 at 8 cached positions would write into slot 1's first row.
    let feed = vec![
        ("input_ids".to_string(), ids(1)),
        ("position_ids".to_string(), Tensor::new([1, 1], vec![8i64]).unwrap()),
        ("attention_mask".to_string(), ids(1)),
        ("past_attention_mask".to_string(), ids(8)),
    ];
    match Interpreter::new().run(&graph, &weights, feed) {
        Err(InterpError::Input(BindError::OutOfRange { symbol, value: 8, max: 7, .. })) => assert_eq!(symbol, "past"),
        other => panic!("got {:?}", other.map(|_| ())),
    }
}
