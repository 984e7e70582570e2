//! Times a server's decode slots without HTTP: each slot's prefill, the
//! prefill of every slot as one packed program, then decode steps with one
//! busy slot and with every slot busy (one batched step).
//!
//!     cargo run --release -p wgraph-models --example slot_steps -- MODEL_DIR [SLOTS] [PROMPT_LEN] [--profile]
//!
//! Prints milliseconds per prefill and per step; BENCHMARKS.md ("Serving")
//! quotes it next to the load test. `--profile` then times the packed
//! prefill's and the batched step's kernels one by one, summed by kind.

use std::time::Instant;
use wgraph::{Device, Weights};
use wgraph_models::decode_slots::{SlotDecoder, SlotInput, SlotStep};
use wgraph_models::llama::LlamaConfig;
use wgraph_models::HfConfig;

const STEPS: usize = 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = std::env::args().any(|a| a == "--profile");
    let mut args = std::env::args().skip(1).filter(|a| a != "--profile");
    let dir = args.next().ok_or("usage: slot_steps MODEL_DIR [SLOTS] [PROMPT_LEN]")?;
    let slots: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let prompt_len: usize = args.next().map_or(Ok(85), |s| s.parse())?;
    let device = Device::new()?;
    let cfg = LlamaConfig::from_hf(&HfConfig::from_dir(&dir)?)?;
    let vocab = cfg.vocab_size as i64;
    let capacity = prompt_len + STEPS + 1;
    let decoder = SlotDecoder::new(cfg, Weights::from_dir(&dir)?, &device, slots, capacity)?;
    let prompt: Vec<i64> = (0..prompt_len as i64).map(|i| (i * 7 + 3) % vocab).collect();
    let mut next = Vec::new();
    for slot in 0..slots {
        let start = Instant::now();
        next.push(decoder.start(slot, &prompt)?);
        println!("prefill slot {slot}, {prompt_len} tokens: {:.1} ms", ms(start));
    }
    let inputs: Vec<SlotInput<'_>> = (0..slots).map(|slot| SlotInput { slot, tokens: &prompt, past: 0 }).collect();
    for run in ["first", "second", "third"] {
        let start = Instant::now();
        next = decoder.run_packed(&inputs)?;
        println!("prefill of every slot as one program ({run} run): {:.1} ms", ms(start));
    }
    for busy in [1, slots] {
        // Every slot starts again from the prompt's end.
        let start = Instant::now();
        for i in 0..STEPS {
            let steps: Vec<SlotStep> =
                (0..busy).map(|slot| SlotStep { slot, token: next[slot], past: prompt_len + i }).collect();
            for (s, token) in steps.iter().zip(decoder.step_busy(&steps)?) {
                next[s.slot] = token;
            }
        }
        let per_step = ms(start) / STEPS as f64;
        println!("{busy} busy: {per_step:.1} ms/step, {:.1} tokens/s in all", busy as f64 * 1e3 / per_step);
    }
    if profile {
        let packed = decoder.profile_packed(&inputs)?.map(|t| ("every prompt packed", t));
        let step = decoder.profile_all_busy(next[0], prompt_len + STEPS)?.map(|t| ("one step of every slot", t));
        for (what, times) in packed.into_iter().chain(step) {
            let total: f64 = times.iter().map(|t| t.ms).sum();
            println!("{what}, kernels alone: {} kernels, {total:.1} ms", times.len());
            for (kind, n, ms) in wgraph::runtime::by_kind(times.iter().map(|t| (t.kernel.as_str(), t.ms))) {
                println!("  {kind:<28} {n:>4} {ms:>8.2} ms");
            }
        }
    }
    Ok(())
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
