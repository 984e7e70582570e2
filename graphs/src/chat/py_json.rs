//! HF's `tojson` filter: Python's `json.dumps(x, ensure_ascii=False)`
//! (separators `", "` and `": "`, no HTML escaping, keys in insertion
//! order), unlike Jinja's own which escapes `<`, `>`, `&` and `'`.

use serde_json::Value;

/// `json.dumps(value, ensure_ascii=False, indent=indent)`.
pub(crate) fn dumps(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write(&mut out, value, indent, 0);
    out
}

fn write(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Array(items) => {
            container(out, '[', ']', items.iter().map(|v| (None, v)), items.is_empty(), indent, depth)
        }
        Value::Object(map) => {
            container(out, '{', '}', map.iter().map(|(k, v)| (Some(k.as_str()), v)), map.is_empty(), indent, depth)
        }
        // serde_json writes strings and numbers as Python does for these
        // (escapes `"`, `\` and control characters; non-ASCII kept).
        other => out.push_str(&other.to_string()),
    }
}

fn container<'a>(
    out: &mut String,
    open: char,
    close: char,
    items: impl Iterator<Item = (Option<&'a str>, &'a Value)>,
    empty: bool,
    indent: Option<usize>,
    depth: usize,
) {
    out.push(open);
    if empty {
        out.push(close);
        return;
    }
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    for (i, (key, v)) in items.enumerate() {
        if i > 0 {
            // With an indent Python's item separator is "," (the newline follows).
            out.push_str(if indent.is_some() { "," } else { ", " });
        }
        newline(out, depth + 1);
        if let Some(k) = key {
            out.push_str(&Value::String(k.to_string()).to_string());
            out.push_str(": ");
        }
        write(out, v, indent, depth + 1);
    }
    newline(out, depth);
    out.push(close);
}

#[cfg(test)]
mod tests {
    use super::dumps;
    use serde_json::json;

    #[test]
    fn matches_pythons_json_dumps() {
        // json.dumps({"a": [1, 2.5, "<&'é>"], "b": {}}, ensure_ascii=False)
        let v = json!({"a": [1, 2.5, "<&'é>"], "b": {}});
        assert_eq!(dumps(&v, None), r#"{"a": [1, 2.5, "<&'é>"], "b": {}}"#);
        // json.dumps([1, {"k": None}], indent=2)
        assert_eq!(dumps(&json!([1, {"k": null}]), Some(2)), "[\n  1,\n  {\n    \"k\": null\n  }\n]");
    }
}
