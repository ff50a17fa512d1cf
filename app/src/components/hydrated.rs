//! Whether the page's code has taken over. Before that, a form's submit button would submit
//! the server-rendered form to the server (a reload that loses what was typed, and does
//! nothing the page promised): such buttons stay disabled until then. A button that is
//! disabled also stops Enter in the form's fields from submitting it.

use leptos::prelude::*;

/// False as the server renders the page and while the browser hydrates it; true once it
/// has (effects run only in the browser, after hydration).
pub fn use_hydrated() -> Signal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated.into()
}
