//! Who is in the room, who just came or went, and who is typing.

use leptos::prelude::*;

/// A person arriving in or leaving the room, as the wall announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub username: String,
    pub joined: bool,
}

/// How many notices are shown one by one; earlier ones collapse into a count.
const NOTICES_SHOWN: usize = 3;

/// The notice lines to show, newest first: the last few in full, the rest as one summary.
pub fn notice_lines(notices: &[Notice]) -> Vec<String> {
    let mut lines: Vec<String> = notices
        .iter()
        .rev()
        .take(NOTICES_SHOWN)
        .map(|n| format!("{} {}", n.username, if n.joined { "joined" } else { "left" }))
        .collect();
    let earlier = &notices[..notices.len().saturating_sub(NOTICES_SHOWN)];
    if !earlier.is_empty() {
        let came = earlier.iter().filter(|n| n.joined).count();
        let went = earlier.len() - came;
        let mut parts = Vec::new();
        if came > 0 {
            parts.push(format!("{came} joined"));
        }
        if went > 0 {
            parts.push(format!("{went} left"));
        }
        lines.push(format!("earlier: {}", parts.join(", ")));
    }
    lines
}

/// "alice is typing…", "alice and bob are typing…", "4 people are typing…".
pub fn typing_label(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        [a, b, c] => Some(format!("{a}, {b} and {c} are typing…")),
        many => Some(format!("{} people are typing…", many.len())),
    }
}

/// The people here now, one chip each.
#[component]
pub fn PresenceList(
    #[prop(into)] people: Signal<Vec<String>>,
    #[prop(into)] me: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <ul class="presence" data-testid="presence" aria-label="Here now">
            <For each=move || people.get() key=|name| name.clone() let:name>
                {
                    let mine = name.clone();
                    view! {
                        <li class=move || if me.get().as_deref() == Some(mine.as_str()) { "chip me" } else { "chip" }>
                            {name}
                        </li>
                    }
                }
            </For>
        </ul>
    }
}

/// Arrivals and departures, newest first, collapsed when many.
#[component]
pub fn NoticeList(#[prop(into)] notices: Signal<Vec<Notice>>) -> impl IntoView {
    view! {
        <ul class="notices" data-testid="notices">
            {move || notices.with(|n| notice_lines(n)).into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str, joined: bool) -> Notice {
        Notice { username: name.into(), joined }
    }

    #[test]
    fn few_notices_show_one_by_one_newest_first() {
        assert_eq!(notice_lines(&[n("ann", true), n("bob", false)]), ["bob left", "ann joined"]);
    }

    #[test]
    fn many_notices_collapse() {
        let many = [n("a", true), n("b", true), n("c", false), n("d", true), n("e", true), n("f", false)];
        assert_eq!(notice_lines(&many), ["f left", "e joined", "d joined", "earlier: 2 joined, 1 left"]);
    }

    #[test]
    fn typing_labels() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_label(&[]), None);
        assert_eq!(typing_label(&names(&["al"])).unwrap(), "al is typing…");
        assert_eq!(typing_label(&names(&["al", "bo"])).unwrap(), "al and bo are typing…");
        assert_eq!(typing_label(&names(&["a", "b", "c", "d"])).unwrap(), "4 people are typing…");
    }
}
