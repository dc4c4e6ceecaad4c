//! Each OpenEMR family the sandbox plays, asserted over real HTTP on 127.0.0.1 with client
//! assertions signed at test time: status, content type, error fields and body shape for
//! every behaviour `shared/openemr/behavior.md` §10 names per family. F1 itself is held to
//! the recordings by the conformance test.

mod cli;
mod f0;
mod f2_discovery;
mod f2_fhir;
mod f2_scopes;
mod f2_token;
mod f3_grants;
mod f3_keys;
mod harness;
mod jwks_server;
