//! `lvsadm realserver --dr VIP | --tun VIP [--dev IF] [--apply]`: the host setup a real server
//! needs behind a packet-mode director.
//!
//! * Direct routing: the VIP on `lo` as a /32 (/128), and the ARP sysctls so the real server
//!   neither answers ARP for the VIP (`arp_ignore = 1`) nor uses it as an ARP source
//!   (`arp_announce = 2`), for `all` and for the outgoing interface.
//! * Tunnelling: the `ipip` module, `tunl0` up with the VIP on it, and reverse-path filtering
//!   off on `tunl0` and `all` (decapsulated packets arrive with the client's address).
//!
//! Without `--apply` the commands are printed; with it they run in order (root only) and
//! the first failure stops the run.

use core::net::IpAddr;

use clap::Parser;

/// The real server setup helper's arguments (after `lvsadm realserver`).
#[derive(Debug, Parser)]
#[command(
    name = "lvsadm realserver",
    about = "Print (or, with --apply, run) the setup a real server needs for DR or TUN"
)]
#[command(group(clap::ArgGroup::new("method").required(true).args(["dr", "tun"])))]
pub struct RealServerArgs {
    /// Direct routing for this VIP.
    #[arg(long, value_name = "VIP")]
    pub dr: Option<IpAddr>,
    /// IP-in-IP tunnelling for this VIP.
    #[arg(long, value_name = "VIP")]
    pub tun: Option<IpAddr>,
    /// The interface facing the director (direct routing ARP sysctls).
    #[arg(long, value_name = "IF", default_value = "eth0")]
    pub dev: String,
    /// Run the commands (root only) instead of printing them.
    #[arg(long)]
    pub apply: bool,
}

/// The commands, each as an argument vector.
pub fn commands(args: &RealServerArgs) -> Result<Vec<Vec<String>>, String> {
    if args.dev.is_empty()
        || args.dev.len() > 15
        || !args
            .dev
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
    {
        return Err(format!("--dev {:?}: not an interface name", args.dev));
    }
    let v = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let sysctl = |key: String| vec!["sysctl".to_owned(), "-w".to_owned(), key];
    let mut out = Vec::new();
    if let Some(vip) = args.dr {
        let (fam, len) = if vip.is_ipv4() {
            ("-4", 32)
        } else {
            ("-6", 128)
        };
        let a = format!("{vip}/{len}");
        out.push(v(&["ip", fam, "addr", "add", &a, "dev", "lo"]));
        if vip.is_ipv4() {
            for iface in ["all", args.dev.as_str()] {
                out.push(sysctl(format!("net.ipv4.conf.{iface}.arp_ignore=1")));
                out.push(sysctl(format!("net.ipv4.conf.{iface}.arp_announce=2")));
            }
        }
    } else if let Some(vip) = args.tun {
        if !vip.is_ipv4() {
            return Err("--tun: tunl0 (IP-in-IP) carries IPv4 VIPs only".into());
        }
        let a = format!("{vip}/32");
        out.push(v(&["modprobe", "ipip"]));
        out.push(v(&["ip", "link", "set", "tunl0", "up"]));
        out.push(v(&["ip", "addr", "add", &a, "dev", "tunl0"]));
        out.push(sysctl("net.ipv4.conf.tunl0.rp_filter=0".into()));
        out.push(sysctl("net.ipv4.conf.all.rp_filter=0".into()));
    } else {
        return Err("one of --dr VIP or --tun VIP is required".into());
    }
    Ok(out)
}

/// Print the commands, or run them with `--apply`. Returns the exit status: 0 done, 1 a
/// command failed or not root, 2 bad arguments.
pub fn run(args: &RealServerArgs) -> u8 {
    let cmds = match commands(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsadm realserver: {e}");
            return 2;
        }
    };
    if !args.apply {
        for c in &cmds {
            println!("{}", c.join(" "));
        }
        return 0;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lvsadm realserver: --apply changes addresses and sysctls and needs root");
        return 1;
    }
    for c in &cmds {
        let Some((prog, rest)) = c.split_first() else {
            continue;
        };
        println!("+ {}", c.join(" "));
        match std::process::Command::new(prog).args(rest).status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("lvsadm realserver: `{}` failed ({s})", c.join(" "));
                return 1;
            }
            Err(e) => {
                eprintln!("lvsadm realserver: cannot run {prog}: {e}");
                return 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> RealServerArgs {
        RealServerArgs::try_parse_from(core::iter::once("x").chain(list.iter().copied())).unwrap()
    }

    #[test]
    fn tun_setup() {
        let c = commands(&args(&["--tun", "192.0.2.10"])).unwrap();
        let lines: Vec<String> = c.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "modprobe ipip",
                "ip link set tunl0 up",
                "ip addr add 192.0.2.10/32 dev tunl0",
                "sysctl -w net.ipv4.conf.tunl0.rp_filter=0",
                "sysctl -w net.ipv4.conf.all.rp_filter=0",
            ]
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(RealServerArgs::try_parse_from(["x"]).is_err());
        assert!(
            RealServerArgs::try_parse_from(["x", "--dr", "1.2.3.4", "--tun", "1.2.3.4"]).is_err()
        );
        assert!(commands(&args(&["--dr", "192.0.2.1", "--dev", "a;b"])).is_err());
        assert!(commands(&args(&["--tun", "2001:db8::1"])).is_err());
        let v6 = commands(&args(&["--dr", "2001:db8::1"])).unwrap();
        assert_eq!(
            v6,
            [["ip", "-6", "addr", "add", "2001:db8::1/128", "dev", "lo"]]
        );
    }
}
