//! Plans: what is known before apply, what replaces, and no perpetual diffs.
