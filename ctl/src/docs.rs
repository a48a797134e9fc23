//! Man pages and shell completions, made from the same definitions as `--help` (clap's
//! generators), and the configuration reference from the parser's own key list: no second
//! copy of an option list to keep in step.

use clap::{Arg, ArgAction, Command};
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;
use shadow_core::config::KEYS;
use shadow_core::history::Code;
use std::fs;
use std::io;
use std::path::Path;

/// shadow-run's command line (the script parses it; this describes it).
pub fn shadow_run_command() -> Command {
    Command::new("shadow-run")
        .about("Run a program with libshadow.so mirroring everything it writes under a prefix")
        .long_about(
            "Run a program with libshadow.so mirroring everything it writes under a virtual prefix into two member \
             directories. With the set flags a config is written to STATE_DIR/shadow-run.toml. The config and the \
             program are checked first (shadowctl check-config, check-exec); a program that would run un-mirrored \
             (statically linked, setuid, file capabilities, a broken config) is refused with exit status 125. After a \
             crash, shadowctl recover runs first; with update_at_start the lagging member is brought level.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .override_usage("shadow-run [-c CONFIG] -- PROGRAM [ARGS...]\n       shadow-run --prefix P --primary DIR --secondary DIR --state-dir DIR -- PROGRAM [ARGS...]")
        .arg(Arg::new("config").short('c').long("config").value_name("CONFIG").help("Config file of the shadow set (default: $SHADOW_CONFIG)"))
        .arg(Arg::new("prefix").long("prefix").value_name("P").help("Virtual prefix the program writes under"))
        .arg(Arg::new("primary").long("primary").value_name("DIR").help("Primary member directory (answers reads)"))
        .arg(Arg::new("secondary").long("secondary").value_name("DIR").help("Secondary member directory"))
        .arg(Arg::new("state-dir").long("state-dir").value_name("DIR").help("Directory for the set's shared state, journal and history"))
        .arg(Arg::new("program").value_name("PROGRAM").required(true).help("The program to run, then its arguments"))
        .arg(Arg::new("args").value_name("ARGS").action(ArgAction::Append).trailing_var_arg(true).allow_hyphen_values(true))
        .after_help("Exit status: the program's own; 125 when shadow-run refused to start it (one line on stderr says why).")
}

/// shadow.toml(5): every key, the history codes, exit statuses and the files in state_dir.
fn config_page() -> Roff {
    let mut r = Roff::new();
    r.control("TH", ["SHADOW.TOML", "5", "", concat!("libshadow ", env!("CARGO_PKG_VERSION"))]);
    r.control("SH", ["NAME"]);
    r.text([roman("shadow.toml - the configuration of a libshadow shadow set")]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "One TOML file per application, named by SHADOW_CONFIG (or shadow-run -c, shadowctl -c). Without SHADOW_CONFIG \
         the shim does nothing at all. Any error (an unknown key, a missing one, a wrong type, a relative path, a member \
         missing or not a directory, a prefix overlapping a member, primary equal to secondary) stops the program before \
         it runs: one line on stderr naming the file and the key, exit status 125.",
    )]);
    r.control("SH", ["KEYS"]);
    for (key, about) in KEYS {
        r.control("TP", []);
        r.text([bold(*key)]);
        r.text([roman(*about)]);
    }
    r.control("SH", ["HISTORY"]);
    r.text([roman("Every event is a line of STATE_DIR/history.log: "), italic("CODE"), roman(" [primary path][secondary path][what]. The codes:")]);
    for code in Code::ALL {
        r.control("TP", []);
        r.text([bold(format!("{:05}", code.number()))]);
        r.text([roman(code.about())]);
    }
    r.control("SH", ["EXIT STATUS"]);
    r.text([roman("A program the shim refuses to run (broken config, damaged state file, every registry slot taken) exits 125. shadowctl exits 0 on success, 1 when verify found differences, recover left some or wait timed out, 2 on an error or a refused operation.")]);
    r.control("SH", ["FILES"]);
    for (file, about) in [
        ("state", "members, their states and generations; mapped by every process"),
        ("registry", "one slot per process using the set"),
        ("lock", "serialises shadowctl commands; writers wait on it during a freeze"),
        ("journal", "write intents: what a crash may have left different between the members"),
        ("changes", "paths changed while a member was not written (enable --update dirty)"),
        ("copying", "the entry a resync is copying, so that one cut short (kill -9) is copied again"),
        ("full-copy-due", "names a member whose full copy (all, replace) was cut short: its resyncs copy everything until one completes"),
        ("history.log", "the history, one line per event"),
        ("status", "DiskShadow's status-file form, rewritten by shadowctl status --write and watch"),
        ("metrics.prom", "the Prometheus text form of status, rewritten by watch (node_exporter's textfile collector)"),
    ] {
        r.control("TP", []);
        r.text([bold(format!("STATE_DIR/{file}"))]);
        r.text([roman(about)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([bold("shadowctl"), roman("(8), "), bold("shadow-run"), roman("(1)")]);
    r
}

/// Writes the man pages and completions below `share` (PREFIX/share): man/man8 (shadowctl
/// and each command), man/man1 (shadow-run), man/man5 (shadow.toml), and the bash, zsh and
/// fish completions where those shells look for them.
pub fn generate(share: &Path, shadowctl: Command) -> io::Result<()> {
    let man = share.join("man");
    for section in ["man1", "man5", "man8"] {
        fs::create_dir_all(man.join(section))?;
    }
    let mut shadowctl = shadowctl;
    shadowctl.build();
    let page = |cmd: &Command, section: &str, path: &Path| -> io::Result<()> {
        let mut out = Vec::new();
        Man::new(cmd.clone()).section(section).render(&mut out)?;
        fs::write(path, out)
    };
    page(&shadowctl, "8", &man.join("man8/shadowctl.8"))?;
    for sub in shadowctl.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("shadowctl-{}", sub.get_name());
        page(&sub.clone().name(name.clone()), "8", &man.join(format!("man8/{name}.8")))?;
    }
    page(&shadow_run_command(), "1", &man.join("man1/shadow-run.1"))?;
    let mut toml = Vec::new();
    config_page().to_writer(&mut toml)?;
    fs::write(man.join("man5/shadow.toml.5"), toml)?;
    for (shell, dir, name) in [
        (Shell::Bash, "bash-completion/completions", "{}"),
        (Shell::Zsh, "zsh/site-functions", "_{}"),
        (Shell::Fish, "fish/vendor_completions.d", "{}.fish"),
    ] {
        fs::create_dir_all(share.join(dir))?;
        for cmd in [shadowctl.clone(), shadow_run_command()] {
            let bin = cmd.get_name().to_string();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), &bin, &mut out);
            fs::write(share.join(dir).join(name.replace("{}", &bin)), out)?;
        }
    }
    Ok(())
}
