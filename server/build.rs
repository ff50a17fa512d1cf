//! Rebuilds the binary when a migration changes: `sqlx::migrate!` embeds them at compile
//! time, and cargo does not otherwise watch the directory.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
