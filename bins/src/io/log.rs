//! Logging set-up for the binaries: `tracing` events written to stderr by tracing-subscriber,
//! filtered by `RUST_LOG` when it is set, else by a verbosity count (`-v`, `-vv` ...).

use tracing_subscriber::EnvFilter;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// `RUST_LOG` (or the given directive) does not parse.
    #[error("invalid log filter {directive:?}")]
    Filter {
        /// The directive as given.
        directive: String,
        /// The parser's complaint.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed.
    #[error("a logger is already installed")]
    AlreadySet(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The filter directive for a verbosity count: 0 `warn`, 1 `info`, 2 `debug`, 3 and more
/// `trace`.
pub fn directive_for(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// The filter to use: `rust_log` when it is set and not blank, else [`directive_for`].
///
/// ```
/// use lvs_bins::io::log_filter;
/// assert_eq!(log_filter(1, None).unwrap().to_string(), "info");
/// assert_eq!(log_filter(0, Some("lvs_bins=debug")).unwrap().to_string(), "lvs_bins=debug");
/// assert!(log_filter(0, Some("=[")).is_err());
/// ```
pub fn log_filter(verbosity: u8, rust_log: Option<&str>) -> Result<EnvFilter, LogError> {
    let directive = match rust_log {
        Some(s) if !s.trim().is_empty() => s,
        _ => directive_for(verbosity),
    };
    EnvFilter::try_new(directive).map_err(|source| LogError::Filter {
        directive: directive.to_owned(),
        source,
    })
}

/// Install the global subscriber: stderr, filtered by `RUST_LOG` if set, else by `verbosity`.
pub fn init_logging(verbosity: u8) -> Result<(), LogError> {
    let env = std::env::var("RUST_LOG").ok();
    let filter = log_filter(verbosity, env.as_deref())?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(LogError::AlreadySet)
}
