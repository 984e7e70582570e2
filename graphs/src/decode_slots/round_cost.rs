//! How a round that starts prompts runs: as one program over every slot
//! with their tokens packed into one sequence (each weight read once for
//! all rows), or as the busy slots' batched step followed by each prompt's
//! own prefill. Which is faster depends on the device,
//! the model and the prompts, so it is chosen from what each way has cost
//! on this device so far, per row it computed; a way not measured yet is
//! tried when the round could gain from it.

/// What a round computes each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Round {
    /// Inputs of more than one token, and their tokens.
    pub(super) prompts: usize,
    pub(super) prompt_rows: usize,
    /// Inputs of one token (busy slots, or one-token prompts).
    pub(super) singles: usize,
    /// Rows of the packed program: every input's tokens, and one
    /// placeholder per free slot.
    pub(super) packed_rows: usize,
}

/// Running averages of the milliseconds each way took.
#[derive(Debug, Default)]
pub(super) struct RoundCosts {
    step_ms: Average,
    prefill_ms_per_row: Average,
    packed_ms_per_row: Average,
}

/// Which program a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    Separate,
    Packed,
}

impl RoundCosts {
    /// The way expected to finish `round` first.
    pub(super) fn choose(&self, round: Round) -> Way {
        // Packing gains only by sharing weight reads between prompts.
        if round.prompts < 2 {
            return Way::Separate;
        }
        let step = if round.singles > 0 { self.step_ms.get().unwrap_or(0.0) } else { 0.0 };
        let separate = self.prefill_ms_per_row.get().map(|ms| step + ms * round.prompt_rows as f64);
        let packed = self.packed_ms_per_row.get().map(|ms| ms * round.packed_rows as f64);
        match (separate, packed) {
            (Some(separate), Some(packed)) if separate <= packed => Way::Separate,
            (None, Some(_)) => Way::Separate,
            _ => Way::Packed,
        }
    }

    /// A batched step of `singles` tokens took `ms`.
    pub(super) fn stepped(&mut self, ms: f64) {
        self.step_ms.add(ms);
    }

    /// Prefills of `rows` tokens in all took `ms`.
    pub(super) fn prefilled(&mut self, rows: usize, ms: f64) {
        self.prefill_ms_per_row.add(ms / rows.max(1) as f64);
    }

    /// A packed program of `rows` rows took `ms`.
    pub(super) fn packed(&mut self, rows: usize, ms: f64) {
        self.packed_ms_per_row.add(ms / rows.max(1) as f64);
    }
}

/// An exponential moving average that ignores its first sample: a
/// program's first run compiles its kernels, which says nothing of its
/// speed.
#[derive(Debug, Default, Clone, Copy)]
struct Average {
    seen: u32,
    value: Option<f64>,
}

impl Average {
    /// Weight of the newest sample: recent enough to follow a kernel
    /// upgrade (the tuned tier arriving), smooth enough to ride out noise.
    const NEWEST: f64 = 0.3;

    fn add(&mut self, sample: f64) {
        self.seen += 1;
        if self.seen == 1 {
            return;
        }
        self.value = Some(match self.value {
            Some(v) => v + Self::NEWEST * (sample - v),
            None => sample,
        });
    }

    fn get(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUND: Round = Round { prompts: 4, prompt_rows: 400, singles: 2, packed_rows: 800 };

    fn measured(prefill: f64, packed: f64) -> RoundCosts {
        let mut costs = RoundCosts::default();
        for _ in 0..2 {
            costs.stepped(10.0);
            costs.prefilled(100, prefill * 100.0);
            costs.packed(100, packed * 100.0);
        }
        costs
    }

    #[test]
    fn the_cheaper_way_wins_once_both_are_measured() {
        // Separate: 10 + 2 * 400 = 810 ms; packed 1 * 800 = 800 ms.
        assert_eq!(measured(2.0, 1.0).choose(ROUND), Way::Packed);
        // Packed 1.1 * 800 = 880 ms.
        assert_eq!(measured(2.0, 1.1).choose(ROUND), Way::Separate);
    }

    #[test]
    fn an_unmeasured_way_is_tried_and_first_runs_do_not_count() {
        let mut costs = RoundCosts::default();
        assert_eq!(costs.choose(ROUND), Way::Packed);
        // The first packed run compiled its kernels: it is not a measure.
        costs.packed(800, 1e6);
        assert_eq!(costs.choose(ROUND), Way::Packed);
        costs.packed(800, 800.0);
        assert_eq!(costs.choose(ROUND), Way::Separate, "the separate way is not measured yet");
        costs.prefilled(400, 1e6);
        costs.prefilled(400, 400.0);
        assert_eq!(costs.choose(ROUND), Way::Separate, "400 ms < 800 ms");
    }

    #[test]
    fn one_prompt_runs_alone() {
        let round = Round { prompts: 1, ..ROUND };
        assert_eq!(RoundCosts::default().choose(round), Way::Separate);
    }
}
