//! oemr-doctor: set up, diagnose and repair OpenEMR SMART Backend Services clients.
//!
//! The binary is a thin shell over these modules: `openemr` holds OpenEMR's rules, `keys` the
//! RSA and JWKS code, `db` the database, `probe` the staged check, `sandbox` the emulator and
//! `report` the renderers.

pub mod assertion;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod keys;
pub mod net;
pub mod openemr;
pub mod probe;
pub mod report;
pub mod sandbox;
pub mod secrets;
