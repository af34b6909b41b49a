//! The spec language: the TOML text ([`spec`]), parameters from defaults, `--values` and `--set`
//! ([`params`]), the `{{...}}` templates ([`template`], parsed once per process: [`compiled`]), quantities and durations ([`quantity`]),
//! image references ([`image`]), the grammar of names ([`names`]), the one policy for reading
//! files ([`read`]), and the templates written in Go's template language for charts ([`go_template`]). [`berth_resolve`] turns all of it into the [`berth_model`]. It uses only
//! [`berth_diagnostic`]; nothing here knows the model or a backend.

pub mod compiled;
pub mod go_template;
pub mod image;
pub mod names;
pub mod params;
pub mod quantity;
pub mod read;
pub mod spec;
pub mod template;
