//! `lvsadm`: administer a running lvsd with ipvsadm's syntax.
//!
//! ```text
//! lvsadm -L -n [--stats | --rate | -c]
//! lvsadm -A -t 127.0.0.1:8080 -s wlc [-p 300 -M 255.255.255.0]
//! lvsadm -a -t 127.0.0.1:8080 -r 127.0.0.1:9001 -m -w 2
//! lvsadm -S -n > rules; lvsadm -C; lvsadm -R < rules
//! lvsadm -a -t 10.0.1.100:80 -r 10.0.2.11:80 -g      # packet mode: -g DR, -i TUN, -m NAT
//! lvsadm --reload                 # re-read lvsd's configuration file, as SIGHUP (lvs extension)
//! lvsadm realserver --dr 192.0.2.10 [--dev eth0] [--apply]   # real server setup (DR/TUN)
//! ```
//!
//! Exit status: 0 done, 1 lvsd refused the command (a failed `--reload` prints why and keeps
//! the running configuration) or is unreachable, 2 bad arguments.

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::lvsd::admin::{AdminArgs, parse_line};
use lvs_bins::lvsd::config::default_control_path;
use lvs_bins::lvsd::control_request;
use lvs_bins::lvsd::realserver::{self, RealServerArgs};

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "realserver")
    {
        let args = RealServerArgs::parse_from(std::env::args_os().skip(1));
        return ExitCode::from(realserver::run(&args));
    }
    let args = AdminArgs::parse();
    let socket = args.socket.clone().unwrap_or_else(default_control_path);
    let lines = if args.restore {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("lvsadm: reading rules: {e}");
            return ExitCode::from(2);
        }
        let mut lines = Vec::new();
        for (i, l) in text.lines().enumerate() {
            match parse_line(l) {
                Ok(Some(cmd)) => lines.push(cmd.to_line()),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("lvsadm: line {}: {e}", i + 1);
                    return ExitCode::from(2);
                }
            }
        }
        lines
    } else {
        match args.command() {
            Ok(cmd) => vec![cmd.to_line()],
            Err(e) => {
                eprintln!("lvsadm: {e}");
                return ExitCode::from(2);
            }
        }
    };
    match control_request(&socket, &lines) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsadm: {e}");
            ExitCode::FAILURE
        }
    }
}
