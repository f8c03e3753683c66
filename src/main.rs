//! `terraform-provider-gitlabrunner`: started by Terraform as a plugin.
//!
//! Usage: `terraform-provider-gitlabrunner [--debug | --version]`.

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
        ["docs", ..] => {
            eprintln!("The docs subcommand is reserved and not available in this build.");
            ExitCode::from(2)
        }
        _ => {
            eprintln!(
                "Usage: terraform-provider-gitlabrunner [--debug | --version]\n\n\
                 Terraform starts this provider by itself; --debug runs it for \
                 TF_REATTACH_PROVIDERS."
            );
            ExitCode::from(2)
        }
    }
}
