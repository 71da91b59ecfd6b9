//! Image inlining: `<ac:image>` macros replaced by `data:` URIs with a byte-exact splice.
