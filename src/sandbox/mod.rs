//! An emulator of OpenEMR's OAuth2 and FHIR Patient endpoints (family F1, 6.1.0 to 7.0.3),
//! for development and tests. It is not OpenEMR and holds no real data.
