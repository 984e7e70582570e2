//! wgraph's typed errors as JavaScript exceptions: the message is the
//! error's own text (names the tensor, node or limit).

use wasm_bindgen::JsError;

/// `e` as a JavaScript `Error` with wgraph's message.
pub(crate) fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}
