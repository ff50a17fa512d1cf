//! What can make a page fail, and the one page that shows it: every error page looks the
//! same and answers with its error's HTTP status.

use leptos::prelude::*;

/// Why a page cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// No route matches the path.
    #[error("Page not found")]
    NotFound,
    /// The path names a room, but not by a valid room name; says why not.
    #[error("No such room")]
    InvalidRoom(String),
}

impl AppError {
    /// The status the server answers with when a page shows this error.
    #[cfg(feature = "ssr")]
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            AppError::NotFound | AppError::InvalidRoom(_) => http::StatusCode::NOT_FOUND,
        }
    }

    /// What the page says under the title.
    fn detail(&self) -> String {
        match self {
            AppError::NotFound => "There is nothing here.".to_owned(),
            AppError::InvalidRoom(reason) => reason.clone(),
        }
    }
}

/// The page for any error. On the server it also sets the response's status; in the
/// browser (after navigating) there is no response to set.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status_code());
    }
    view! {
        <section class="panel">
            <h1>{error.to_string()}</h1>
            <p class="field-error">{error.detail()}</p>
            <p><a href="/">"Back to the rooms"</a></p>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::AppError;

    #[test]
    fn every_error_a_page_can_show_is_a_404_with_its_own_title() {
        let invalid = AppError::InvalidRoom("room names are lowercase".into());
        assert_eq!(AppError::NotFound.status_code(), http::StatusCode::NOT_FOUND);
        assert_eq!(invalid.status_code(), http::StatusCode::NOT_FOUND);
        assert_eq!(AppError::NotFound.to_string(), "Page not found");
        assert_eq!(invalid.to_string(), "No such room");
        assert_eq!(invalid.detail(), "room names are lowercase");
    }
}
