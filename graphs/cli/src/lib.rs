//! What the `wgraph` tool shares with the project's examples: plots drawn
//! in memory and written atomically (`compare --plot`, the reversal
//! example's training curves). The commands themselves live in the binary
//! (`src/main.rs`, one file per command under `src/commands/`).

pub mod plot;
