//! Shown for any path no route matches.

use crate::error::{AppError, ErrorPage};
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! { <ErrorPage error=AppError::NotFound/> }
}
