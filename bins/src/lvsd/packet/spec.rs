//! Packet mode's part of the configuration file: the data plane (`mode`, `interface`,
//! `tunnel_source`) and each real server's forwarding method, as [`config`](super::super::config)
//! parses them.

use core::net::{Ipv4Addr, SocketAddr};
use std::collections::BTreeMap;

use lvs_core::director::Forward;
use toml::Spanned;

use super::super::config::{ConfigError, SvcKey, err_at};

/// Which data plane carries the virtual services.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DataPlane {
    /// Proxy mode (the default): sockets, full-NAT, no root.
    #[default]
    Proxy,
    /// Packet mode: AF_PACKET on an interface and the `lvs-core` director.
    Packet(PacketSpec),
}

/// Packet mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSpec {
    /// The interface clients and real servers are reached on.
    pub interface: String,
    /// The outer source address of TUN packets; `None` picks one of the interface's.
    pub tunnel_source: Option<Ipv4Addr>,
    /// Each real server's forwarding method (absent: NAT).
    pub forward: BTreeMap<(SvcKey, SocketAddr), Forward>,
}

impl PacketSpec {
    /// How real server `real` of service `svc` is reached (NAT unless configured).
    pub fn forward_of(&self, svc: SvcKey, real: SocketAddr) -> Forward {
        self.forward
            .get(&(svc, real))
            .copied()
            .unwrap_or(Forward::Nat)
    }
}

/// ipvsadm's name of a forwarding method in `-L -n` (`Masq`, `Route`, `Tunnel`).
pub fn forward_label(f: Forward) -> &'static str {
    match f {
        Forward::Nat => "Masq",
        Forward::Dr => "Route",
        Forward::Tun => "Tunnel",
    }
}

pub(crate) fn parse_plane(
    raw_mode: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
    tunnel_source: Option<Spanned<String>>,
    text: &str,
) -> Result<DataPlane, ConfigError> {
    let packet = match &raw_mode {
        None => false,
        Some(m) => match m.get_ref().as_str() {
            "proxy" => false,
            "packet" => true,
            other => return err_at(text, m.span(), format!("mode {other:?} (proxy or packet)")),
        },
    };
    if !packet {
        for (what, v) in [("interface", &interface), ("tunnel_source", &tunnel_source)] {
            if let Some(v) = v {
                return err_at(text, v.span(), format!("{what} needs mode = \"packet\""));
            }
        }
        return Ok(DataPlane::Proxy);
    }
    let Some(ifname) = interface else {
        let span = raw_mode.map(|m| m.span()).unwrap_or_default();
        return err_at(text, span, "mode = \"packet\" needs interface = \"NAME\"");
    };
    let name = ifname.get_ref();
    if name.is_empty() || name.len() >= 16 || name.contains(['/', ' ', '\0']) {
        return err_at(
            text,
            ifname.span(),
            format!("interface {name:?} is not an interface name"),
        );
    }
    let tunnel_source = match tunnel_source {
        None => None,
        Some(t) => match t.get_ref().parse::<Ipv4Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                let msg = format!("tunnel_source {:?} is not an IPv4 address", t.get_ref());
                return err_at(text, t.span(), msg);
            }
        },
    };
    Ok(DataPlane::Packet(PacketSpec {
        interface: name.clone(),
        tunnel_source,
        forward: BTreeMap::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::super::config::{Config, ConfigFile};
    use super::*;

    #[test]
    fn packet_mode_takes_forwarding_methods() {
        let text = r#"
            mode = "packet"
            interface = "eth0"
            [[service]]
            listen = "10.0.1.100:80"
            [[service.real]]
            address = "10.0.2.11:80"
            forward = "dr"
            [[service.real]]
            address = "10.0.2.12:80"
            forward = "tun"
            [[service.real]]
            address = "10.0.2.13:8080"
        "#;
        let f = ConfigFile::parse(text).unwrap();
        let DataPlane::Packet(p) = &f.plane else {
            panic!("packet mode expected")
        };
        assert_eq!((p.interface.as_str(), p.tunnel_source), ("eth0", None));
        let key = f.config.services[0].key;
        let real = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert_eq!(p.forward_of(key, real("10.0.2.11:80")), Forward::Dr);
        assert_eq!(p.forward_of(key, real("10.0.2.12:80")), Forward::Tun);
        assert_eq!(p.forward_of(key, real("10.0.2.13:8080")), Forward::Nat);
        assert!(Config::parse(text).unwrap_err().0.contains("proxy-mode"));
        let proxy = ConfigFile::parse("[[service]]\nlisten = \"127.0.0.1:1\"").unwrap();
        assert_eq!(proxy.plane, DataPlane::Proxy);
    }

    #[test]
    fn mode_errors_name_their_line() {
        let dr_in_proxy = "[[service]]\nlisten = \"127.0.0.1:80\"\n[[service.real]]\n\
                           address = \"127.0.0.1:80\"\nforward = \"dr\"\n";
        let packet = "mode = \"packet\"\ninterface = \"eth0\"\n";
        let cases = [
            (
                dr_in_proxy.to_owned(),
                "line 5: ",
                "needs mode = \"packet\"",
            ),
            (
                "mode = \"kernel\"".to_owned(),
                "line 1: ",
                "proxy or packet",
            ),
            (
                "mode = \"packet\"".to_owned(),
                "line 1: ",
                "needs interface",
            ),
            (
                "\ninterface = \"eth0\"".to_owned(),
                "line 2: ",
                "needs mode",
            ),
            (format!("{packet}tunnel_source = \"x\""), "line 3: ", "IPv4"),
            (
                "mode = \"packet\"\ninterface = \"a/b\"".to_owned(),
                "line 2: ",
                "interface name",
            ),
            (
                format!(
                    "{packet}[[service]]\nlisten = \"10.0.0.1:80\"\n[[service.real]]\n\
                         address = \"10.0.0.2:81\"\nforward = \"tun\""
                ),
                "line 7: ",
                "keeps the virtual port",
            ),
            (
                format!(
                    "{packet}[[service]]\nlisten = \"10.0.0.1:80\"\n[[service.real]]\n\
                         address = \"10.0.0.2:80\"\nforward = \"gre\""
                ),
                "line 7: ",
                "nat, dr or tun",
            ),
            (
                format!("{packet}[[service]]\nlisten = \"[::1]:80\""),
                "",
                "IPv4",
            ),
        ];
        for (text, line, want) in cases {
            let e = ConfigFile::parse(&text).unwrap_err().0;
            assert!(e.starts_with(line) && e.contains(want), "{text:?}: {e}");
        }
        let dir = std::env::temp_dir().join(format!("lvsd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, dr_in_proxy).unwrap();
        let e = ConfigFile::load(&path).unwrap_err().0;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(e.starts_with(&format!("{}:5: ", path.display())), "{e}");
    }
}
