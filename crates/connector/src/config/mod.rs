//! Daemon and tenant configuration.
