//! The wgraph model zoo: graph builders that mirror HuggingFace checkpoint
//! key paths.
