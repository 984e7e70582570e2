//! `wgraph serve MODEL`: an HTTP server for embeddings, classification and
//! chat. The server itself lives in `crate::server` (many small files).

use crate::Result;

pub(crate) use crate::server::{Args, AFTER_HELP};

pub(crate) fn exec(args: &Args) -> Result<()> {
    crate::server::run(args)
}
