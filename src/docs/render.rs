//! Markdown rendering of a schema, in the Registry's "Schema" section style.

use std::fmt::Write;

use crate::codec::{Attribute, Block, Nesting, Schema, Type};

/// The "Schema" section of a page, as `tfplugindocs` writes it: required, optional and
/// read-only attributes, then one section per nested block or nested attribute object, depth
/// first in the order they appear.
pub fn render_schema(schema: &Schema) -> String {
    let mut out = String::from("## Schema\n");
    render_nested(&mut out, &schema.block, "", true);
    out
}

/// A nested schema still to be written: its anchor, dotted title and contents.
type Nested = (String, String, Block);

fn render_nested(out: &mut String, block: &Block, prefix: &str, top_level: bool) {
    let mut nested = Vec::new();
    render_block(out, block, prefix, top_level, &mut nested);
    for (anchor, title, child) in nested {
        let _ = write!(
            out,
            "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{title}`\n"
        );
        render_nested(out, &child, &title, false);
    }
}

fn render_block(
    out: &mut String,
    block: &Block,
    prefix: &str,
    top_level: bool,
    nested: &mut Vec<Nested>,
) {
    let mut required = Vec::new();
    let mut optional = Vec::new();
    let mut read_only = Vec::new();
    for attr in &block.attributes {
        let (anchor, child) = nested_child(prefix, attr);
        let line = attribute_line(attr, anchor.as_deref());
        if let (Some(anchor), Some((title, child))) = (anchor, child) {
            nested.push((anchor, title, child));
        }
        match (attr.required, attr.optional, attr.computed) {
            (true, _, _) => required.push(line),
            (_, true, _) => optional.push(line),
            _ => read_only.push(line),
        }
    }
    for b in &block.blocks {
        let title = join(prefix, &b.name);
        let anchor = anchor_for("nestedblock", &title);
        let kind = match b.nesting {
            Nesting::Single | Nesting::Group => "Block".to_string(),
            Nesting::List => "Block List".to_string(),
            Nesting::Set => "Block Set".to_string(),
            Nesting::Map => "Block Map".to_string(),
        };
        let limits = match (b.min_items, b.max_items) {
            (0, 0) => String::new(),
            (min, 0) => format!(", Min: {min}"),
            (0, max) => format!(", Max: {max}"),
            (min, max) => format!(", Min: {min}, Max: {max}"),
        };
        let line = format!(
            "- `{}` ({kind}{limits}) {} (see [below for nested schema](#{anchor}))",
            b.name,
            one_line(&b.block.description)
        );
        if b.min_items > 0 {
            required.push(line);
        } else {
            optional.push(line);
        }
        nested.push((anchor, title, b.block.clone()));
    }
    for (heading, lines) in [
        ("Required", required),
        ("Optional", optional),
        ("Read-Only", read_only),
    ] {
        if lines.is_empty() {
            continue;
        }
        if top_level {
            let _ = write!(out, "\n### {heading}\n\n{}\n", lines.join("\n"));
        } else {
            let _ = write!(out, "\n{heading}:\n\n{}\n", lines.join("\n"));
        }
    }
}

fn nested_child(prefix: &str, attr: &Attribute) -> (Option<String>, Option<(String, Block)>) {
    match &attr.nested {
        Some((_, attrs)) => {
            let title = join(prefix, &attr.name);
            let block = Block {
                attributes: attrs.clone(),
                ..Block::default()
            };
            (Some(anchor_for("nestedatt", &title)), Some((title, block)))
        }
        None => (None, None),
    }
}

fn attribute_line(attr: &Attribute, nested_anchor: Option<&str>) -> String {
    let mut flags = vec![type_name(&attr.ty)];
    if attr.sensitive {
        flags.push("Sensitive".into());
    }
    if attr.deprecated {
        flags.push("Deprecated".into());
    }
    let mut line = format!(
        "- `{}` ({}) {}",
        attr.name,
        flags.join(", "),
        one_line(&attr.description)
    );
    if let Some(default) = &attr.default {
        let _ = write!(line, " Defaults to `{}`.", default_text(default));
    }
    if attr.requires_replace {
        line.push_str(" Changing it replaces the resource.");
    }
    if let Some(anchor) = nested_anchor {
        let _ = write!(line, " (see [below for nested schema](#{anchor}))");
    }
    line.trim_end().to_string()
}

fn default_text(value: &crate::codec::Value) -> String {
    use crate::codec::Value;
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.canonical(),
        Value::List(v) | Value::Set(v) if v.is_empty() => "[]".into(),
        Value::Map(m) if m.is_empty() => "{}".into(),
        other => format!("{other:?}"),
    }
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_name(e)),
        Type::Set(e) => format!("Set of {}", type_name(e)),
        Type::Map(e) => format!("Map of {}", type_name(e)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn anchor_for(kind: &str, title: &str) -> String {
    format!("{kind}--{}", title.replace('.', "--"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{NestedBlock, Value};

    #[test]
    fn renders_sections_types_defaults_and_nested_blocks() {
        let schema = Schema::new(
            0,
            Block::new("")
                .attr(
                    Attribute::required("namespace", Type::String, "The namespace.")
                        .requires_replace(),
                )
                .attr(Attribute::with_default(
                    "audience",
                    Type::String,
                    Value::from("sts.amazonaws.com"),
                    "Audience.",
                ))
                .attr(Attribute::computed(
                    "role_arn",
                    Type::String,
                    "The role ARN.",
                ))
                .block(NestedBlock::new(
                    "grant",
                    Nesting::List,
                    Block::new("RBAC in one namespace.").attr(Attribute::required(
                        "namespace",
                        Type::String,
                        "Where.",
                    )),
                )),
        );
        let md = render_schema(&schema);
        assert!(md.contains("### Required\n\n- `namespace` (String) The namespace. Changing it replaces the resource."));
        assert!(
            md.contains("- `audience` (String) Audience. Defaults to `\"sts.amazonaws.com\"`.")
        );
        assert!(md.contains("### Read-Only\n\n- `role_arn` (String) The role ARN."));
        assert!(md.contains("- `grant` (Block List) RBAC in one namespace. (see [below for nested schema](#nestedblock--grant))"));
        assert!(md.contains(
            "### Nested Schema for `grant`\n\nRequired:\n\n- `namespace` (String) Where."
        ));
    }
}
