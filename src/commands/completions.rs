//! `oemr-doctor completions` and `oemr-doctor man`: generated from the argument definitions,
//! so they can never drift from `--help`.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use super::{Failure, Outcome};
use crate::cli::{Cli, CompletionsArgs, ManArgs};

/// Prints a completion script for the chosen shell.
pub fn completions(args: &CompletionsArgs) -> Outcome {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "oemr-doctor",
        &mut std::io::stdout(),
    );
    Ok(0)
}

/// Prints the main man page, or writes every page into a directory.
pub fn man(args: &ManArgs) -> Outcome {
    let command = Cli::command();
    match &args.out {
        None => {
            let mut stdout = std::io::stdout();
            clap_mangen::Man::new(command)
                .render(&mut stdout)
                .map_err(Failure::runtime)?;
        }
        Some(dir) => write_pages(command, dir).map_err(Failure::runtime)?,
    }
    Ok(0)
}

fn write_pages(command: clap::Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    write_page(command.clone(), "oemr-doctor", dir, &mut written)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("oemr-doctor-{}", sub.get_name());
        write_page(sub.clone().name(name.clone()), &name, dir, &mut written)?;
    }
    for path in written {
        println!("wrote {path}");
    }
    Ok(())
}

fn write_page(
    command: clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    Ok(())
}
