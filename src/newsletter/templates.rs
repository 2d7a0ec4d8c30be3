//! The built-in templates, compiled into the binary so that the repo's `templates/` and the
//! binary agree; a file in `templates_dir` with the same name overrides the default.

/// (file name, built-in text).
pub const DEFAULTS: &[(&str, &str)] = &[];
