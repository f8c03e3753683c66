//! Registry documentation generated from the schemas and the examples: the schema descriptions
//! are the single source of every attribute reference, and the files under `examples/` the
//! single source of every "Example Usage" and "Import" snippet.
//!
//! Each page under `docs/` keeps its hand-written prose and carries generated sections between
//! marker comments: the attribute reference ([`BEGIN_MARKER`] .. [`END_MARKER`]) on the pages
//! of the provider, each resource and each data source, and any number of examples
//! ([`example_marker`] .. [`EXAMPLE_END_MARKER`]) on any page, guides included.
//! `terraform-provider-gitlabrunner docs` rewrites those sections; `docs --check` (and the test
//! suite) fails when a page disagrees with its schema or its examples, when a page lacks the
//! conventional examples of its type (`examples/resources/TYPE/resource.tf` and `import.sh`,
//! `examples/data-sources/TYPE/data-source.tf`, `examples/provider/provider.tf`), or when one
//! of those files does not exist.

mod render;
mod sections;

use std::path::{Path, PathBuf};

use crate::codec::Schema;
use crate::framework::Schemas;

pub use render::render_schema;
pub use sections::{
    BEGIN_MARKER, END_MARKER, EXAMPLE_END_MARKER, EXAMPLE_MARKER_PREFIX, EXAMPLE_MARKER_SUFFIX,
    SectionError, example_marker,
};

/// One documentation page for a schema.
pub struct Page {
    /// Path relative to the docs directory, e.g. `resources/irsa_binding.md`.
    pub relative_path: PathBuf,
    /// The schema whose reference the page carries.
    pub schema: Schema,
    /// The example files (relative to the repository root) the page must show, e.g.
    /// `examples/resources/gitlabrunner_cache/resource.tf`.
    pub examples: Vec<String>,
}

/// Why a page cannot be generated or does not match its sources.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// The page could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The page.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The page has no generated schema section.
    #[error("{0}: no generated schema section (add the two marker comments)")]
    MissingMarkers(PathBuf),
    /// The page's example markers cannot be read.
    #[error("{page}: {source}")]
    Sections {
        /// The page.
        page: PathBuf,
        /// What is wrong with its markers.
        #[source]
        source: SectionError,
    },
    /// A conventional example of the page's type does not exist.
    #[error("{page}: the example {example} does not exist; write it (the page shows it)")]
    MissingExample {
        /// The page.
        page: PathBuf,
        /// The example, relative to the repository root.
        example: String,
    },
    /// The page does not show one of its conventional examples.
    #[error(
        "{page}: does not show {example}; add the marker line `{}` followed by `{EXAMPLE_END_MARKER}`",
        example_marker(example)
    )]
    ExampleNotShown {
        /// The page.
        page: PathBuf,
        /// The example, relative to the repository root.
        example: String,
    },
    /// A marker names an example file that cannot be read.
    #[error("{page}: cannot read the example {example}: {source}")]
    ExampleFile {
        /// The page.
        page: PathBuf,
        /// The example, relative to the repository root.
        example: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A generated section is stale.
    #[error(
        "{0}: does not match the schema or the examples; run `terraform-provider-gitlabrunner docs`"
    )]
    Stale(PathBuf),
}

/// The pages for every schema: the provider, each resource and each data source.
pub fn pages(schemas: &Schemas) -> Vec<Page> {
    let short = |type_name: &str| type_name.trim_start_matches("gitlabrunner_").to_string();
    let mut pages = vec![Page {
        relative_path: "index.md".into(),
        schema: schemas.provider.clone(),
        examples: vec!["examples/provider/provider.tf".into()],
    }];
    for (name, schema) in &schemas.resources {
        pages.push(Page {
            relative_path: format!("resources/{}.md", short(name)).into(),
            schema: schema.clone(),
            examples: vec![
                format!("examples/resources/{name}/resource.tf"),
                format!("examples/resources/{name}/import.sh"),
            ],
        });
    }
    for (name, schema) in &schemas.data_sources {
        pages.push(Page {
            relative_path: format!("data-sources/{}.md", short(name)).into(),
            schema: schema.clone(),
            examples: vec![format!("examples/data-sources/{name}/data-source.tf")],
        });
    }
    pages
}

/// Rewrites (or, with `check_only`, verifies) the generated sections of every page under
/// `docs_dir`: the schema pages, and the examples of every other page (the guides). Example
/// paths are relative to the parent of `docs_dir` (the repository root). Returns the pages
/// that changed.
pub fn sync(
    docs_dir: &Path,
    schemas: &Schemas,
    check_only: bool,
) -> Result<Vec<PathBuf>, Vec<DocsError>> {
    let root = docs_dir.parent().unwrap_or(Path::new("."));
    let mut changed = Vec::new();
    let mut errors = Vec::new();
    let schema_pages = pages(schemas);
    for page in &schema_pages {
        let path = docs_dir.join(&page.relative_path);
        match sync_schema_page(page, &path, root, check_only) {
            Ok(true) => changed.push(path),
            Ok(false) => {}
            Err(mut e) => errors.append(&mut e),
        }
    }
    let known: Vec<PathBuf> = schema_pages
        .iter()
        .map(|p| docs_dir.join(&p.relative_path))
        .collect();
    for path in markdown_files(docs_dir).unwrap_or_default() {
        if known.contains(&path) {
            continue;
        }
        match sync_other_page(&path, root, check_only) {
            Ok(true) => changed.push(path),
            Ok(false) => {}
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(changed)
    } else {
        Err(errors)
    }
}

fn sync_schema_page(
    page: &Page,
    path: &Path,
    root: &Path,
    check_only: bool,
) -> Result<bool, Vec<DocsError>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !check_only => skeleton(page),
        Err(source) => {
            return Err(vec![DocsError::Io {
                path: path.to_path_buf(),
                source,
            }]);
        }
    };
    let with_schema = sections::replace_schema(&text, &render_schema(&page.schema))
        .ok_or_else(|| vec![DocsError::MissingMarkers(path.to_path_buf())])?;
    let mut errors = Vec::new();
    for example in &page.examples {
        if !root.join(example).is_file() {
            errors.push(DocsError::MissingExample {
                page: path.to_path_buf(),
                example: example.clone(),
            });
        } else if !with_schema.contains(&example_marker(example)) {
            errors.push(DocsError::ExampleNotShown {
                page: path.to_path_buf(),
                example: example.clone(),
            });
        }
    }
    let updated = match with_examples(&with_schema, path, root) {
        Ok(updated) => updated,
        Err(mut e) => {
            errors.append(&mut e);
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    write_if_changed(path, &text, &updated, check_only)
}

fn sync_other_page(path: &Path, root: &Path, check_only: bool) -> Result<bool, Vec<DocsError>> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        vec![DocsError::Io {
            path: path.to_path_buf(),
            source,
        }]
    })?;
    let updated = with_examples(&text, path, root)?;
    write_if_changed(path, &text, &updated, check_only)
}

/// `text` with every example section regenerated from its file.
fn with_examples(text: &str, page: &Path, root: &Path) -> Result<String, Vec<DocsError>> {
    let found = sections::example_sections(text).map_err(|source| {
        vec![DocsError::Sections {
            page: page.to_path_buf(),
            source,
        }]
    })?;
    let mut errors = Vec::new();
    let updated =
        sections::replace_examples(text, &found, |example| match read_example(root, example) {
            Ok(contents) => sections::fenced_example(example, &contents),
            Err(source) => {
                errors.push(DocsError::ExampleFile {
                    page: page.to_path_buf(),
                    example: example.to_string(),
                    source,
                });
                String::new()
            }
        });
    if errors.is_empty() {
        Ok(updated)
    } else {
        Err(errors)
    }
}

/// An example file's text; only relative paths inside the repository are read.
fn read_example(root: &Path, example: &str) -> std::io::Result<String> {
    let relative = Path::new(example);
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "example paths are relative to the repository root, without `..`",
        ));
    }
    std::fs::read_to_string(root.join(relative))
}

fn write_if_changed(
    path: &Path,
    old: &str,
    new: &str,
    check_only: bool,
) -> Result<bool, Vec<DocsError>> {
    if new == old {
        return Ok(false);
    }
    if check_only {
        return Err(vec![DocsError::Stale(path.to_path_buf())]);
    }
    let io = |source| {
        vec![DocsError::Io {
            path: path.to_path_buf(),
            source,
        }]
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, new).map_err(io)?;
    Ok(true)
}

/// Every `.md` file under `dir`, sorted.
fn markdown_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(markdown_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// A new page for a schema that has none yet: front matter, a title, the description, the
/// example and import sections and the schema markers. The prose is then written by hand
/// around them.
fn skeleton(page: &Page) -> String {
    let stem = page
        .relative_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let kind = match page.relative_path.parent().and_then(|p| p.to_str()) {
        Some("resources") => "Resource",
        Some("data-sources") => "Data Source",
        _ => "Provider",
    };
    let description = page.schema.block.description.trim();
    let mut text = format!(
        "---\npage_title: \"gitlabrunner_{stem} {kind} - gitlabrunner\"\nsubcategory: \"\"\n\
         description: |-\n  {}\n---\n\n# gitlabrunner_{stem} ({kind})\n\n{description}\n",
        description.lines().next().unwrap_or_default()
    );
    let show = |text: &mut String, example: &str| {
        text.push_str(&format!(
            "\n{}\n{EXAMPLE_END_MARKER}\n",
            example_marker(example)
        ));
    };
    let (usage, import): (Vec<&String>, Vec<&String>) = page
        .examples
        .iter()
        .partition(|e| !e.ends_with("import.sh"));
    text.push_str("\n## Example Usage\n");
    for example in usage {
        show(&mut text, example);
    }
    text.push_str(&format!("\n{BEGIN_MARKER}\n{END_MARKER}\n"));
    if !import.is_empty() {
        text.push_str("\n## Import\n");
        for example in import {
            show(&mut text, example);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Attribute, Block, Type};
    use std::collections::BTreeMap;

    fn schemas() -> Schemas {
        let schema = |d: &str| {
            Schema::new(
                0,
                Block::new(d).attr(Attribute::required("name", Type::String, "The name.")),
            )
        };
        Schemas {
            provider: schema("The provider."),
            resources: BTreeMap::from([("gitlabrunner_thing".to_string(), schema("A thing."))]),
            data_sources: BTreeMap::new(),
        }
    }

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn new_pages_are_generated_with_schema_and_examples_then_check_passes() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "examples/provider/provider.tf",
            "provider \"gitlabrunner\" {}\n",
        );
        write(
            root.path(),
            "examples/resources/gitlabrunner_thing/resource.tf",
            "resource \"gitlabrunner_thing\" \"x\" {}\n",
        );
        write(
            root.path(),
            "examples/resources/gitlabrunner_thing/import.sh",
            "terraform import gitlabrunner_thing.x id\n",
        );
        let docs = root.path().join("docs");
        let changed = sync(&docs, &schemas(), false).unwrap();
        assert_eq!(changed.len(), 2);
        let page = std::fs::read_to_string(docs.join("resources/thing.md")).unwrap();
        assert!(page.contains("```terraform\nresource \"gitlabrunner_thing\" \"x\" {}\n```"));
        assert!(page.contains("```shell\nterraform import gitlabrunner_thing.x id\n```"));
        assert!(page.contains("- `name` (String) The name."));
        assert_eq!(
            sync(&docs, &schemas(), true).unwrap(),
            Vec::<PathBuf>::new()
        );

        write(
            root.path(),
            "examples/resources/gitlabrunner_thing/resource.tf",
            "resource \"gitlabrunner_thing\" \"y\" {}\n",
        );
        let errors = sync(&docs, &schemas(), true).unwrap_err();
        assert!(matches!(errors.as_slice(), [DocsError::Stale(p)] if p.ends_with("thing.md")));
    }

    #[test]
    fn check_names_missing_examples_and_pages_that_do_not_show_them() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "examples/provider/provider.tf",
            "provider \"gitlabrunner\" {}\n",
        );
        write(
            root.path(),
            "docs/index.md",
            &format!("# P\n\n{BEGIN_MARKER}\n{END_MARKER}\n"),
        );
        write(
            root.path(),
            "docs/resources/thing.md",
            &format!("# T\n\n{BEGIN_MARKER}\n{END_MARKER}\n"),
        );
        write(
            root.path(),
            "docs/guides/g.md",
            &format!(
                "# G\n\n{}\n{EXAMPLE_END_MARKER}\n",
                example_marker("examples/none.tf")
            ),
        );
        let errors = sync(&root.path().join("docs"), &schemas(), true).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|e| e.contains("index.md: does not show examples/provider/provider.tf")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|e| e
                    .contains("examples/resources/gitlabrunner_thing/resource.tf does not exist")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|e| e.contains("g.md: cannot read the example examples/none.tf")),
            "{text:#?}"
        );
    }

    #[test]
    fn example_paths_outside_the_repository_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let error = read_example(root.path(), "../etc/passwd").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(read_example(root.path(), "/etc/passwd").is_err());
    }
}
