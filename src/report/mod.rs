//! Renderers for the check report. The probe's outcomes carry no secrets; the renderers only
//! lay them out.

pub mod human;
pub mod inspect;
pub mod json;
