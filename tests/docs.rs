//! The Registry documentation under `docs/` agrees with the schemas and the examples: every
//! attribute reference is what `terraform-provider-gitlabrunner docs` generates from the schema
//! descriptions, every "Example Usage" and "Import" snippet is the file under `examples/` it
//! names, and every resource, data source and the provider has its page and its examples.

use std::path::Path;

use gitlabrunner::framework::ProviderServer;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn docs_match_the_schemas_and_the_examples() {
    let schemas = ProviderServer::with_all_types().schemas();
    if let Err(errors) = gitlabrunner::docs::sync(&repository().join("docs"), &schemas, true) {
        let lines: Vec<String> = errors.iter().map(|e| format!("- {e}")).collect();
        panic!(
            "the docs disagree with the schemas or the examples:\n{}\n\nRegenerate them with \
             `cargo run --bin terraform-provider-gitlabrunner -- docs`.",
            lines.join("\n")
        );
    }
}

#[test]
fn every_type_has_a_page_and_every_page_a_type() {
    let schemas = ProviderServer::with_all_types().schemas();
    let expected: Vec<String> = gitlabrunner::docs::pages(&schemas)
        .iter()
        .map(|page| page.relative_path.display().to_string())
        .collect();
    for folder in ["resources", "data-sources"] {
        for entry in std::fs::read_dir(repository().join("docs").join(folder)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let page = format!("{folder}/{name}");
            assert!(
                expected.contains(&page),
                "docs/{page} documents no resource or data source the provider has"
            );
        }
    }
}

#[test]
fn every_example_folder_belongs_to_a_type() {
    let schemas = ProviderServer::with_all_types().schemas();
    for (folder, types) in [
        ("resources", schemas.resources.keys().collect::<Vec<_>>()),
        ("data-sources", schemas.data_sources.keys().collect()),
    ] {
        for entry in std::fs::read_dir(repository().join("examples").join(folder)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                types.iter().any(|t| **t == name),
                "examples/{folder}/{name} is not a {folder} type of the provider"
            );
        }
    }
}
