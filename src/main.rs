//! `terraform-provider-gitlabrunner`: started by Terraform as a plugin.
//!
//! Usage: `terraform-provider-gitlabrunner [--debug | --version | docs [--check] [--dir DIR]]`.

use std::process::ExitCode;

use gitlabrunner::server::{self, Mode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => server::run(Mode::Plugin),
        ["--debug"] => server::run(Mode::Debug),
        ["--version" | "-version" | "version"] => {
            println!("terraform-provider-gitlabrunner {}", gitlabrunner::VERSION);
            ExitCode::SUCCESS
        }
        ["docs", rest @ ..] => docs(rest),
        _ => {
            eprintln!(
                "Usage: terraform-provider-gitlabrunner [--debug | --version | docs [--check] [--dir DIR]]\n\n\
                 Terraform starts this provider by itself; --debug runs it for \
                 TF_REATTACH_PROVIDERS; docs regenerates (or with --check verifies) the \
                 attribute reference in the Registry documentation."
            );
            ExitCode::from(2)
        }
    }
}

/// `docs [--check] [--dir DIR]`: rewrites the generated schema sections of the Registry pages
/// (default directory `docs`), or with `--check` fails when any page disagrees with its schema.
fn docs(args: &[&str]) -> ExitCode {
    let mut check_only = false;
    let mut dir = std::path::PathBuf::from("docs");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match (*arg, args.clone().next()) {
            ("--check", _) => check_only = true,
            ("--dir", Some(value)) => {
                dir = value.into();
                args.next();
            }
            _ => {
                eprintln!("Usage: terraform-provider-gitlabrunner docs [--check] [--dir DIR]");
                return ExitCode::from(2);
            }
        }
    }
    let schemas = gitlabrunner::framework::ProviderServer::with_all_types().schemas();
    match gitlabrunner::docs::sync(&dir, &schemas, check_only) {
        Ok(changed) => {
            for path in changed {
                println!("updated {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            ExitCode::FAILURE
        }
    }
}
