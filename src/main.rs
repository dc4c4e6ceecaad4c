//! The oemr-doctor binary: parse arguments, set up logging and colour, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use oemr_doctor::cli::{self as commands_cli, Cli, ColorChoice};
use oemr_doctor::commands;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    // The sandbox's log is the emulated server's log, where OpenEMR keeps its reasons: show it.
    let server_log = matches!(cli.command, commands_cli::Command::Sandbox(_));
    init_color(cli.color);
    init_logging(cli.verbose, cli.quiet, server_log);
    oemr_doctor::secrets::show(cli.show_secrets);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(commands::run(&cli)) {
        Ok(code) => code,
        Err(failure) => {
            if cli.command.json() {
                commands::print_json(&commands::failure_json(&failure));
            }
            eprint!("{}", commands::render_failure(&failure));
            failure.code
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// clap's own message and exit code; with `--json` on the command line, stdout also gets the
/// error document, so a script reading JSON never gets an empty stdout.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    if !informational && std::env::args().any(|a| a == "--json") {
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or("invalid arguments");
        let message = first.trim_start_matches("error: ").to_string();
        let failure =
            commands::Failure::usage(anyhow::anyhow!(message)).hint("see --help for the arguments");
        commands::print_json(&commands::failure_json(&failure));
    }
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

fn init_logging(verbose: u8, quiet: bool, server_log: bool) {
    let default = match verbose {
        _ if quiet => "error",
        0 if server_log => "oemr_doctor::sandbox=info,warn",
        0 => "warn",
        1 => "oemr_doctor=info,warn",
        _ => "oemr_doctor=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(console::colors_enabled_stderr())
        .with_target(false)
        .init();
}

fn init_color(choice: ColorChoice) {
    // With `auto`, console decides per stream: a terminal, and NO_COLOR / CLICOLOR honoured.
    let forced = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => return,
    };
    console::set_colors_enabled(forced);
    console::set_colors_enabled_stderr(forced);
}
