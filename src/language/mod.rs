//! The spec language: the TOML text with its spans ([`source`], [`spec`]), parameters from
//! defaults, `--values` and `--set` ([`params`]), the `{{...}}` templates ([`template`]),
//! quantities and durations ([`quantity`]), image references ([`image`]), and [`resolve`], which
//! turns all of it into the [`crate::model`]. It may use the model and the diagnostics and
//! input-error ids of [`crate::engine`]; nothing here knows a backend.

pub mod image;
pub mod names;
pub mod params;
pub mod quantity;
pub mod read;
pub mod resolve;
pub mod source;
pub mod spec;
pub mod template;
