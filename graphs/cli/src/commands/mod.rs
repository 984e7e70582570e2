//! One module per subcommand, each with its flags (`Args`) and `exec`.

pub(crate) mod bench;
pub(crate) mod chat;
pub(crate) mod check;
pub(crate) mod check_device;
pub(crate) mod check_weights;
pub(crate) mod classify;
pub(crate) mod compare;
pub(crate) mod diff;
pub(crate) mod dump;
pub(crate) mod embed;
pub(crate) mod features;
pub(crate) mod find_nan;
pub(crate) mod generate;
pub(crate) mod grad;
pub(crate) mod inspect;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod tokenize;
pub(crate) mod train;
pub(crate) mod tune;
