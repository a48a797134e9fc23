//! shadowctl: inspect and manage a libshadow shadow set.
//!
//! Exit codes: 0 success (verify: members identical); 1 verify found differences;
//! 2 error (bad arguments, unreadable config, I/O error, program refused by check-exec).

mod execcheck;

use clap::{Parser, Subcommand};
use shadow_core::config::{self, Config};
use shadow_core::Member;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "shadowctl", version, about = "Manage libshadow shadow sets", after_help = "Exit codes: 0 success, 1 differences found (verify), 2 error.")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Config file of the shadow set (default: $SHADOW_CONFIG)
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn load(&self) -> Result<Config, String> {
        let path = match &self.config {
            Some(p) => p.clone(),
            None => std::env::var_os(config::ENV_CONFIG)
                .map(PathBuf::from)
                .ok_or_else(|| format!("no config: pass -c CONFIG or set {}", config::ENV_CONFIG))?,
        };
        config::load(&path).map_err(|e| e.to_string())
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Compare the members: entries, type, size, mode, owner, symlink targets, contents.
    /// Exit 0 when identical, 1 when they differ, 2 on error.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON object on stdout instead of lines
        #[arg(long)]
        json: bool,
    },
    /// Check that a program can run under the shim (dynamically linked, not setuid/setgid
    /// or file-capability, script interpreters likewise). Exit 0 if it can, 2 if not.
    CheckExec {
        /// Program name or path (looked up in PATH like exec would)
        program: String,
    },
    /// Load and check a config file; print it normalised.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Cmd::Verify { config, json } => {
            let c = config.load()?;
            let (p, s) = (&c.member(Member::Primary).dir, &c.member(Member::Secondary).dir);
            let diffs = shadow_core::tree::compare(p.as_ref(), s.as_ref()).map_err(|e| format!("verify: {e}"))?;
            if json {
                let items: Vec<String> = diffs
                    .iter()
                    .map(|d| format!("{{\"path\":{},\"difference\":{}}}", json_string(&d.path.to_string_lossy()), json_string(&d.to_string())))
                    .collect();
                println!("{{\"primary\":{},\"secondary\":{},\"identical\":{},\"differences\":[{}]}}", json_string(p), json_string(s), diffs.is_empty(), items.join(","));
            } else {
                for d in &diffs {
                    println!("{d}");
                }
                eprintln!("verify: {} difference(s) between {p} and {s}", diffs.len());
            }
            Ok(if diffs.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::CheckExec { program } => {
            execcheck::check(&program)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckConfig { config } => {
            let c = config.load()?;
            println!("prefix = {}", json_string(&c.prefix));
            for m in &c.members {
                println!("{} = {}", m.member.name(), json_string(&m.dir));
            }
            println!("state_dir = {}", json_string(&c.state_dir.to_string_lossy()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shadowctl: {e}");
            ExitCode::from(2)
        }
    }
}
