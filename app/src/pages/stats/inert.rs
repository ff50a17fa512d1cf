//! The stats page's browser half as the server renders it: no numbers until the browser reads them.

use leptos::prelude::*;
use std::collections::BTreeMap;

pub fn start(_: RwSignal<Option<BTreeMap<String, f64>>>) {}
